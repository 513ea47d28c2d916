"""The twin graph: models, twins, relationships and components, with JSON Patch and ETags."""

from twinforge.graph.jsonpatch import PatchError, apply_patch
from twinforge.graph.twingraph import ModelInfo, TwinGraph, new_etag, utc_now

__all__ = ["ModelInfo", "PatchError", "TwinGraph", "apply_patch", "new_etag", "utc_now"]
