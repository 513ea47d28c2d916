"""Events: the bus that streams committed changes, and routes that deliver them to sinks."""

from twinforge.events.bus import EventBus, EventFilter, envelope, short_type

__all__ = ["EventBus", "EventFilter", "envelope", "short_type"]
