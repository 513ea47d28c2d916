"""The twin graph: models, twins, relationships and components, with JSON Patch and ETags.

`TwinGraph` is the facade; its parts (`ModelCatalog`, `Twins`, `Relationships`,
`Queries`) can also be used on their own.
"""

from twinforge.graph.catalog import ModelCatalog, ModelInfo
from twinforge.graph.jsonpatch import PatchError, apply_patch
from twinforge.graph.queries import Queries
from twinforge.graph.records import new_etag, utc_now
from twinforge.graph.relationships import Relationships
from twinforge.graph.twingraph import TwinGraph
from twinforge.graph.twins import Twins
from twinforge.graph.updates import Refusal, RefusalKind, Update, UpdateOutcome

__all__ = ["ModelCatalog", "ModelInfo", "PatchError", "Queries", "Refusal", "RefusalKind", "Relationships",
           "TwinGraph", "Twins", "Update", "UpdateOutcome", "apply_patch", "new_etag", "utc_now"]
