"""FHIR R4 out: a patient's twin, its devices, its measured history and, optionally, simulated
outcomes as one `collection` bundle, checked with fhir.resources before it is returned.

De-identified unless asked otherwise: the Patient's id is a keyed pseudonym, every date of
that patient moves by the same number of days (-365..365, from the same key), serial
numbers and the source FHIR id are left out, and an age of 90 or more is given as 90.
The key comes from ``key`` or the ``TWINFORGE_DEID_KEY`` environment variable; with
neither, a random one, so two exports cannot be linked.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from twinforge.errors import InvalidArgument, MissingDependency
from twinforge.graph import TwinGraph
from twinforge.history import History
from twinforge.packs.health.fhir import DEVICE_CODES, LOINC, OBSERVATIONS, SNOMED, UCUM
from twinforge.packs.health.models import PATIENT

# The code each exported name goes out with (the first LOINC code that maps to it).
EXPORTED = {"glucose": "2339-0", "heartRate": "8867-4", "systolicPressure": "8480-6",
            "diastolicPressure": "8462-4", "weight": "29463-7", "carbohydrateIntake": "9059-7"}
KPI_SYSTEM = "https://twinforge.dev/fhir/kpi"
SIMULATED_TAG = {"system": "https://twinforge.dev/fhir/tag", "code": "simulated",
                 "display": "simulated by twinforge, not measured"}


@dataclass
class Outcome:
    """A simulated result to export with the patient: a series and KPIs of one scenario."""

    scenario: str
    name: str  # an exported name, e.g. "glucose"
    times: Sequence[datetime]
    values: Sequence[float]
    kpis: dict[str, float] = field(default_factory=dict)


def _key(key: bytes | None) -> bytes:
    if key:
        return key
    env = os.environ.get("TWINFORGE_DEID_KEY")
    return env.encode() if env else secrets.token_bytes(32)


def pseudonym(key: bytes, twin: str) -> str:
    """The de-identified id of a twin under ``key``."""
    return hmac.new(key, twin.encode(), hashlib.sha256).hexdigest()[:24]


def date_shift(key: bytes, twin: str) -> timedelta:
    """The shift of every date of one patient under ``key``: -365..365 days."""
    digest = hmac.new(key, b"shift:" + twin.encode(), hashlib.sha256).digest()
    return timedelta(days=int.from_bytes(digest[:4], "big") % 731 - 365)


def _stamp(moment: datetime, shift: timedelta) -> str:
    return (moment + shift).astimezone(UTC).isoformat().replace("+00:00", "Z")


def export_patient(graph: TwinGraph, patient: str, *, identified: bool = False, key: bytes | None = None,
                   start: str | None = None, end: str | None = None, outcomes: Sequence[Outcome] = (),
                   limit: int = 10_000) -> dict[str, Any]:
    """The bundle of one patient twin (see the module's text for de-identification)."""
    doc = graph.get_twin(patient)
    if not graph.models.is_of_model(doc["$metadata"]["$model"], PATIENT):
        raise InvalidArgument(f"twin '{patient}' is a {doc['$metadata']['$model']}, not a Patient")
    secret = _key(key)
    shift = timedelta(0) if identified else date_shift(secret, patient)
    pid = patient if identified else pseudonym(secret, patient)
    ref = f"Patient/{pid}"
    entries: list[dict[str, Any]] = []

    def add(resource: dict[str, Any]) -> None:
        entries.append({"fullUrl": f"urn:twinforge:{resource['resourceType']}/{resource['id']}", "resource": resource})

    person: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    if doc.get("sex") in ("female", "male", "other", "unknown"):
        person["gender"] = doc["sex"]
    if isinstance(doc.get("age"), (int, float)):
        age = min(int(doc["age"]), 90) if not identified else int(doc["age"])
        person["birthDate"] = str((datetime.now(UTC) + shift).year - age)
    if identified and doc.get("fhirId"):
        person["identifier"] = [{"system": "urn:twinforge:fhirId", "value": str(doc["fhirId"])}]
    add(person)

    for rel in graph.list_incoming(patient):
        if rel.get("$relationshipName") != "monitors":
            continue
        source = str(rel["$sourceId"])
        device = graph.get_twin(source)
        model = device["$metadata"]["$model"]
        code = next((c for c, m in DEVICE_CODES.items() if m == model), None)
        resource: dict[str, Any] = {"resourceType": "Device", "id": source if identified else pseudonym(secret, source),
                                    "patient": {"reference": ref}}
        if code:
            resource["type"] = {"coding": [{"system": SNOMED, "code": code}], "text": model.split(":")[-1].split(";")[0]}
        if identified and device.get("serialNumber"):
            resource["serialNumber"] = str(device["serialNumber"])
        add(resource)

    history = History(graph.store)
    count = 0
    for name, code in EXPORTED.items():
        spec = OBSERVATIONS[code]
        for row in history.read_range(patient, name, start=start, end=end, limit=limit):
            if not isinstance(row["value"], (int, float)):
                continue
            count += 1
            add(_observation(f"{pid}-{name}-{count}", ref, code, spec.display, spec.unit, float(row["value"]),
                             _stamp(_parse(row["time"]), shift)))
    for name, what in (("insulinBolus", "dose"), ("basalRate", "rateQuantity")):
        for row in history.read_range(patient, name, start=start, end=end, limit=limit):
            if not isinstance(row["value"], (int, float)):
                continue
            count += 1
            unit = "U" if what == "dose" else "U/h"
            add({"resourceType": "MedicationAdministration", "id": f"{pid}-{name}-{count}", "status": "completed",
                 "medicationCodeableConcept": {"text": "insulin"}, "subject": {"reference": ref},
                 "effectiveDateTime": _stamp(_parse(row["time"]), shift),
                 "dosage": {what: {"value": float(row["value"]), "unit": unit, "system": UCUM, "code": unit}}})
    for k, outcome in enumerate(outcomes):
        code = EXPORTED.get(outcome.name)
        if code is None:
            raise InvalidArgument(f"outcome '{outcome.name}' has no FHIR code here (exported: {', '.join(EXPORTED)})")
        spec = OBSERVATIONS[code]
        for j, (moment, value) in enumerate(zip(outcome.times, outcome.values, strict=True)):
            obs = _observation(f"{pid}-sim{k}-{j}", ref, code, spec.display, spec.unit, float(value),
                               _stamp(moment, shift), status="preliminary")
            obs["meta"] = {"tag": [SIMULATED_TAG]}
            obs["method"] = {"text": f"twinforge simulation, scenario {outcome.scenario}"}
            add(obs)
        for name, value in outcome.kpis.items():
            add({"resourceType": "Observation", "id": f"{pid}-sim{k}-{name}", "status": "preliminary",
                 "meta": {"tag": [SIMULATED_TAG]}, "code": {"coding": [{"system": KPI_SYSTEM, "code": name}],
                                                            "text": name},
                 "subject": {"reference": ref}, "method": {"text": f"twinforge simulation, scenario {outcome.scenario}"},
                 "valueQuantity": {"value": float(value)}})
    bundle = {"resourceType": "Bundle", "type": "collection",
              "timestamp": _stamp(datetime.now(UTC), shift), "entry": entries}
    check_bundle(bundle)
    return bundle


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _observation(ident: str, subject: str, code: str, display: str, unit: str, value: float, when: str, *,
                 status: str = "final") -> dict[str, Any]:
    return {"resourceType": "Observation", "id": ident, "status": status,
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
            "subject": {"reference": subject}, "effectiveDateTime": when,
            "valueQuantity": {"value": round(value, 6), "unit": unit, "system": UCUM, "code": unit}}


def check_bundle(bundle: dict[str, Any]) -> None:
    """Raise unless ``bundle`` is a valid R4 Bundle (fhir.resources, R4B models)."""
    try:
        from fhir.resources.R4B.bundle import Bundle
    except ImportError:
        raise MissingDependency("FHIR needs fhir.resources: pip install 'twinforge[health]'") from None
    Bundle.model_validate(bundle)


__all__ = ["EXPORTED", "KPI_SYSTEM", "SIMULATED_TAG", "Outcome", "check_bundle", "date_shift", "export_patient",
           "pseudonym"]
