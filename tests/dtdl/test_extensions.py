"""The standard language extensions: each context with its own versions, and valid and
invalid use of every adjunct type (Historization, Annotation, Overriding, Mqtt, Requirement,
QuantitativeTypes, IoT Operations) and of the Onvif limit extension."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from twinforge.dtdl import ModelError, parse_models
from twinforge.graph import TwinGraph
from twinforge.store import SQLiteStore

HIST = "dtmi:dtdl:extension:historization;1"
ANNO = "dtmi:dtdl:extension:annotation;1"
OVER = "dtmi:dtdl:extension:overriding;1"
QT = "dtmi:dtdl:extension:quantitativeTypes;1"
V3 = "dtmi:dtdl:context;3"
V4 = "dtmi:dtdl:context;4"


def model(*contents: dict[str, Any], extensions: tuple[str, ...] = (HIST, ANNO, OVER, QT),
          dtdl: str = V3, types: Any = "Interface", **extra: Any) -> dict[str, Any]:
    return {"@context": [dtdl, *extensions], "@id": "dtmi:ex:Thermostat;1", "@type": types,
            "contents": list(contents), **extra}


TEMP = {"@type": ["Telemetry", "Temperature", "Historized"], "name": "currentTemp", "schema": "double",
        "unit": "degreeCelsius"}
ACCURACY = {"@type": ["Property", "ValueAnnotation"], "name": "tempAccuracy", "annotates": "currentTemp",
            "schema": "double"}
OVERRIDE = {"@type": ["Property", "ValueAnnotation", "Override"], "name": "tempUnit",
            "annotates": "currentTemp", "overrides": "unit", "schema": "TemperatureUnit", "writable": True}


# -- Historization, Annotation, Overriding ------------------------------------------------


def test_valid_use_of_each_feature_extension() -> None:
    setpoint = {"@type": ["Property", "Historized"], "name": "setPointTemp", "schema": "double", "writable": True}
    models = parse_models([model(TEMP, setpoint, ACCURACY, OVERRIDE)])
    view = models.interface("dtmi:ex:Thermostat;1")
    assert view.properties["tempAccuracy"].props["annotates"] == "currentTemp"
    assert view.properties["tempUnit"].props["overrides"] == "unit"
    assert set(view.properties["setPointTemp"].adjuncts) == {"Historized"}
    # An instance value of the overriding property is a unit of the annotated element's type.
    assert models.validate_twin("dtmi:ex:Thermostat;1", {"tempUnit": "degreeFahrenheit"}) == []
    assert models.validate_twin("dtmi:ex:Thermostat;1", {"tempUnit": "metre"})
    # The second versions of the three, in DTDL v3 and v4.
    v2s = ("dtmi:dtdl:extension:historization;2", "dtmi:dtdl:extension:annotation;2",
           "dtmi:dtdl:extension:overriding;2", "dtmi:dtdl:extension:quantitativeTypes;2")
    parse_models([model(TEMP, setpoint, ACCURACY, OVERRIDE, extensions=v2s, dtdl=V4)])
    parse_models([model(TEMP, setpoint, ACCURACY, OVERRIDE, extensions=(*v2s[:3], QT), dtdl=V3)])


def test_an_override_may_annotate_contents_inherited_through_extends() -> None:
    base = {"@context": [V4, "dtmi:dtdl:extension:quantitativeTypes;2"], "@id": "dtmi:ex:Base;1",
            "@type": "Interface", "contents": [{k: v for k, v in TEMP.items()} | {"@type": ["Telemetry", "Temperature"]}]}
    sensor = {"@context": [V4, "dtmi:dtdl:extension:quantitativeTypes;2", "dtmi:dtdl:extension:annotation;2",
                           "dtmi:dtdl:extension:overriding;2"],
              "@id": "dtmi:ex:Sensor;1", "@type": "Interface", "extends": "dtmi:ex:Base;1", "contents": [OVERRIDE]}
    parse_models([base, sensor])


@pytest.mark.parametrize(("contents", "extensions", "message"), [
    ([{"@type": ["Command", "Historized"], "name": "reset"}], (HIST,), "Historized may co-type only"),
    ([TEMP, {"@type": ["Property", "ValueAnnotation"], "name": "acc", "schema": "double"}], (HIST, QT, ANNO),
     "requires 'annotates'"),
    ([TEMP, {**ACCURACY, "annotates": "nosuch"}], (HIST, QT, ANNO), "not another Property or Telemetry"),
    ([TEMP, {**ACCURACY, "annotates": "tempAccuracy"}], (HIST, QT, ANNO), "not another Property or Telemetry"),
    # A ValueAnnotation may not annotate another ValueAnnotation.
    ([TEMP, ACCURACY, {**ACCURACY, "name": "acc2", "annotates": "tempAccuracy"}], (HIST, QT, ANNO),
     "not itself a ValueAnnotation"),
    ([TEMP, {"@type": ["Property", "Override"], "name": "o", "overrides": "unit", "schema": "string"}],
     (HIST, QT, ANNO, OVER), "only if it is also ValueAnnotation"),
    ([TEMP, {**ACCURACY, "@type": ["Telemetry", "ValueAnnotation", "Override"], "overrides": "unit"}],
     (HIST, QT, ANNO, OVER), "Override may co-type only a Property"),
    ([{"@type": ["Property", "Historized"], "name": "p", "schema": "double", "annotates": "x"}], (HIST,),
     "'annotates'"),
    ([{"@type": ["Property", "Historized"], "name": "p", "schema": "double"}], (), "Historized"),
    # `overrides` must name an extension property the annotated element has ...
    ([TEMP, {**OVERRIDE, "overrides": "displayName"}], (HIST, QT, ANNO, OVER),
     "not an extension property of 'currentTemp'"),
    ([{"@type": "Telemetry", "name": "currentTemp", "schema": "double"}, OVERRIDE], (QT, ANNO, OVER),
     "not an extension property of 'currentTemp' \\(it has: none\\)"),
    # ... once, with a schema of the overridden property's type.
    ([TEMP, OVERRIDE, {**OVERRIDE, "name": "tempUnit2"}], (HIST, QT, ANNO, OVER), "overridden twice"),
    ([TEMP, {**OVERRIDE, "schema": "string"}], (HIST, QT, ANNO, OVER), "needs schema TemperatureUnit"),
    ([TEMP, {**OVERRIDE, "schema": "LengthUnit"}], (HIST, QT, ANNO, OVER), "needs schema TemperatureUnit"),
])
def test_misuse_is_refused(contents: list[dict[str, Any]], extensions: tuple[str, ...], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        parse_models([model(*contents, extensions=extensions)])


@pytest.mark.parametrize(("context", "dtdl"), [
    ("dtmi:dtdl:extension:historization;1", V4),   # version 1 is for DTDL v3 only
    ("dtmi:dtdl:extension:annotation;1", V4),
    ("dtmi:dtdl:extension:mqtt;1", V4),
    ("dtmi:dtdl:extension:quantitativeTypes;2", V3),  # version 2 is for DTDL v4 only
    ("dtmi:dtdl:extension:requirement;1", "dtmi:dtdl:context;2"),
    ("dtmi:iotoperations:context;4", V3),
])
def test_each_extension_version_is_tied_to_its_dtdl_versions(context: str, dtdl: str) -> None:
    with pytest.raises(ModelError, match=r"undefined extension context .* \(it is defined for DTDL"):
        parse_models([model(extensions=(context,), dtdl=dtdl)])


# -- Mqtt ---------------------------------------------------------------------------------

def mqtt(version: int, *contents: dict[str, Any], dtdl: str = V3, **props: Any) -> dict[str, Any]:
    base = {"payloadFormat": "Json/ecma/404", "telemetryTopic": "vehicles/{modelId}/{senderId}/telemetry",
            "commandTopic": "vehicles/{executorId}/command/{commandName}"}
    return model(*contents, extensions=(f"dtmi:dtdl:extension:mqtt;{version}",), dtdl=dtdl,
                 types=["Interface", "Mqtt"], **(base | props))


GET_SPEED = {"@type": ["Command", "Idempotent", "Cacheable"], "name": "getSpeed", "ttl": "PT15S",
             "response": {"name": "mph", "schema": "integer"}}
INDEXED = [{"@type": ["Telemetry", "Indexed"], "name": "distance", "schema": "double", "index": 3},
           {"@type": ["Telemetry", "Indexed"], "name": "color", "schema": "string", "index": 2}]
TRANSPARENT = {"@type": "Command", "name": "display", "request": {
    "@type": ["CommandRequest", "Transparent"], "name": "announcement",
    "schema": {"@type": "Object", "fields": [{"name": "text", "schema": "string"}]}}}


def result_command(fields: list[dict[str, Any]], version: int = 3) -> dict[str, Any]:
    return {"@type": "Command", "name": "increment", "response": {
        "name": "incrementResponse", "schema": {"@type": ["Object", "Result"], "fields": fields}}}


COUNTER_ERROR = {"@type": ["Object", "Error"], "fields": [
    {"@type": ["Field", "ErrorMessage"], "name": "explanation", "schema": "string"},
    {"name": "condition", "schema": "integer"}]}
RESULT_FIELDS = [{"@type": ["Field", "NormalResult"], "name": "counterValue", "schema": "integer"},
                 {"@type": ["Field", "ErrorResult"], "name": "counterError", "schema": COUNTER_ERROR}]


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_mqtt_interfaces_of_every_version(version: int) -> None:
    contents: list[dict[str, Any]] = [*INDEXED, GET_SPEED]
    props: dict[str, Any] = {}
    if version >= 2:
        contents.append(TRANSPARENT)
        props = {"telemServiceGroupId": "telemetry-group", "cmdServiceGroupId": "cmd-group"}
    if version >= 3:
        contents.append(result_command(RESULT_FIELDS))
    dtdl = V3 if version == 1 else V4
    models = parse_models([mqtt(version, *contents, dtdl=dtdl, **props)])
    root = models.element("dtmi:ex:Thermostat;1")
    assert root is not None and "Mqtt" in root.adjuncts
    assert root.props["payloadFormat"] == "Json/ecma/404"


@pytest.mark.parametrize("version", [3, 4])
def test_result_objects_as_the_specification_examples_use_them(version: int) -> None:
    """The Result example: the ErrorResult's schema named by reference to an Error object in the
    interface's schemas; the extension suggests an Error-typed schema but does not require it."""
    error_id = "dtmi:ex:Thermostat:CounterError;1"
    by_ref = {**RESULT_FIELDS[1], "schema": error_id}
    doc = mqtt(version, result_command([RESULT_FIELDS[0], by_ref]), dtdl=V4)
    doc["schemas"] = [{**COUNTER_ERROR, "@id": error_id}]
    models = parse_models([doc])
    assert "Error" in models.element(error_id).adjuncts  # type: ignore[union-attr]
    plain = {**RESULT_FIELDS[1], "schema": {"@type": "Object", "fields": [{"name": "why", "schema": "string"}]}}
    parse_models([mqtt(version, result_command([RESULT_FIELDS[0], plain]), dtdl=V4)])
    text = {**RESULT_FIELDS[1], "schema": "string"}
    parse_models([mqtt(version, result_command([RESULT_FIELDS[0], text]), dtdl=V4)])


