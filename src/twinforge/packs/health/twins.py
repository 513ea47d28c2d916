"""Building patient twins: a Patient, its UVA/Padova glucose-insulin system, its devices
(a CGM and an insulin pump) and the relationships between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twinforge.errors import NotFound
from twinforge.graph import TwinGraph
from twinforge.packs.health.glucose import uva_padova_values
from twinforge.packs.health.models import CGM, PATIENT, PUMP, models
from twinforge.packs.health.patients import virtual_patient

UVA = "dtmi:twinforge:health:UvaPadovaPatient;1"


@dataclass(frozen=True, slots=True)
class PatientTwins:
    """The twin ids of one patient."""

    patient: str
    glucose: str
    cgm: str
    pump: str


def ensure_models(graph: TwinGraph) -> int:
    """Load the pack's models unless they are there; the number loaded."""
    have = {m.id for m in graph.list_models()}
    todo = [d for d in models() if d["@id"] not in have]
    if todo:
        graph.add_models(todo)
    return len(todo)


def twin_ids(patient: str) -> PatientTwins:
    """The ids of a patient's twins, from the patient's twin id."""
    return PatientTwins(patient, f"{patient}-glucose", f"{patient}-cgm", f"{patient}-pump")


def create_patient(graph: TwinGraph, patient: str, *, virtual: str = "adult#001", ward: str = "",
                   sex: str = "unknown", extra: dict[str, Any] | None = None) -> PatientTwins:
    """Create (or replace) a patient's twins with virtual patient ``virtual``'s physiology."""
    ensure_models(graph)
    vp = virtual_patient(virtual)
    ids = twin_ids(patient)
    body: dict[str, Any] = {"$metadata": {"$model": PATIENT}, "age": vp.age, "weight": vp.weight, "sex": sex,
                            "virtualPatient": virtual}
    if ward:
        body["ward"] = ward
    body.update(extra or {})
    graph.create_twin(patient, body)
    graph.create_twin(ids.glucose, {"$metadata": {"$model": UVA}, **uva_padova_values(virtual)})
    graph.create_twin(ids.cgm, {"$metadata": {"$model": CGM}, "sampleInterval": 5.0,
                                "serialNumber": f"CGM-{patient}"})
    graph.create_twin(ids.pump, {"$metadata": {"$model": PUMP}, "serialNumber": f"PUMP-{patient}"})
    graph.create_relationship(patient, f"{patient}-hasOrgan-glucose",
                              {"$relationshipName": "hasOrgan", "$targetId": ids.glucose})
    for device in (ids.cgm, ids.pump):
        graph.create_relationship(device, f"{device}-monitors", {"$relationshipName": "monitors",
                                                                 "$targetId": patient})
    return ids


def glucose_system_of(graph: TwinGraph, patient: str) -> str:
    """The glucose-insulin twin of a patient (its `hasOrgan` target of a glucose model)."""
    models_ = graph.models
    for rel in graph.list_relationships(patient, "hasOrgan", limit=1000):
        target = rel["$targetId"]
        try:
            doc = graph.get_twin(target)
        except NotFound:
            continue
        if models_.is_of_model(doc["$metadata"]["$model"], "dtmi:twinforge:health:GlucoseInsulinSystem;1"):
            return str(target)
    raise NotFound(f"patient '{patient}' has no glucose-insulin system (a hasOrgan relationship to one)")


__all__ = ["UVA", "PatientTwins", "create_patient", "ensure_models", "glucose_system_of", "twin_ids"]
