"""TwinGraph on a real SQLite file: models, twins, patches, relationships, events."""

from __future__ import annotations

import copy

import pytest

from tests.graph.models import PLANT, PUMP, pump, tank
from twinforge.dtdl import ModelError
from twinforge.errors import (
    Conflict,
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    ValidationError,
)
from twinforge.graph import TwinGraph


@pytest.fixture
def plant(graph: TwinGraph) -> TwinGraph:
    graph.add_models(PLANT)
    return graph


def event_types(graph: TwinGraph) -> list[str]:
    return [e.type for e in graph.events()]


# -- models ----------------------------------------------------------------


def test_models_upload_get_list(plant: TwinGraph) -> None:
    info = plant.get_model("dtmi:test:Asset;1")
    assert info.display_name == {"en": "Asset"}
    assert info.definition["@id"] == "dtmi:test:Asset;1"
    assert [m.id for m in plant.list_models()] == [m["@id"] for m in PLANT]
    deps = [m.id for m in plant.list_models(["dtmi:test:Pump;1"])]
    # As in ADT, a relationship's target is not a dependency; extends and components are.
    assert set(deps) == {"dtmi:test:Pump;1", "dtmi:test:Asset;1", "dtmi:test:Motor;1"}


def test_model_dependencies_may_already_be_stored(graph: TwinGraph) -> None:
    graph.add_models(PLANT[:2])
    graph.add_models(PLANT[2:])
    assert graph.models.is_of_model("dtmi:test:Pump;1", "dtmi:test:Asset;1")


def test_duplicate_model_refused_and_nothing_stored(plant: TwinGraph) -> None:
    extra = copy.deepcopy(PUMP)
    extra["@id"] = "dtmi:test:Pump2;1"
    with pytest.raises(Conflict, match="already exists"):
        plant.add_models([extra, PLANT[0]])
    with pytest.raises(NotFound):
        plant.get_model("dtmi:test:Pump2;1")


def test_invalid_model_batch_stores_nothing(graph: TwinGraph) -> None:
    broken = copy.deepcopy(PUMP)
    broken["contents"][0]["schema"] = "nonsense"
    with pytest.raises(ModelError) as info:
        graph.add_models([PLANT[0], PLANT[1], broken, PLANT[3]])
    assert "dtmi:test:Pump;1" in info.value.errors[0]
    assert graph.list_models() == []


def test_decommissioned_model_refuses_new_twins(plant: TwinGraph) -> None:
    plant.create_twin("t1", tank())
    plant.decommission_model("dtmi:test:Tank;1")
    assert plant.get_model("dtmi:test:Tank;1").decommissioned
    with pytest.raises(ValidationError, match="decommissioned"):
        plant.create_twin("t2", tank())
    plant.update_twin("t1", [{"op": "add", "path": "/level", "value": 1.0}])  # existing twins live on


def test_delete_model_refused_while_used_or_referenced(plant: TwinGraph) -> None:
    plant.create_twin("t1", tank())
    with pytest.raises(Conflict, match="used by 1 twin"):
        plant.delete_model("dtmi:test:Tank;1")
    plant.delete_twin("t1")
    with pytest.raises(Conflict, match="referenced by dtmi:test:Pump;1"):
        plant.delete_model("dtmi:test:Asset;1")
    plant.delete_model("dtmi:test:Tank;1")
    assert "dtmi:test:Tank;1" not in plant.models
    with pytest.raises(NotFound):
        plant.get_model("dtmi:test:Tank;1")


def test_models_survive_reopen(plant: TwinGraph) -> None:
    reopened = TwinGraph(plant.store)
    assert reopened.models.is_of_model("dtmi:test:Pump;1", "dtmi:test:Asset;1")


# -- twins -----------------------------------------------------------------


def test_create_get_and_metadata(plant: TwinGraph) -> None:
    doc = plant.create_twin("p1", pump(flow=2.5, location={"x": 1, "y": 2}))
    assert doc["$dtId"] == "p1"
    assert doc["$etag"].startswith('W/"')
    assert doc["$metadata"]["$model"] == "dtmi:test:Pump;1"
    assert "lastUpdateTime" in doc["$metadata"]["flow"]
    assert doc["motor"] == {"$metadata": {}}
    assert plant.get_twin("p1") == doc
    assert event_types(plant) == ["Twin.Create"]


