"""`twinforge health ...` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.requirements import need_module
from tests.test_cli import tf

need_module("fhir.resources")
need_module("scipy")

DATA = Path(__file__).parent / "data"


def test_patients_lists_the_thirty(tmp_path: Path) -> None:
    out = tf("health", "patients", "--json")
    rows = json.loads(out.stdout)
    assert out.returncode == 0 and len(rows) == 30
    adult = next(r for r in rows if r["name"] == "adult#001")
    assert adult["basalGlucose"] == 138.56 and adult["weight"] == 102.32
    assert "adult#001" in tf("health", "patients").stdout


def test_add_patient_then_what_if_and_optimise(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    assert tf("health", "add-patient", "bed-1", "--virtual", "adult#002", "--db", db).returncode == 0
    out = tf("health", "whatif", "bed-1", "--meal", "PT1H=60", "--bolus", "PT1H=5", "--horizon", "PT6H",
             "--step", "PT5M", "--json", "--db", db)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["twin"] == "bed-1-glucose" and result["delta"]["meanGlucose"] < 0
    table = tf("health", "whatif", "bed-1", "--meal", "PT1H=60", "--horizon", "PT2H", "--step", "PT10M", "--db", db)
    assert "time in range 70-180 (%)" in table.stdout
    best = tf("health", "optimise-bolus", "bed-1", "--meal", "PT1H=60", "--resolution", "1", "--horizon", "PT6H",
              "--step", "PT5M", "--json", "--db", db)
    choice = json.loads(best.stdout)
    assert choice["feasible"] and choice["kpis"]["timeBelow54"] == 0 and choice["units"] > 0
    bad = tf("health", "whatif", "bed-1", "--meal", "lunch", "--db", db)
    assert bad.returncode == 1 and "--meal lunch: give TIME=AMOUNT" in bad.stderr
    missing = tf("health", "whatif", "nobody", "--db", db)
    assert missing.returncode == 1 and "nobody" in missing.stderr and "Traceback" not in missing.stderr


def test_fhir_import_names_refusals_and_export_writes_a_valid_bundle(tmp_path: Path) -> None:
    from twinforge.packs.health.fhir_export import check_bundle

    db = f"sqlite:///{tmp_path / 'f.db'}"
    good = tf("health", "import-fhir", str(DATA / "synthea_ward.json"), "--db", db)
    assert good.returncode == 0 and "2 patient(s), 4 device(s)" in good.stdout
    bad = tf("health", "import-fhir", str(DATA / "synthea_bad.json"), "--db", db)
    assert bad.returncode == 2  # some refused: a script can tell
    assert "refused entry[4] (urn:uuid:" in bad.stderr and "'g/L'" in bad.stderr
    patient = json.loads(tf("health", "import-fhir", str(DATA / "synthea_ward.json"), "--json", "--db", db).stdout
                         )[0]["patients"][0]
    key = tmp_path / "key"
    key.write_text("ward secret\n")
    out = tmp_path / "p.json"
    done = tf("health", "export-fhir", patient, "--out", str(out), "--key-file", str(key), "--db", db)
    assert done.returncode == 0 and "(de-identified)" in done.stderr
    bundle = json.loads(out.read_text())
    check_bundle(bundle)
    assert patient not in out.read_text()
    nowhere = tf("health", "export-fhir", patient, "--out", str(tmp_path / "no" / "p.json"), "--db", db)
    assert nowhere.returncode == 1 and "no such folder" in nowhere.stderr


def test_population_percentiles() -> None:
    out = tf("health", "population", "--meal", "PT30M=40", "--bolus", "PT30M=40", "--horizon", "PT3H", "--step",
             "PT10M", "--json")
    result = json.loads(out.stdout)
    assert len(result["patients"]) == 30 and set(result["percentiles"]["timeInRange"]) == {"p5", "p25", "p50", "p75", "p95"}
