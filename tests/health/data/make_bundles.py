"""Makes the FHIR R4 fixtures the health tests import (run once; the JSON is committed).

Synthea itself is Java and is not on these machines, so this is a small port of the shape
of its output: transaction bundles with urn:uuid fullUrls, a Patient with Synthea's
extensions, identifiers and names (which the import must drop), an Encounter and a
Condition (which it skips), Devices with SNOMED types, LOINC vital signs and CGM glucose,
and insulin MedicationAdministrations with RxNorm codes. Fixed seed and date, so the files
are the same on every run.

    python tests/health/data/make_bundles.py
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
START = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
LOINC, UCUM, SNOMED = "http://loinc.org", "http://unitsofmeasure.org", "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def entry(resource: dict, rng: random.Random) -> dict:
    ident = uid(rng)
    resource["id"] = ident
    return {"fullUrl": f"urn:uuid:{ident}", "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]}}


def quantity(value: float, unit: str) -> dict:
    return {"value": round(value, 1), "unit": unit, "system": UCUM, "code": unit}


def observation(patient: str, code: str, display: str, when: datetime, value: dict | None, *,
                device: str | None = None, category: str = "vital-signs") -> dict:
    obs = {"resourceType": "Observation", "status": "final",
           "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                     "code": category}]}],
           "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
           "subject": {"reference": patient}, "effectiveDateTime": when.isoformat(), "issued": when.isoformat()}
    if value is not None:
        obs["valueQuantity"] = value
    if device:
        obs["device"] = {"reference": device}
    return obs


def patient_entries(rng: random.Random, gender: str, birth: str) -> tuple[list[dict], str]:
    given = rng.choice(["Ana", "Ben", "Chloé", "Dev", "Ewa"])
    patient = entry({
        "resourceType": "Patient",
        "extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
                       "valueCode": "F" if gender == "female" else "M"}],
        "identifier": [{"system": "https://github.com/synthetichealth/synthea", "value": uid(rng)},
                       {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                             "code": "SS"}]}, "value": f"999-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"}],
        "name": [{"use": "official", "family": f"{given}son{rng.randint(100, 999)}", "given": [f"{given}{rng.randint(100, 999)}"]}],
        "telecom": [{"system": "phone", "value": f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"}],
        "address": [{"line": [f"{rng.randint(1, 999)} Synthetic Street"], "city": "Testville", "country": "US"}],
        "gender": gender, "birthDate": birth}, rng)
    return [patient], patient["fullUrl"]


def good_bundle(rng: random.Random) -> dict:
    entries: list[dict] = []
    for gender, birth, weight in (("female", "1990-05-17", 68.0), ("male", "2009-11-02", 55.5)):
        made, patient = patient_entries(rng, gender, birth)
        entries += made
        entries.append(entry({"resourceType": "Encounter", "status": "finished",
                              "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                              "subject": {"reference": patient}}, rng))
        entries.append(entry({"resourceType": "Condition",
                              "code": {"coding": [{"system": SNOMED, "code": "46635009",
                                                   "display": "Diabetes mellitus type 1"}]},
                              "subject": {"reference": patient}}, rng))
        cgm = entry({"resourceType": "Device", "status": "active", "serialNumber": f"CGM{rng.randint(10000, 99999)}",
                     "manufacturer": "Synthetic Sensors",
                     "type": {"coding": [{"system": SNOMED, "code": "462894001",
                                          "display": "Continuous glucose monitoring system"}]},
                     "patient": {"reference": patient}}, rng)
        pump = entry({"resourceType": "Device", "status": "active", "serialNumber": f"PMP{rng.randint(10000, 99999)}",
                      "type": {"coding": [{"system": SNOMED, "code": "69805005", "display": "Insulin pump"}]},
                      "patient": {"reference": patient}}, rng)
        entries += [cgm, pump]
        entries.append(entry(observation(patient, "29463-7", "Body Weight", START, quantity(weight, "kg")), rng))
        glucose = 120.0 + rng.uniform(-10, 10)
        for k in range(0, 6 * 12):  # every 5 minutes for 6 hours
            when = START + timedelta(minutes=5 * k)
            glucose += rng.uniform(-4, 4) + (3.0 if 18 <= k < 30 else 0.0) - (2.0 if 30 <= k < 48 else 0.0)
            entries.append(entry(observation(patient, "99504-3", "Glucose [Mass/volume] in Interstitial fluid",
                                             when, quantity(glucose, "mg/dL"), device=cgm["fullUrl"],
                                             category="laboratory"), rng))
        for hour in range(0, 6, 2):
            when = START + timedelta(hours=hour)
            entries.append(entry(observation(patient, "8867-4", "Heart rate", when,
                                             quantity(rng.uniform(60, 90), "/min")), rng))
            panel = observation(patient, "85354-9", "Blood pressure panel with all children optional", when, None)
            panel["component"] = [
                {"code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]},
                 "valueQuantity": quantity(rng.uniform(110, 130), "mm[Hg]")},
                {"code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]},
                 "valueQuantity": quantity(rng.uniform(70, 85), "mm[Hg]")}]
            entries.append(entry(panel, rng))
        meal = START + timedelta(hours=1, minutes=30)
        entries.append(entry(observation(patient, "9059-7", "Carbohydrate intake Estimated", meal,
                                         quantity(60.0, "g"), category="survey"), rng))
        for when, dose in ((START, None), (meal, 5.0)):
            dosage: dict = {"route": {"text": "subcutaneous"}}
            if dose is None:
                dosage["rateQuantity"] = quantity(0.9, "U/h")
            else:
                dosage["dose"] = quantity(dose, "U")
            entries.append(entry({"resourceType": "MedicationAdministration", "status": "completed",
                                  "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1652639",
                                                                            "display": "insulin lispro 100 UNT/ML"}]},
                                  "subject": {"reference": patient}, "device": [{"reference": pump["fullUrl"]}],
                                  "effectiveDateTime": when.isoformat(), "dosage": dosage}, rng))
    return {"resourceType": "Bundle", "type": "transaction", "timestamp": START.isoformat(), "entry": entries}


def bad_bundle(rng: random.Random) -> dict:
    """One good patient with a glucose reading, then one bad entry of each kind."""
    made, patient = patient_entries(rng, "female", "1985-01-09")
    entries = list(made)
    ok = START + timedelta(minutes=10)
    entries.append(entry(observation(patient, "2339-0", "Glucose [Mass/volume] in Blood", ok,
                                     quantity(131.0, "mg/dL"), category="laboratory"), rng))
    entries.append(entry(observation(patient, "15074-8", "Glucose [Moles/volume] in Blood", ok + timedelta(hours=1),
                                     quantity(7.0, "mmol/L"), category="laboratory"), rng))
    no_code = observation(patient, "2339-0", "x", ok, quantity(99.0, "mg/dL"))
    del no_code["code"]  # 1: missing code (invalid R4)
    entries.append(entry(no_code, rng))
    entries.append(entry(observation(patient, "2339-0", "Glucose", ok, quantity(1.3, "g/L")), rng))  # 2: unit
    entries.append(entry(observation("urn:uuid:00000000-0000-4000-8000-000000000000", "8867-4", "Heart rate", ok,
                                     quantity(70.0, "/min")), rng))  # 3: reference to a missing patient
    entries.append(entry(observation(patient, "4548-4", "Hemoglobin A1c", ok, quantity(7.1, "%")), rng))  # 4: code
    entries.append(entry({"resourceType": "MedicationAdministration", "status": "completed",  # 5: not insulin
                          "medicationCodeableConcept": {"text": "metformin 500 mg"},
                          "subject": {"reference": patient}, "effectiveDateTime": ok.isoformat(),
                          "dosage": {"dose": quantity(500.0, "mg")}}, rng))
    entries.append(entry({"resourceType": "Observation", "status": "done",  # 6: not an R4 status
                          "code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
                          "subject": {"reference": patient}, "effectiveDateTime": ok.isoformat(),
                          "valueQuantity": quantity(70.0, "/min")}, rng))
    entries.append(entry(observation(patient, "8867-4", "Heart rate", ok, None), rng))  # 7: no value
    return {"resourceType": "Bundle", "type": "transaction", "timestamp": START.isoformat(), "entry": entries}


if __name__ == "__main__":
    (HERE / "synthea_ward.json").write_text(json.dumps(good_bundle(random.Random(2026)), indent=1) + "\n")
    (HERE / "synthea_bad.json").write_text(json.dumps(bad_bundle(random.Random(7)), indent=1) + "\n")
