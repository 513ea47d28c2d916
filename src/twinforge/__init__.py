"""twinforge: an open-source digital-twin platform."""

__version__ = "0.1.0"
