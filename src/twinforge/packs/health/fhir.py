"""FHIR R4 in: a transaction (or batch, or collection) bundle becomes patient and device twins,
`monitors` relationships and history at the observations' own times.

Imported: Patient (sex, age, the resource id; never names, addresses or identifiers),
Device (a CGM, insulin pump, blood-pressure cuff or heart-rate monitor by its type, else a
plain medical device; `Device.patient` becomes `monitors`), Observation (the LOINC codes in
`OBSERVATIONS`, with UCUM units converted to the pack's) and MedicationAdministration of
insulin (a dose: `insulinBolus` U; a rate: `basalRate` U/h). Every entry is checked with
fhir.resources (R4B) first. An entry that cannot be used is refused with its position, its
fullUrl and the reason, and the others are imported: a bundle is read as a batch, not as
an all-or-nothing transaction. Other resource types are listed as skipped.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from twinforge.errors import InvalidArgument, MissingDependency, NotFound
from twinforge.graph import TwinGraph
from twinforge.graph.updates import Update
from twinforge.packs.health.models import CGM, CUFF, DEVICE, HEART_RATE, PATIENT, PUMP
from twinforge.packs.health.twins import ensure_models

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
GLUCOSE_MG_PER_MMOL = 18.0156


@dataclass(frozen=True, slots=True)
class Code:
    """What one LOINC code becomes: a telemetry (or property) name, the pack's unit and the
    accepted UCUM units with their factor to it."""

    name: str
    display: str
    unit: str
    units: dict[str, float]
    property: bool = False


_GLUCOSE_MASS = {"mg/dL": 1.0, "mmol/L": GLUCOSE_MG_PER_MMOL}
OBSERVATIONS: dict[str, Code] = {
    "2339-0": Code("glucose", "Glucose [Mass/volume] in Blood", "mg/dL", _GLUCOSE_MASS),
    "2345-7": Code("glucose", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", _GLUCOSE_MASS),
    "15074-8": Code("glucose", "Glucose [Moles/volume] in Blood", "mg/dL", _GLUCOSE_MASS),
    "14749-6": Code("glucose", "Glucose [Moles/volume] in Serum or Plasma", "mg/dL", _GLUCOSE_MASS),
    "99504-3": Code("glucose", "Glucose [Mass/volume] in Interstitial fluid", "mg/dL", _GLUCOSE_MASS),
    "105272-9": Code("glucose", "Glucose [Moles/volume] in Interstitial fluid", "mg/dL", _GLUCOSE_MASS),
    "8867-4": Code("heartRate", "Heart rate", "/min", {"/min": 1.0, "{beats}/min": 1.0, "bpm": 1.0}),
    "8480-6": Code("systolicPressure", "Systolic blood pressure", "mm[Hg]", {"mm[Hg]": 1.0, "mmHg": 1.0}),
    "8462-4": Code("diastolicPressure", "Diastolic blood pressure", "mm[Hg]", {"mm[Hg]": 1.0, "mmHg": 1.0}),
    "29463-7": Code("weight", "Body weight", "kg", {"kg": 1.0, "g": 0.001, "[lb_av]": 0.45359237}, property=True),
    "9059-7": Code("carbohydrateIntake", "Carbohydrate intake Estimated", "g", {"g": 1.0}),
}
BP_PANEL = "85354-9"  # Blood pressure panel: systolic and diastolic as components
# Device types by SNOMED CT code, and by words in the type's text.
DEVICE_CODES = {"462894001": CGM, "69805005": PUMP, "258057004": CUFF, "706767009": HEART_RATE}
DEVICE_WORDS = (("glucose", CGM), ("insulin", PUMP), ("pressure", CUFF), ("heart", HEART_RATE))
# What each device model records of an observation made with it.
DEVICE_NAMES = {CGM: {"glucose"}, CUFF: {"systolicPressure", "diastolicPressure"}, HEART_RATE: {"heartRate"}}
INSULIN_UNITS = {"U": 1.0, "[iU]": 1.0, "[IU]": 1.0, "IU": 1.0}
RATE_UNITS = {"U/h": 1.0, "[iU]/h": 1.0, "[IU]/h": 1.0, "U/min": 60.0}
HANDLED = ("Patient", "Device", "Observation", "MedicationAdministration")
# Required value sets fhir.resources does not enforce, and the statuses that are not data.
STATUSES = {"Observation": {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                            "entered-in-error", "unknown"},
            "MedicationAdministration": {"in-progress", "not-done", "on-hold", "completed", "entered-in-error",
                                         "stopped", "unknown"}}
NOT_DATA = {"cancelled", "entered-in-error", "not-done", "registered"}


@dataclass(frozen=True, slots=True)
class Refused:
    """One entry the import could not use."""

    index: int
    url: str
    resource: str
    reason: str

    def __str__(self) -> str:
        where = f"entry[{self.index}]" + (f" ({self.url})" if self.url else "")
        return f"{where} {self.resource}: {self.reason}"


@dataclass
class FhirImport:
    """What an import did."""

    patients: list[str] = field(default_factory=list)  # twin ids
    devices: list[str] = field(default_factory=list)
    relationships: int = 0
    points: int = 0  # history points written
    refused: list[Refused] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # resource type -> entries not imported

    def to_json(self) -> dict[str, Any]:
        return {"patients": self.patients, "devices": self.devices, "relationships": self.relationships,
                "points": self.points, "refused": [{"index": r.index, "fullUrl": r.url, "resourceType": r.resource,
                                                    "reason": r.reason} for r in self.refused],
                "skipped": self.skipped}


class _Refuse(Exception):
    pass


def _model_class(resource: str) -> Any:
    try:
        from fhir.resources.R4B import get_fhir_model_class
    except ImportError:
        raise MissingDependency("FHIR needs fhir.resources: pip install 'twinforge[health]'") from None
    return get_fhir_model_class(resource)


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            return f"'{where}': {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
        except Exception:
            pass
    return str(exc).splitlines()[0][:300]


def twin_id_for(resource: str, fhir_id: str) -> str:
    """The twin id an imported resource gets: ``patient-<id>`` or ``device-<id>`` (characters
    outside letters, digits, ``-`` and ``.`` replaced by ``-``)."""
    return f"{resource.lower()}-" + re.sub(r"[^A-Za-z0-9.-]", "-", fhir_id)[:100]


def _when(value: Any) -> int:
    """A FHIR dateTime/instant (a datetime or date) as microseconds since the epoch."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        raise _Refuse("it has no effective time (effectiveDateTime, effectiveInstant or effectivePeriod.start)")
    return int(moment.timestamp() * 1_000_000)