def test_if_none_match_refuses_replace(plant: TwinGraph) -> None:
    first = plant.create_twin("p1", pump())
    with pytest.raises(PreconditionFailed):
        plant.create_twin("p1", pump("other"), if_none_match=True)
    assert plant.get_twin("p1") == first
    replaced = plant.create_twin("p1", pump("other"))
    assert replaced["name"] == "other" and replaced["$etag"] != first["$etag"]


@pytest.mark.parametrize(
    ("body", "error", "fragment"),
    [
        (pump(flow="fast"), ValidationError, "flow: expected a number"),
        (pump(colour="red"), ValidationError, "'colour' is not a property"),
        (pump(mode="turbo"), ValidationError, "not one of the enum values"),
        (pump(pressure=3.0), ValidationError, "telemetry"),
        ({"$metadata": {"$model": "dtmi:test:Nope;1"}}, ValidationError, "not uploaded"),
        ({"name": "x"}, ValidationError, "$metadata.$model"),
        ([1, 2], InvalidArgument, "JSON object"),
    ],
)
def test_bad_twins_refused_and_nothing_stored(plant: TwinGraph, body: object, error: type[Exception],
                                              fragment: str) -> None:
    with pytest.raises(error, match=None) as info:
        plant.create_twin("p1", body)
    assert fragment in str(info.value)
    with pytest.raises(NotFound):
        plant.get_twin("p1")
    assert event_types(plant) == []


def test_patch_with_etags(plant: TwinGraph) -> None:
    doc = plant.create_twin("p1", pump(flow=1.0))
    patched = plant.update_twin("p1", [{"op": "replace", "path": "/flow", "value": 3.0},
                                       {"op": "add", "path": "/motor/rpm", "value": 1450.0},
                                       {"op": "add", "path": "/location", "value": {"x": 0.0}},
                                       {"op": "replace", "path": "/location/x", "value": 5.0}],
                                if_match=doc["$etag"])
    assert patched["flow"] == 3.0 and patched["motor"]["rpm"] == 1450.0
    assert patched["location"] == {"x": 5.0}
    assert "rpm" in patched["motor"]["$metadata"]
    with pytest.raises(PreconditionFailed, match="stale"):
        plant.update_twin("p1", [{"op": "replace", "path": "/flow", "value": 9.0}], if_match=doc["$etag"])
    assert plant.get_twin("p1") == patched
    plant.update_twin("p1", [{"op": "remove", "path": "/flow"}], if_match="*")
    assert "flow" not in plant.get_twin("p1")["$metadata"]


@pytest.mark.parametrize(
    "patch",
    [
        [{"op": "replace", "path": "/flow", "value": "x"}],
        [{"op": "add", "path": "/unknown", "value": 1}],
        [{"op": "add", "path": "/motor/rpm", "value": "fast"}],
        [{"op": "replace", "path": "/$dtId", "value": "other"}],
        [{"op": "remove", "path": "/nothing"}],
        [{"op": "jump", "path": "/flow"}],
        {"op": "add"},
    ],
)
def test_bad_patches_change_nothing(plant: TwinGraph, patch: object) -> None:
    before = plant.create_twin("p1", pump(flow=1.0))
    with pytest.raises((ValidationError, InvalidArgument)):
        plant.update_twin("p1", patch)
    assert plant.get_twin("p1") == before
    assert event_types(plant) == ["Twin.Create"]


def test_components_get_and_patch(plant: TwinGraph) -> None:
    plant.create_twin("p1", pump(motor={"$metadata": {}, "rpm": 100.0}))
    assert plant.get_component("p1", "motor")["rpm"] == 100.0
    plant.update_component("p1", "motor", [{"op": "replace", "path": "/rpm", "value": 200.0}])
    assert plant.get_component("p1", "motor")["rpm"] == 200.0
    with pytest.raises(NotFound):
        plant.get_component("p1", "gearbox")
    with pytest.raises(ValidationError):
        plant.update_component("p1", "motor", [{"op": "add", "path": "/running", "value": "yes"}])


def test_patch_can_change_model(plant: TwinGraph) -> None:
    plant.create_twin("x", tank())
    with pytest.raises(ValidationError):
        plant.update_twin("x", [{"op": "replace", "path": "/$metadata/$model", "value": "dtmi:test:Nope;1"}])
    plant.update_twin("x", [{"op": "replace", "path": "/$metadata/$model", "value": "dtmi:test:Pump;1"}])
    assert plant.get_twin("x")["$metadata"]["$model"] == "dtmi:test:Pump;1"


