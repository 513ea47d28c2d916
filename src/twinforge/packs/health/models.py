"""The health pack's DTDL v3 models (`twinforge models load --pack health`).

A Patient (age, weight, sex: no names) has organ systems (`hasOrgan`: a glucose-insulin
system, the circulation) and drugs (`hasDrug`); devices `monitors` a patient. The
glucose-insulin models (UVA/Padova, Bergman, Hovorka) extend GlucoseInsulinSystem, so a
query over that model finds them all. Quantities with a DTDL unit carry it (kg, mmHg, mL,
years); clinical units DTDL lacks (mg/dL, U/h, beats/min, mg/L) are given as UCUM codes in
`UCUM` and in each description, and travel as such in FHIR.
"""

from __future__ import annotations

from typing import Any

from twinforge.packs.health.circulation import Circulation
from twinforge.packs.health.glucose import NS, Bergman, Hovorka, UvaPadova
from twinforge.packs.health.pharmacokinetics import DrugCompartment
from twinforge.sim.library import interface

CONTEXT = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
PATIENT = NS + "Patient;1"
GLUCOSE_SYSTEM = NS + "GlucoseInsulinSystem;1"
DEVICE = NS + "MedicalDevice;1"
CGM = NS + "ContinuousGlucoseMonitor;1"
PUMP = NS + "InsulinPump;1"
CUFF = NS + "BloodPressureCuff;1"
HEART_RATE = NS + "HeartRateMonitor;1"

# The UCUM code of each clinical unit the pack uses (FHIR's Quantity.code).
UCUM = {"mg/dL": "mg/dL", "U/h": "U/h", "U": "U", "U/min": "U/min", "g": "g", "g/min": "g/min",
        "mmHg": "mm[Hg]", "bpm": "/min", "mg/L": "mg/L", "mg": "mg", "kg": "kg", "years": "a", "L/min": "L/min",
        "mL": "mL", "mmol/L": "mmol/L"}

# Names of the patient-level models whose twins hold personal data (reads are audited).
SENSITIVE = (PATIENT, GLUCOSE_SYSTEM, NS + "UvaPadovaPatient;1", NS + "BergmanPatient;1",
             NS + "HovorkaPatient;1", NS + "Circulation;1", NS + "DrugCompartment;1", NS + "MedicalDevice;1")


def _quantity(kind: str, name: str, description: str, *, semantic: str = "", unit: str = "",
              schema: str = "double", writable: bool | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"@type": [kind, semantic] if semantic else kind, "name": name, "schema": schema,
                            "description": description}
    if semantic:
        item["unit"] = unit
    if writable is not None:
        item["writable"] = writable
    return item


def _base(dtmi: str, display: str, description: str, contents: list[dict[str, Any]],
          extends: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"@context": CONTEXT, "@id": dtmi, "@type": "Interface", "displayName": display,
                           "description": description, "contents": contents}
    if extends:
        doc["extends"] = extends
    return doc


def _behaviour(behaviour: Any, display: str, description: str, extends: str | None = None) -> dict[str, Any]:
    doc = interface(behaviour, display, description)
    if extends:
        doc["extends"] = extends
    return doc


