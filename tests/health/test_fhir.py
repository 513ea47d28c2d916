"""FHIR R4 in and out: Synthea-shaped bundles become twins, relationships and history at the
observations' times; bad entries are refused by name and the rest imported; exports are
valid R4 bundles, de-identified unless asked, and round-trip the measured values."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.requirements import need_module

need_module("fhir.resources")
need_module("scipy")

from twinforge.errors import InvalidArgument  # noqa: E402
from twinforge.graph import TwinGraph  # noqa: E402
from twinforge.history import History  # noqa: E402
from twinforge.packs.health.fhir import import_bundle  # noqa: E402
from twinforge.packs.health.fhir_export import (  # noqa: E402
    Outcome,
    check_bundle,
    date_shift,
    export_patient,
    pseudonym,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture
def graph(tmp_path: Path) -> TwinGraph:
    g = TwinGraph.open(f"sqlite:///{tmp_path / 'health.db'}")
    yield g
    g.close()


def ward() -> dict:
    return json.loads((DATA / "synthea_ward.json").read_text())


def test_a_ward_bundle_becomes_twins_relationships_and_history(graph: TwinGraph) -> None:
    bundle = ward()
    report = import_bundle(graph, bundle)
    assert report.refused == []
    assert report.skipped == {"Encounter": 2, "Condition": 2}
    assert len(report.patients) == 2 and len(report.devices) == 4 and report.relationships == 4
    first = bundle["entry"][0]["resource"]
    twin = graph.get_twin(report.patients[0])
    assert twin["sex"] == "female" and twin["age"] == 35.0 and twin["fhirId"] == first["id"]
    assert twin["weight"] == 68.0
    text = json.dumps(twin)
    for secret in (first["name"][0]["family"], first["address"][0]["line"][0], first["telecom"][0]["value"],
                   first["identifier"][1]["value"]):
        assert secret not in text  # names, addresses, phones, SSNs are never stored
    history = History(graph.store)
    glucose = history.read_range(report.patients[0], "glucose", limit=1000)
    cgm_obs = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
               and e["resource"]["code"]["coding"][0]["code"] == "99504-3"
               and e["resource"]["subject"]["reference"] == bundle["entry"][0]["fullUrl"]]
    assert len(glucose) == len(cgm_obs) == 72
    assert glucose[0]["time"].startswith("2026-03-01T06:00:00")  # at the observation's time, not now
    assert [g["value"] for g in glucose] == [o["valueQuantity"]["value"] for o in cgm_obs]
    device = next(d for d in report.devices
                  if graph.get_twin(d)["$metadata"]["$model"].endswith("ContinuousGlucoseMonitor;1"))
    devices_glucose = sum(len(history.read_range(d, "glucose", limit=1000)) for d in report.devices)
    assert devices_glucose == 2 * 72  # each reading also on the CGM that made it
    assert device in report.devices
    cgm_of_first = [r for r in graph.list_incoming(report.patients[0]) if r["$relationshipName"] == "monitors"]
    assert len(cgm_of_first) == 2
    sys = history.read_range(report.patients[0], "systolicPressure")
    assert len(sys) == 3 and all(110 <= p["value"] <= 130 for p in sys)
    assert [p["value"] for p in history.read_range(report.patients[0], "insulinBolus")] == [5.0]
    assert [p["value"] for p in history.read_range(report.patients[0], "basalRate")] == [0.9]
    assert [p["value"] for p in history.read_range(report.patients[0], "carbohydrateIntake")] == [60.0]


def test_bad_entries_are_named_and_the_rest_imported(graph: TwinGraph) -> None:
    report = import_bundle(graph, json.loads((DATA / "synthea_bad.json").read_text()))
    reasons = {r.index: r.reason for r in report.refused}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9]
    assert "'code': Field required" in reasons[3]
    assert "'g/L', a unit twinforge does not convert (accepted: mg/dL, mmol/L)" in reasons[4]
    assert "neither in the bundle nor a twin" in reasons[5]
    assert "code 4548-4 is not one twinforge maps" in reasons[6]
    assert "only insulin is imported" in reasons[7]
    assert "status 'done' is not an R4 Observation status" in reasons[8]
    assert "is missing" in reasons[9]
    assert all(r.url.startswith("urn:uuid:") for r in report.refused)
    assert "entry[4] (urn:uuid:" in str(report.refused[1])
    (patient,) = report.patients
    values = [p["value"] for p in History(graph.store).read_range(patient, "glucose")]
    assert values == [131.0, pytest.approx(7.0 * 18.0156)]  # mmol/L converted; nothing from bad entries
    assert report.points == 2


def test_a_later_bundle_may_refer_to_patients_already_imported(graph: TwinGraph) -> None:
    first = import_bundle(graph, ward())
    patient_id = graph.get_twin(first.patients[0])["fhirId"]
    later = {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient_id}"}, "effectiveDateTime": "2026-03-02T08:00:00Z",
        "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}}]}
    report = import_bundle(graph, later)
    assert report.refused == [] and report.points == 1


def test_not_a_bundle_is_a_clear_error(graph: TwinGraph) -> None:
    with pytest.raises(InvalidArgument, match="expected a FHIR Bundle, got 'Patient'"):
        import_bundle(graph, {"resourceType": "Patient"})
    with pytest.raises(InvalidArgument, match=r"Bundle\.entry must be a list"):
        import_bundle(graph, {"resourceType": "Bundle", "entry": {}})
    assert graph.store.count_twins() == 0


def test_export_is_valid_r4_and_de_identified_by_default(graph: TwinGraph) -> None:
    report = import_bundle(graph, ward())
    patient = report.patients[0]
    key = b"ward-key"
    bundle = export_patient(graph, patient, key=key)
    check_bundle(bundle)
    text = json.dumps(bundle)
    fhir_id = graph.get_twin(patient)["fhirId"]
    assert fhir_id not in text and patient not in text and "CGM" not in text  # ids and serials gone
    person = bundle["entry"][0]["resource"]
    assert person["id"] == pseudonym(key, patient) and "identifier" not in person
    shift = date_shift(key, patient)
    assert shift.days != 0
    glucose = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
               and e["resource"]["code"]["coding"][0]["code"] == "2339-0"]
    first = datetime.fromisoformat(glucose[0]["effectiveDateTime"].replace("Z", "+00:00"))
    assert first - datetime(2026, 3, 1, 6, 0, tzinfo=UTC) == shift  # every date moved the same
    assert export_patient(graph, patient, key=key)["entry"][0]["resource"]["id"] == person["id"]  # stable
    assert export_patient(graph, patient, key=b"other")["entry"][0]["resource"]["id"] != person["id"]


def test_identified_export_round_trips_every_measured_value(graph: TwinGraph, tmp_path: Path) -> None:
    report = import_bundle(graph, ward())
    patient = report.patients[0]
    outcome = Outcome("bolus-6U", "glucose", [datetime(2026, 3, 2, 6, k, tzinfo=UTC) for k in range(3)],
                      [150.0, 149.0, 147.5], {"timeInRange": 88.0})
    bundle = export_patient(graph, patient, identified=True, outcomes=[outcome])
    check_bundle(bundle)
    simulated = [e["resource"] for e in bundle["entry"] if e["resource"].get("status") == "preliminary"]
    assert len(simulated) == 4 and all(r["meta"]["tag"][0]["code"] == "simulated" for r in simulated)
    measured = copy.deepcopy(bundle)
    measured["entry"] = [e for e in measured["entry"] if e["resource"].get("status") != "preliminary"]
    other = TwinGraph.open(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        again = import_bundle(other, measured)
        assert again.refused == []
        (twin,) = again.patients
        for name in ("glucose", "heartRate", "systolicPressure", "diastolicPressure", "insulinBolus",
                     "basalRate", "carbohydrateIntake", "weight"):
            before = [(p["time"], p["value"]) for p in History(graph.store).read_range(patient, name)]
            after = [(p["time"], p["value"]) for p in History(other.store).read_range(twin, name)]
            assert after == before, name
    finally:
        other.close()


def test_export_refuses_a_twin_that_is_not_a_patient(graph: TwinGraph) -> None:
    report = import_bundle(graph, ward())
    with pytest.raises(InvalidArgument, match="not a Patient"):
        export_patient(graph, report.devices[0])