@pytest.mark.parametrize(("version", "contents", "props", "message"), [
    (1, [], {"payloadFormat": None}, "requires 'payloadFormat'"),
    (2, [], {"telemetryTopic": "$sys/{senderId}"}, "not an MQTT topic pattern"),
    (2, [], {"commandTopic": "a/+/b"}, "not an MQTT topic pattern"),
    (2, [], {"commandTopic": "a/{bad token}"}, "not an MQTT topic pattern"),
    (2, [], {"telemServiceGroupId": "has space"}, "not a service group id"),
    (1, [], {"telemServiceGroupId": "g"}, "undefined term 'telemServiceGroupId'"),  # added in version 2
    (2, [{**GET_SPEED, "@type": ["Command", "Cacheable"]}], {}, "only if it is also Idempotent"),
    (2, [{**GET_SPEED, "ttl": "15 seconds"}], {}, "not an ISO 8601 duration"),
    (2, [{**GET_SPEED, "ttl": None}], {}, "requires 'ttl'"),
    (2, [{**INDEXED[0], "index": 0}], {}, "'index' must be at least 1"),
    (2, [{**INDEXED[0], "index": 2.5}], {}, "'index' must be an integer"),
    (2, [INDEXED[0], {**INDEXED[1], "index": 3}], {}, "'index' 3 is already used"),
    (2, [{"@type": ["Property", "Indexed"], "name": "p", "schema": "double", "index": 1}], {},
     "Indexed may co-type only"),
    (2, [{"@type": ["Command", "Idempotent"], "name": "c", "request": {
        "@type": ["CommandRequest", "Transparent"], "name": "r", "schema": "string"}}], {},
     "co-typed Transparent must have a schema that is Object"),
    (1, [TRANSPARENT], {}, "not a DTDL type"),  # Transparent came with version 2
    (3, [result_command([RESULT_FIELDS[0], {"name": "plain", "schema": "string"}])], {},
     "must be co-typed ErrorResult or NormalResult"),
    (3, [result_command([RESULT_FIELDS[0], {**RESULT_FIELDS[0], "name": "second"}])], {},
     "only one field of an Object may be co-typed NormalResult"),
    (3, [{"@type": "Telemetry", "name": "t", "schema": {"@type": "Object", "fields": [
        {"@type": ["Field", "NormalResult"], "name": "x", "schema": "integer"}]}}], {},
     "among the fields of an Object co-typed Result"),
    (3, [{"@type": "Telemetry", "name": "t", "schema": {**COUNTER_ERROR, "fields": [
        {"@type": ["Field", "ErrorMessage"], "name": "m", "schema": "integer"}]}}], {},
     "ErrorMessage must have a schema that is a string"),
    (3, [{"@type": "Telemetry", "name": "t", "schema": {"@type": "Object", "fields": [
        {"@type": ["Field", "Indirect"], "name": "x", "schema": "integer"}]}}], {}, "not a DTDL type"),
])
def test_mqtt_misuse_is_refused(version: int, contents: list[dict[str, Any]], props: dict[str, Any],
                                message: str) -> None:
    doc = mqtt(version, *contents, dtdl=V3 if version == 1 else V4)
    for key, value in props.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    for content in doc["contents"]:
        for key in [k for k, v in content.items() if v is None]:
            content.pop(key)
    with pytest.raises(ModelError, match=message):
        parse_models([doc])


