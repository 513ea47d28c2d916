"""DTDL v2, v3 and v4: parse, resolve and validate interfaces, and check twins against them.

    >>> from twinforge.dtdl import parse_models
    >>> models = parse_models([{
    ...     "@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Room;1", "@type": "Interface",
    ...     "contents": [{"@type": "Property", "name": "temperature", "schema": "double"}]}])
    >>> models.validate_value("dtmi:ex:Room;1", {"temperature": "hot"})
    ["temperature: expected a number, got a string 'hot'"]
"""

from twinforge.dtdl.elements import Element, ModelIssue
from twinforge.dtdl.errors import ModelError
from twinforge.dtdl.model import InterfaceView, ModelSet, Resolve, parse_models

__all__ = ["Element", "InterfaceView", "ModelError", "ModelIssue", "ModelSet", "Resolve", "parse_models"]