def models() -> list[dict[str, Any]]:
    """Every interface of the pack, bases first."""
    patient = _base(PATIENT, "Patient", "A person the twins describe: only what the models need (no names).", [
        _quantity("Property", "age", "age in years (UCUM a)", semantic="TimeSpan", unit="year", writable=True),
        _quantity("Property", "weight", "body weight (kg)", semantic="Mass", unit="kilogram", writable=True),
        {"@type": "Property", "name": "sex", "writable": True, "description": "administrative sex, as FHIR's",
         "schema": {"@type": "Enum", "valueSchema": "string", "enumValues": [
             {"name": n, "enumValue": n} for n in ("female", "male", "other", "unknown")]}},
        {"@type": "Property", "name": "virtualPatient", "schema": "string", "writable": True,
         "description": "the UVA/Padova virtual patient whose parameters the twin uses (e.g. adult#001)"},
        {"@type": "Property", "name": "ward", "schema": "string", "writable": True,
         "description": "where the patient is cared for (scopes tokens)"},
        {"@type": "Property", "name": "fhirId", "schema": "string", "writable": True,
         "description": "the Patient resource this twin was imported from (pseudonymous on export)"},
        _quantity("Telemetry", "glucose", "blood glucose, measured (UCUM mg/dL)"),
        _quantity("Telemetry", "heartRate", "heart rate, measured (UCUM /min)"),
        _quantity("Telemetry", "systolicPressure", "systolic blood pressure, measured", semantic="Pressure",
                  unit="millimetresOfMercury"),
        _quantity("Telemetry", "diastolicPressure", "diastolic blood pressure, measured", semantic="Pressure",
                  unit="millimetresOfMercury"),
        _quantity("Property", "predictedGlucose", "glucose expected 30 minutes ahead from the recent trend "
                  "(UCUM mg/dL)", writable=False),
        _quantity("Telemetry", "insulinBolus", "bolus insulin given (UCUM U)"),
        _quantity("Telemetry", "basalRate", "basal insulin rate set (UCUM U/h)"),
        _quantity("Telemetry", "carbohydrateIntake", "carbohydrate eaten (UCUM g)"),
        {"@type": "Relationship", "name": "hasOrgan", "description": "an organ system of this patient"},
        {"@type": "Relationship", "name": "hasDrug", "target": NS + "DrugCompartment;1",
         "description": "a drug in this patient"},
    ])
    system = _base(GLUCOSE_SYSTEM, "Glucose-insulin system",
                   "How glucose and insulin evolve in a person with type 1 diabetes (a model extends this).", [])
    device = _base(DEVICE, "Medical device", "A device on or near a patient.", [
        {"@type": "Property", "name": "serialNumber", "schema": "string", "writable": True},
        {"@type": "Property", "name": "manufacturer", "schema": "string", "writable": True},
        {"@type": "Relationship", "name": "monitors", "target": PATIENT, "description": "the patient it serves"},
    ])
    cgm = _base(CGM, "Continuous glucose monitor", "Interstitial glucose every few minutes.", [
        _quantity("Telemetry", "glucose", "interstitial glucose (UCUM mg/dL)"),
        _quantity("Property", "sampleInterval", "time between readings", semantic="TimeSpan", unit="minute",
                  writable=True),
    ], DEVICE)
    pump = _base(PUMP, "Insulin pump", "Basal and bolus insulin.", [
        _quantity("Telemetry", "basalRate", "basal rate delivered (UCUM U/h)"),
        _quantity("Telemetry", "bolus", "bolus delivered (UCUM U)"),
        _quantity("Property", "insulinOnBoard", "insulin still acting (UCUM U)", writable=False),
    ], DEVICE)
    cuff = _base(CUFF, "Blood-pressure cuff", "Systolic and diastolic pressure.", [
        _quantity("Telemetry", "systolicPressure", "systolic blood pressure", semantic="Pressure",
                  unit="millimetresOfMercury"),
        _quantity("Telemetry", "diastolicPressure", "diastolic blood pressure", semantic="Pressure",
                  unit="millimetresOfMercury"),
    ], DEVICE)
    heart = _base(HEART_RATE, "Heart-rate monitor", "Heart rate.", [
        _quantity("Telemetry", "heartRate", "heart rate (UCUM /min, beats per minute)"),
    ], DEVICE)
    return [
        patient, system, device, cgm, pump, cuff, heart,
        _behaviour(UvaPadova(), "UVA/Padova patient",
                   "The UVA/Padova T1D model (2008) with a virtual patient's parameters.", GLUCOSE_SYSTEM),
        _behaviour(Bergman(), "Bergman minimal-model patient", "The Bergman minimal model with a meal and "
                   "subcutaneous insulin.", GLUCOSE_SYSTEM),
        _behaviour(Hovorka(), "Hovorka patient", "The Hovorka (2004) glucose-insulin model.", GLUCOSE_SYSTEM),
        _behaviour(Circulation(), "Heart and circulation",
                   "A time-varying-elastance left ventricle ejecting into a Windkessel."),
        _behaviour(DrugCompartment(), "Drug compartment",
                   "One- or two-compartment pharmacokinetics with first-order absorption."),
    ]


__all__ = ["CGM", "CONTEXT", "CUFF", "DEVICE", "GLUCOSE_SYSTEM", "HEART_RATE", "PATIENT", "PUMP", "SENSITIVE",
           "UCUM", "models"]