def test_mqtt_4_adds_error_codes_and_indirect_fields() -> None:
    tree = {"@id": "dtmi:ex:TreeNode;1", "@type": "Object", "fields": [
        {"name": "value", "schema": "double"},
        {"@type": ["Field", "Indirect"], "name": "left", "schema": "dtmi:ex:TreeNode;1"}]}
    code = {"@type": ["Field", "ErrorCode"], "name": "code", "schema": {
        "@type": "Enum", "valueSchema": "string", "enumValues": [{"name": "busy", "enumValue": "busy"}]}}
    doc = mqtt(4, {"@type": "Telemetry", "name": "tree", "schema": "dtmi:ex:TreeNode;1"},
               result_command([*RESULT_FIELDS, code]), dtdl=V4, schemas=[tree])
    parse_models([doc])
    bad = copy.deepcopy(doc)
    bad["schemas"][0]["fields"][1]["@type"] = ["Field", "Indirect", "Required"]
    bad["@context"].append("dtmi:dtdl:extension:requirement;1")
    with pytest.raises(ModelError, match="Indirect and Required may not co-type"):
        parse_models([bad])
    bad = copy.deepcopy(doc)
    bad["contents"][1]["response"]["schema"]["fields"][2]["schema"] = "string"
    with pytest.raises(ModelError, match="ErrorCode must have a schema that is Enum"):
        parse_models([bad])