def test_batch_create_is_all_or_nothing(plant: TwinGraph) -> None:
    good = [(f"t{i}", tank()) for i in range(50)]
    with pytest.raises(ValidationError):
        plant.create_twins([*good, ("bad", tank(level="high"))])
    assert plant.store.count_twins() == 0
    assert plant.create_twins(good) == 50
    with pytest.raises(Conflict):
        plant.create_twins([("t99", tank()), ("t0", tank())])
    assert plant.store.count_twins() == 50


# -- relationships ---------------------------------------------------------


def test_relationships(plant: TwinGraph) -> None:
    plant.create_twin("p1", pump())
    plant.create_twin("t1", tank())
    rel = plant.create_relationship("p1", "r1", {"$relationshipName": "feeds", "$targetId": "t1",
                                                 "pipeLength": 3.5})
    assert rel["$sourceId"] == "p1" and rel["pipeLength"] == 3.5
    assert [r["$relationshipId"] for r in plant.list_relationships("p1")] == ["r1"]
    assert plant.list_relationships("p1", "controlledBy") == []
    incoming = plant.list_incoming("t1")
    assert incoming[0]["$sourceId"] == "p1" and incoming[0]["$relationshipName"] == "feeds"
    updated = plant.update_relationship("p1", "r1", [{"op": "replace", "path": "/pipeLength", "value": 4.0}],
                                        if_match=rel["$etag"])
    assert updated["pipeLength"] == 4.0
    with pytest.raises(PreconditionFailed):
        plant.delete_relationship("p1", "r1", if_match=rel["$etag"])
    with pytest.raises(Conflict, match="relationships"):
        plant.delete_twin("t1")
    plant.delete_relationship("p1", "r1")
    plant.delete_twin("t1")
    assert event_types(plant)[-3:] == ["Relationship.Update", "Relationship.Delete", "Twin.Delete"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"$relationshipName": "drinks", "$targetId": "t1"}, "no relationship 'drinks'"),
        ({"$relationshipName": "feeds", "$targetId": "ghost"}, "does not exist"),
        ({"$relationshipName": "feeds", "$targetId": "p2"}, "must target a dtmi:test:Tank;1"),
        ({"$relationshipName": "feeds", "$targetId": "t1", "colour": 1}, "not a property of relationship"),
        ({"$relationshipName": "feeds", "$targetId": "t1", "pipeLength": "long"}, "expected a number"),
        ({"$relationshipName": "feeds"}, "$targetId"),
    ],
)
def test_bad_relationships_refused(plant: TwinGraph, body: dict[str, object], fragment: str) -> None:
    plant.create_twin("p1", pump())
    plant.create_twin("p2", pump())
    plant.create_twin("t1", tank())
    with pytest.raises((ValidationError, NotFound, InvalidArgument)) as info:
        plant.create_relationship("p1", "r1", body)
    assert fragment in str(info.value)
    assert plant.list_relationships("p1") == []


def test_max_multiplicity(plant: TwinGraph) -> None:
    plant.create_twin("p1", pump())
    plant.create_twin("t1", tank())
    plant.create_relationship("p1", "c1", {"$relationshipName": "controlledBy", "$targetId": "t1"})
    with pytest.raises(ValidationError, match="at most 1"):
        plant.create_relationship("p1", "c2", {"$relationshipName": "controlledBy", "$targetId": "t1"})
    plant.create_relationship("p1", "c1", {"$relationshipName": "controlledBy", "$targetId": "t1"})


def test_missing_twin_errors(plant: TwinGraph) -> None:
    with pytest.raises(NotFound, match="ghost"):
        plant.get_twin("ghost")
    with pytest.raises(NotFound):
        plant.update_twin("ghost", [])
    with pytest.raises(NotFound):
        plant.delete_twin("ghost")
    with pytest.raises(NotFound):
        plant.create_relationship("ghost", "r", {"$relationshipName": "feeds", "$targetId": "t"})
    with pytest.raises(NotFound):
        plant.get_relationship("ghost", "r")


def test_batch_relationships(plant: TwinGraph) -> None:
    plant.create_twins([(f"p{i}", pump()) for i in range(10)] + [("t", tank())])
    n = plant.create_relationships((f"p{i}", "f", {"$relationshipName": "feeds", "$targetId": "t"})
                                   for i in range(10))
    assert n == 10
    assert len(plant.list_incoming("t")) == 10
    with pytest.raises(ValidationError):
        plant.create_relationships([("p0", "g", {"$relationshipName": "feeds", "$targetId": "t"}),
                                    ("p1", "g", {"$relationshipName": "feeds", "$targetId": "p2"})])
    assert len(plant.list_incoming("t")) == 10
