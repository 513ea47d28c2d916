"""Feature extensions whose adjunct types are checked: Historization, Annotation, Overriding."""

from __future__ import annotations

from typing import Any

import pytest

from twinforge.dtdl import ModelError, parse_models

HIST = "dtmi:dtdl:extension:historization;1"
ANNO = "dtmi:dtdl:extension:annotation;1"
OVER = "dtmi:dtdl:extension:overriding;1"
QT = "dtmi:dtdl:extension:quantitativeTypes;1"


def model(*contents: dict[str, Any], extensions: tuple[str, ...] = (HIST, ANNO, OVER, QT),
          dtdl: str = "dtmi:dtdl:context;3") -> dict[str, Any]:
    return {"@context": [dtdl, *extensions], "@id": "dtmi:ex:Thermostat;1", "@type": "Interface",
            "contents": list(contents)}


TEMP = {"@type": ["Telemetry", "Temperature", "Historized"], "name": "currentTemp", "schema": "double",
        "unit": "degreeCelsius"}
ACCURACY = {"@type": ["Property", "ValueAnnotation"], "name": "tempAccuracy", "annotates": "currentTemp",
            "schema": "double"}


def test_valid_use_of_each_extension() -> None:
    setpoint = {"@type": ["Property", "Historized"], "name": "setPointTemp", "schema": "double", "writable": True}
    override = {"@type": ["Property", "ValueAnnotation", "Override"], "name": "tempUnit",
                "annotates": "currentTemp", "overrides": "unit", "schema": "string"}
    models = parse_models([model(TEMP, setpoint, ACCURACY, override)])
    view = models.interface("dtmi:ex:Thermostat;1")
    assert view.properties["tempAccuracy"].props["annotates"] == "currentTemp"
    assert view.properties["tempUnit"].props["overrides"] == "unit"
    parse_models([model(setpoint, extensions=("dtmi:dtdl:extension:historization;2",), dtdl="dtmi:dtdl:context;4")])


@pytest.mark.parametrize(("contents", "extensions", "message"), [
    ([{"@type": ["Command", "Historized"], "name": "reset"}], (HIST,), "Historized may co-type only"),
    ([TEMP, {"@type": ["Property", "ValueAnnotation"], "name": "acc", "schema": "double"}], (HIST, QT, ANNO),
     "requires 'annotates'"),
    ([TEMP, {**ACCURACY, "annotates": "nosuch"}], (HIST, QT, ANNO), "not another Property or Telemetry"),
    ([TEMP, {**ACCURACY, "annotates": "tempAccuracy"}], (HIST, QT, ANNO), "not another Property or Telemetry"),
    ([TEMP, {"@type": ["Property", "Override"], "name": "o", "overrides": "unit", "schema": "string"}],
     (HIST, QT, ANNO, OVER), "only if it is also ValueAnnotation"),
    ([TEMP, {**ACCURACY, "@type": ["Telemetry", "ValueAnnotation", "Override"], "overrides": "unit"}],
     (HIST, QT, ANNO, OVER), "Override may co-type only a Property"),
    ([{"@type": ["Property", "Historized"], "name": "p", "schema": "double", "annotates": "x"}], (HIST,),
     "'annotates'"),
    ([{"@type": ["Property", "Historized"], "name": "p", "schema": "double"}], (), "Historized"),
])
def test_misuse_is_refused(contents: list[dict[str, Any]], extensions: tuple[str, ...], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        parse_models([model(*contents, extensions=extensions)])