# -- Requirement --------------------------------------------------------------------------

POINT = {"@context": [V3, "dtmi:dtdl:extension:requirement;1"], "@id": "dtmi:ex:Locator;1",
         "@type": "Interface",
         "schemas": [{"@id": "dtmi:ex:Point2D;1", "@type": "Object", "fields": [
             {"@type": ["Field", "Required"], "name": "x", "schema": "double"},
             {"@type": ["Field", "Required"], "name": "y", "schema": "double"},
             {"name": "label", "schema": "string"}]}],
         "contents": [{"@type": "Property", "name": "position", "schema": "dtmi:ex:Point2D;1", "writable": True}]}


def test_required_fields_must_have_values() -> None:
    models = parse_models([POINT])
    assert models.validate_twin("dtmi:ex:Locator;1", {"position": {"x": 1.0, "y": 2.0}}) == []
    problems = models.validate_twin("dtmi:ex:Locator;1", {"position": {"x": 1.0, "label": "a"}})
    assert problems == ["position.y: the required field 'y' is missing"]
    with pytest.raises(ModelError, match="Required may co-type only a Field"):
        parse_models([{**POINT, "contents": [{"@type": ["Property", "Required"], "name": "p", "schema": "double"}]}])


def test_required_properties_of_requirement_2_are_enforced_on_twins() -> None:
    doc = {**POINT, "@context": [V4, "dtmi:dtdl:extension:requirement;2"], "contents": [
        {"@type": ["Property", "Required"], "name": "serial", "schema": "string"},
        {"@type": "Property", "name": "note", "schema": "string", "writable": True}]}
    graph = TwinGraph(SQLiteStore(":memory:"))
    graph.add_models([doc])
    meta = {"$metadata": {"$model": "dtmi:ex:Locator;1"}}
    with pytest.raises(Exception, match="the required property 'serial' is missing"):
        graph.create_twin("a", {**meta, "note": "x"})
    assert graph.list_twins() == [] if hasattr(graph, "list_twins") else True
    graph.create_twin("a", {**meta, "serial": "SN-1"})
    with pytest.raises(Exception, match="required property 'serial'"):
        graph.update_twin("a", [{"op": "remove", "path": "/serial"}])
    assert graph.get_twin("a")["serial"] == "SN-1"