def _quantity(q: Any, units: dict[str, float], what: str) -> float:
    if q is None or q.value is None:
        raise _Refuse(f"{what} is missing")
    unit = q.code or q.unit
    if unit not in units:
        raise _Refuse(f"{what} is in '{unit}', a unit twinforge does not convert (accepted: {', '.join(units)})")
    return float(q.value) * units[str(unit)]


def _effective(obs: Any) -> int:
    for name in ("effectiveDateTime", "effectiveInstant"):
        value = getattr(obs, name, None)
        if value is not None:
            return _when(value)
    period = getattr(obs, "effectivePeriod", None)
    return _when(period.start if period is not None else None)


def _age(birth: date | str | None, at: datetime) -> float | None:
    """Whole years at ``at``; a partial birth date (``1985``, ``1985-04``) counts from its start."""
    if birth is None:
        return None
    if isinstance(birth, str):
        parts = [int(p) for p in birth.split("-")[:3]]
        birth = date(parts[0], *[*parts[1:], 1, 1][:2])
    years = at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
    return float(max(years, 0))


def import_bundle(graph: TwinGraph, bundle: Any, *, now: datetime | None = None) -> FhirImport:
    """Import one FHIR R4 bundle (a parsed JSON object) into ``graph``."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        got = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise InvalidArgument(f"expected a FHIR Bundle, got {got!r}")
    entries = bundle.get("entry")
    entries = [] if entries is None else entries
    if not isinstance(entries, list):
        raise InvalidArgument("Bundle.entry must be a list")
    ensure_models(graph)
    report = FhirImport()
    parsed: list[tuple[int, str, str, Any]] = []
    for i, entry in enumerate(entries):
        url = str(entry.get("fullUrl") or "") if isinstance(entry, dict) else ""
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(kind, str):
            report.refused.append(Refused(i, url, "?", "the entry has no resource with a resourceType"))
            continue
        if kind not in HANDLED:
            report.skipped[kind] = report.skipped.get(kind, 0) + 1
            continue
        try:
            parsed.append((i, url, kind, _model_class(kind).model_validate(resource)))
        except MissingDependency:
            raise
        except Exception as exc:
            report.refused.append(Refused(i, url, kind, f"not a valid R4 {kind}: {_first_error(exc)}"))
    at = now or datetime.now(UTC)
    if bundle.get("timestamp"):
        with contextlib.suppress(ValueError):
            at = datetime.fromisoformat(str(bundle["timestamp"]).replace("Z", "+00:00"))
    refs: dict[str, str] = {}  # a reference (fullUrl or Type/id) -> twin id

    def remember(url: str, kind: str, fhir_id: str | None, twin: str) -> None:
        if url:
            refs[url] = twin
        if fhir_id:
            refs[f"{kind}/{fhir_id}"] = twin

    def resolve(reference: Any, kind: str, what: str) -> str:
        ref = getattr(reference, "reference", None) if reference is not None else None
        if not ref:
            raise _Refuse(f"{what} has no reference")
        if ref in refs:
            return refs[ref]
        if ref.startswith(f"{kind}/"):
            twin = twin_id_for(kind, ref.split("/", 1)[1])
            try:
                graph.get_twin(twin)
                return twin
            except NotFound:
                pass
        raise _Refuse(f"{what} refers to {ref}, which is neither in the bundle nor a twin")

    def refuse(i: int, url: str, kind: str, reason: str) -> None:
        report.refused.append(Refused(i, url, kind, reason))

    for i, url, kind, res in parsed:  # patients first: the others refer to them
        if kind != "Patient":
            continue
        fhir_id = res.id or url.rsplit(":", 1)[-1]
        twin = twin_id_for("Patient", fhir_id)
        body: dict[str, Any] = {"$metadata": {"$model": PATIENT}, "fhirId": fhir_id}
        if res.gender:
            body["sex"] = res.gender
        age = _age(res.birthDate, at)
        if age is not None:
            body["age"] = age
        try:
            graph.create_twin(twin, body)
        except Exception as exc:
            refuse(i, url, kind, str(exc))
            continue
        remember(url, kind, res.id, twin)
        report.patients.append(twin)

    for i, url, kind, res in parsed:
        if kind != "Device":
            continue
        try:
            fhir_id = res.id or url.rsplit(":", 1)[-1]
            twin = twin_id_for("Device", fhir_id)
            model = _device_model(res)
            target = resolve(res.patient, "Patient", "Device.patient") if res.patient is not None else None
            body = {"$metadata": {"$model": model}}
            if res.serialNumber:
                body["serialNumber"] = res.serialNumber
            if res.manufacturer:
                body["manufacturer"] = res.manufacturer
            graph.create_twin(twin, body)
            if target:
                graph.create_relationship(twin, f"{twin}-monitors", {"$relationshipName": "monitors",
                                                                     "$targetId": target})
                report.relationships += 1
        except _Refuse as exc:
            refuse(i, url, kind, str(exc))
            continue
        remember(url, kind, res.id, twin)
        report.devices.append(twin)

    updates: list[Update] = []
    origin: list[tuple[int, str, str]] = []
    for i, url, kind, res in parsed:
        if kind in ("Patient", "Device"):
            continue
        try:
            status = str(res.status)
            if status not in STATUSES[kind]:
                raise _Refuse(f"status '{status}' is not an R4 {kind} status ({', '.join(sorted(STATUSES[kind]))})")
            if status in NOT_DATA:
                raise _Refuse(f"status '{status}': nothing was measured or given")
            found = _observation(res, resolve) if kind == "Observation" else _medication(res, resolve)
        except _Refuse as exc:
            refuse(i, url, kind, str(exc))
            continue
        for update in found:
            updates.append(update)
            origin.append((i, url, kind))
    if updates:
        outcome = graph.apply_updates(updates)
        for r in outcome.refusals:
            i, url, kind = origin[r.index]
            refuse(i, url, kind, r.reason)
        report.points = sum(len(u.values) for k, u in enumerate(updates)
                            if k not in {r.index for r in outcome.refusals})
    report.refused.sort(key=lambda r: r.index)
    return report


def _device_model(res: Any) -> str:
    for coding in (res.type.coding or []) if res.type else []:
        if coding.code in DEVICE_CODES:
            return DEVICE_CODES[coding.code]
    text = " ".join(filter(None, [res.type.text if res.type else None]
                           + [c.display for c in ((res.type.coding or []) if res.type else [])]
                           + [n.name for n in (res.deviceName or [])])).lower()
    for word, model in DEVICE_WORDS:
        if word in text:
            return model
    return DEVICE


def _loinc(concept: Any) -> list[str]:
    return [c.code for c in (concept.coding or []) if c.system == LOINC and c.code] if concept else []


def _observation(obs: Any, resolve: Any) -> list[Update]:
    patient = resolve(obs.subject, "Patient", "Observation.subject") if obs.subject else None
    if patient is None:
        raise _Refuse("Observation.subject is missing (whose observation is it?)")
    codes = _loinc(obs.code)
    ts = _effective(obs)
    values: dict[str, float] = {}
    if BP_PANEL in codes:
        for component in obs.component or []:
            for code in _loinc(component.code):
                if code in OBSERVATIONS:
                    spec = OBSERVATIONS[code]
                    values[spec.name] = _quantity(component.valueQuantity, spec.units, f"component {code}")
        if not values:
            raise _Refuse(f"the blood-pressure panel ({BP_PANEL}) has no systolic (8480-6) or diastolic (8462-4) "
                          "component")
        spec = OBSERVATIONS["8480-6"]
    else:
        known = [c for c in codes if c in OBSERVATIONS]
        if not known:
            shown = ", ".join(codes) or "no LOINC coding"
            raise _Refuse(f"code {shown} is not one twinforge maps (LOINC: {', '.join(OBSERVATIONS)}, {BP_PANEL})")
        spec = OBSERVATIONS[known[0]]
        values[spec.name] = _quantity(obs.valueQuantity, spec.units, f"the value of {known[0]}")
    out = [Update(patient, values, telemetry=not spec.property, ts=ts, source="fhir")]
    if obs.device is not None:
        device = resolve(obs.device, "Device", "Observation.device")
        out.append(Update(device, dict(values), telemetry=True, ts=ts, source="fhir"))
    return out


def _medication(med: Any, resolve: Any) -> list[Update]:
    patient = resolve(med.subject, "Patient", "MedicationAdministration.subject")
    concept = getattr(med, "medicationCodeableConcept", None)
    words = " ".join(filter(None, [concept.text if concept else None]
                            + [c.display for c in ((concept.coding or []) if concept else [])])).lower()
    if "insulin" not in words:
        raise _Refuse("only insulin is imported (medicationCodeableConcept names no insulin)")
    ts = _effective(med)
    dosage = med.dosage
    if dosage is None or (dosage.dose is None and getattr(dosage, "rateQuantity", None) is None):
        raise _Refuse("the dosage has neither a dose nor a rateQuantity")
    values: dict[str, float] = {}
    if dosage.dose is not None:
        values["insulinBolus"] = _quantity(dosage.dose, INSULIN_UNITS, "dosage.dose")
    if getattr(dosage, "rateQuantity", None) is not None:
        values["basalRate"] = _quantity(dosage.rateQuantity, RATE_UNITS, "dosage.rateQuantity")
    return [Update(patient, values, telemetry=True, ts=ts, source="fhir")]


__all__ = ["BP_PANEL", "DEVICE_CODES", "GLUCOSE_MG_PER_MMOL", "LOINC", "OBSERVATIONS", "SNOMED", "UCUM", "Code",
           "FhirImport", "Refused", "import_bundle", "twin_id_for"]
