"""The DTDL language extensions as tables: each context, the DTDL versions it may be used
with, and the adjunct types it defines (what each may co-type, the properties it adds and
the rules on its neighbours).

Built from the extension specifications (Azure/opendigitaltwins-dtdl, DTDL/v3 and DTDL/v4)
and the set DTDLParser supports: QuantitativeTypes 1-3, Historization 1-2, Annotation 1-2,
Overriding 1-2, Mqtt 1-4, Requirement 1-2, the IoT Central (v2) and IoT Operations (v4)
partner extensions, and the Onvif limit extension.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# MQTT topic patterns and service group ids, as the Mqtt extension restricts them: labels of
# printable ASCII without space, ", +, #, {, } or /, or a {token} (optionally {prefix:token});
# the first label may not start with '$'.
_LABEL_CHARS = r"[!$-*,-.0-z|~]"
_TOKEN = r"\{(?:[A-Za-z]+:)?[A-Za-z]+\}"
TOPIC = re.compile(
    rf"^(?:[!%-*,-.0-z|~]{_LABEL_CHARS}*|{_TOKEN})(?:/(?:{_LABEL_CHARS}+|{_TOKEN}))*$"
)
GROUP_ID = re.compile(rf"^{_LABEL_CHARS}+$")
IDENTIFIER = re.compile(r"^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class AdjunctProp:
    """A property an adjunct type adds to the element it co-types."""

    kind: str  # string | duration | integer | decimal | term
    required: bool = False
    pattern: re.Pattern[str] | None = None
    max_length: int | None = None
    minimum: int | None = None
    unique: bool = False  # unique among the elements held by the same property of the parent
    describe: str = ""  # how an error describes a value the pattern refuses


@dataclass(frozen=True, slots=True)
class Adjunct:
    """An adjunct type: where it may appear and what it brings."""

    name: str
    cotypes: frozenset[str]
    props: Mapping[str, AdjunctProp] = field(default_factory=dict)
    requires: frozenset[str] = frozenset()  # co-types the same element must also have
    excludes: frozenset[str] = frozenset()  # co-types the same element may not have
    # What the element's schema must be: DTDL classes (Object, Enum) or kinds of primitive
    # ("numeric", "string", "vector", "geospatial").
    schema: frozenset[str] = frozenset()
    schema_cotype: str | None = None  # the schema must be an Object co-typed this
    # The element must be among the `fields` of an Object co-typed one of these (and be the
    # only one there co-typed this).
    parents: frozenset[str] = frozenset()
    children: frozenset[str] = frozenset()  # each of the Object's fields must be co-typed one of these


@dataclass(frozen=True, slots=True)
class Extension:
    """One extension context."""

    context: str
    versions: frozenset[int]
    adjuncts: Mapping[str, Adjunct] = field(default_factory=dict)
    quantitative: bool = False  # brings the semantic types and units
    tolerant: bool = False  # brings terms left unchecked (IoT Central's display hints)


def _adjuncts(*items: Adjunct) -> dict[str, Adjunct]:
    return {a.name: a for a in items}


_PT = frozenset({"Property", "Telemetry"})
_VALUE_HOLDERS = frozenset({"CommandRequest", "CommandResponse", "Field", "MapValue", "Property", "Telemetry"})


def _historization() -> dict[str, Adjunct]:
    return _adjuncts(Adjunct("Historized", _PT))


def _annotation() -> dict[str, Adjunct]:
    return _adjuncts(Adjunct("ValueAnnotation", _PT, {"annotates": AdjunctProp("string", required=True)}))


def _overriding() -> dict[str, Adjunct]:
    return _adjuncts(Adjunct("Override", frozenset({"Property"}), {"overrides": AdjunctProp("term", required=True)},
                             requires=frozenset({"ValueAnnotation"})))


def _mqtt(version: int) -> dict[str, Adjunct]:
    topic = AdjunctProp("string", pattern=TOPIC, describe="an MQTT topic pattern")
    group = AdjunctProp("string", pattern=GROUP_ID, describe="a service group id")
    mqtt_props: dict[str, AdjunctProp] = {"payloadFormat": AdjunctProp("string", required=True),
                                          "telemetryTopic": topic, "commandTopic": topic}
    if version >= 2:
        mqtt_props |= {"telemServiceGroupId": group, "cmdServiceGroupId": group}
    out = [
        Adjunct("Mqtt", frozenset({"Interface"}), mqtt_props),
        Adjunct("Idempotent", frozenset({"Command"})),
        Adjunct("Cacheable", frozenset({"Command"}), {"ttl": AdjunctProp("duration", required=True)},
                requires=frozenset({"Idempotent"})),
        Adjunct("Indexed", frozenset({"EnumValue", "Field", "Telemetry"}),
                {"index": AdjunctProp("integer", required=True, minimum=1, unique=True)}),
    ]
    if version >= 2:
        out.append(Adjunct("Transparent", frozenset({"CommandRequest", "CommandResponse"}),
                           schema=frozenset({"Object"})))
    if version >= 3:
        results = frozenset({"NormalResult", "ErrorResult"} | ({"ErrorCode", "ErrorInfo"} if version >= 4 else set()))
        not_required = frozenset({"Required"})
        out += [
            Adjunct("Result", frozenset({"Object"}), children=results),
            Adjunct("NormalResult", frozenset({"Field"}), parents=frozenset({"Result"}), excludes=not_required),
            # The extension suggests, but does not require, an Error-typed Object as its schema.
            Adjunct("ErrorResult", frozenset({"Field"}), parents=frozenset({"Result"}), excludes=not_required),
            Adjunct("Error", frozenset({"Object"})),
            Adjunct("ErrorMessage", frozenset({"Field"}), parents=frozenset({"Error"}), schema=frozenset({"string"})),
        ]
    if version >= 4:
        either = frozenset({"Result", "Error"})
        out += [
            Adjunct("ErrorCode", frozenset({"Field"}), parents=either, schema=frozenset({"Enum"})),
            Adjunct("ErrorInfo", frozenset({"Field"}), parents=either),
            Adjunct("Indirect", frozenset({"Field"}), excludes=frozenset({"Required"})),
        ]
    return _adjuncts(*out)


def _requirement(version: int) -> dict[str, Adjunct]:
    where = frozenset({"Field"} | ({"Property"} if version >= 2 else set()))
    return _adjuncts(Adjunct("Required", where))


def _quantitative(version: int) -> dict[str, Adjunct]:
    if version < 3:
        return {}
    return _adjuncts(Adjunct("UnitPrefix", frozenset({"EnumValue"}),
                             {"exponent": AdjunctProp("integer", required=True),
                              "symbol": AdjunctProp("string", required=True)}))


def _iotcentral() -> dict[str, Adjunct]:
    return _adjuncts(
        Adjunct("AccelerationVector", _PT, schema=frozenset({"vector"})),
        Adjunct("VelocityVector", _PT, schema=frozenset({"vector"})),
        Adjunct("Location", _PT, schema=frozenset({"geospatial", "geopoint"})),
        Adjunct("Event", _PT, schema=frozenset({"numeric", "string"})),
        Adjunct("State", _PT, schema=frozenset({"Enum"})),
    )


def _iotoperations() -> dict[str, Adjunct]:
    text = AdjunctProp("string", required=True, max_length=128)
    numeric = frozenset({"numeric"})
    return _adjuncts(
        Adjunct("Composite", frozenset({"Interface"}), {"ontology": text}, excludes=frozenset({"Event"})),
        Adjunct("Congruence", frozenset({"Array", "Enum", "Interface", "Map", "Object"}), {"typeRef": text}),
        Adjunct("Detail", frozenset({"Object"})),
        Adjunct("Event", frozenset({"Interface"}), excludes=frozenset({"Composite"})),
        Adjunct("GroupMember", frozenset({"Command"}),
                {"group": AdjunctProp("string", required=True, max_length=128, pattern=IDENTIFIER,
                                      describe="an identifier")}),
        Adjunct("HasCapability", frozenset({"Relationship"}), excludes=frozenset({"HasComponent"})),
        Adjunct("HasComponent", frozenset({"Relationship"}), excludes=frozenset({"HasCapability"})),
        Adjunct("Limited", _VALUE_HOLDERS, {"minimum": AdjunctProp("decimal"), "maximum": AdjunctProp("decimal")},
                schema=numeric),
        Adjunct("Precise", _VALUE_HOLDERS, {"decimalPlaces": AdjunctProp("integer", required=True, minimum=0)},
                schema=numeric),
        Adjunct("Qualified", frozenset({"Command", "Component", "Field", "Property", "Relationship", "Telemetry"}),
                {"namespace": text}),
        Adjunct("ScaledStatically", _VALUE_HOLDERS, {"scaleFactor": AdjunctProp("decimal", required=True)},
                schema=numeric),
        Adjunct("Subject", frozenset({"Field"}), parents=frozenset({"Detail"})),
    )


_V3 = frozenset({3})
_V34 = frozenset({3, 4})
_V4 = frozenset({4})

EXTENSIONS: dict[str, Extension] = {
    e.context: e
    for e in (
        # QuantitativeTypes 1 is a v3 extension; v4 models also use it (the v4 conformance cases do).
        Extension("dtmi:dtdl:extension:quantitativeTypes;1", _V34, quantitative=True),
        Extension("dtmi:dtdl:extension:quantitativeTypes;2", _V4, quantitative=True),
        Extension("dtmi:dtdl:extension:quantitativeTypes;3", _V4, _quantitative(3), quantitative=True),
        Extension("dtmi:dtdl:extension:historization;1", _V3, _historization()),
        Extension("dtmi:dtdl:extension:historization;2", _V34, _historization()),
        Extension("dtmi:dtdl:extension:annotation;1", _V3, _annotation()),
        Extension("dtmi:dtdl:extension:annotation;2", _V34, _annotation()),
        Extension("dtmi:dtdl:extension:overriding;1", _V3, _overriding()),
        Extension("dtmi:dtdl:extension:overriding;2", _V34, _overriding()),
        Extension("dtmi:dtdl:extension:mqtt;1", _V3, _mqtt(1)),
        Extension("dtmi:dtdl:extension:mqtt;2", _V34, _mqtt(2)),
        Extension("dtmi:dtdl:extension:mqtt;3", _V34, _mqtt(3)),
        Extension("dtmi:dtdl:extension:mqtt;4", _V34, _mqtt(4)),
        Extension("dtmi:dtdl:extension:requirement;1", _V34, _requirement(1)),
        Extension("dtmi:dtdl:extension:requirement;2", _V34, _requirement(2)),
        Extension("dtmi:iotcentral:context;2", frozenset({2}), _iotcentral(), tolerant=True),
        Extension("dtmi:iotoperations:context;4", _V4, _iotoperations()),
    )
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits a limit extension raises above the core DTDL v4 limits."""

    schema_depth: int
    description: int


# The Onvif limit extension (DTDL v4): deeper schemas and longer descriptions. Other limit
# extensions (aio;1) are accepted with the core limits, which their models must then meet.
LIMIT_EXTENSIONS: dict[str, Limits] = {"dtmi:dtdl:limits:onvif;1": Limits(schema_depth=24, description=4096)}


__all__ = ["EXTENSIONS", "LIMIT_EXTENSIONS", "Adjunct", "AdjunctProp", "Extension", "Limits"]