# -- QuantitativeTypes, IoT Operations, limits ---------------------------------------------

def test_quantitative_types_versions_and_unit_prefixes() -> None:
    voltage = {"@type": ["Field", "Voltage"], "name": "v", "schema": "double", "unit": "volt"}
    obj = {"@type": "Telemetry", "name": "reading", "schema": {"@type": "Object", "fields": [voltage]}}
    for ctx in ("dtmi:dtdl:extension:quantitativeTypes;2", "dtmi:dtdl:extension:quantitativeTypes;3"):
        parse_models([model(obj, extensions=(ctx,), dtdl=V4)])
    prefix = {"@type": "Property", "name": "scale", "schema": {"@type": "Enum", "valueSchema": "string", "enumValues": [
        {"@type": ["EnumValue", "UnitPrefix"], "name": "kilo", "enumValue": "k", "exponent": 3, "symbol": "k"}]}}
    parse_models([model(prefix, extensions=("dtmi:dtdl:extension:quantitativeTypes;3",), dtdl=V4)])
    bad = copy.deepcopy(prefix)
    del bad["schema"]["enumValues"][0]["symbol"]
    with pytest.raises(ModelError, match="requires 'symbol'"):
        parse_models([model(bad, extensions=("dtmi:dtdl:extension:quantitativeTypes;3",), dtdl=V4)])
    with pytest.raises(ModelError, match="UnitPrefix"):
        parse_models([model(prefix, extensions=("dtmi:dtdl:extension:quantitativeTypes;2",), dtdl=V4)])


IOTOPS = "dtmi:iotoperations:context;4"


def test_iot_operations_partner_extension() -> None:
    good = model(
        {"@type": ["Telemetry", "Limited", "Precise"], "name": "t", "schema": "double",
         "minimum": -40, "maximum": 85.5, "decimalPlaces": 1},
        {"@type": ["Relationship", "HasComponent"], "name": "parts"},
        {"@type": ["Command", "GroupMember"], "name": "start", "group": "motion_control"},
        {"@type": ["Property", "Qualified"], "name": "q", "schema": "string", "namespace": "urn:ex"},
        extensions=(IOTOPS,), dtdl=V4, types=["Interface", "Composite"], ontology="isa95")
    parse_models([good])
    for change, message in [
        ({"schema": "string"}, "must have a schema that is a numeric"),
        ({"decimalPlaces": "one"}, "'decimalPlaces' must be an integer"),
    ]:
        bad = copy.deepcopy(good)
        bad["contents"][0].update(change)
        with pytest.raises(ModelError, match=message):
            parse_models([bad])
    bad = copy.deepcopy(good)
    bad["@type"] = ["Interface", "Composite", "Event"]
    with pytest.raises(ModelError, match="may not co-type the same Interface"):
        parse_models([bad])
    bad = copy.deepcopy(good)
    bad["contents"][2]["group"] = "9bad"
    with pytest.raises(ModelError, match="not an identifier"):
        parse_models([bad])


def deep_object(depth: int) -> dict[str, Any]:
    schema: Any = "string"
    for _ in range(depth):
        schema = {"@type": "Object", "fields": [{"name": "f", "schema": schema}]}
    return schema


def test_the_onvif_limit_extension_raises_depth_and_description_limits() -> None:
    content = {"@type": "Property", "name": "p", "schema": deep_object(20), "description": "d" * 3000}
    onvif = {"@context": ["dtmi:dtdl:context;4#limitless", "dtmi:dtdl:limits:onvif;1"], "@id": "dtmi:ex:Deep;1",
             "@type": "Interface", "contents": [content]}
    parse_models([onvif])
    with pytest.raises(ModelError, match="the limit is 8"):
        parse_models([{**onvif, "@context": V4, "contents": [{**content, "description": "d"}]}])
    with pytest.raises(ModelError, match="longer than 512"):
        parse_models([{**onvif, "@context": V4, "contents": [{**content, "schema": "double"}]}])
    too_deep = {**onvif, "contents": [{**content, "schema": deep_object(25)}]}
    with pytest.raises(ModelError, match="the limit is 24"):
        parse_models([too_deep])
