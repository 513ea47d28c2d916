"""`twinforge health ...`: the health pack from the command line (virtual patients, patient
twins, FHIR in and out, what-if dosing, bolus optimisation, population runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from twinforge.cli.common import (
    DEFAULT_DB,
    DbOption,
    console,
    err,
    fail,
    open_graph,
    output,
    print_json,
    read_json,
)

health_app = typer.Typer(help="The health pack: patient twins, FHIR R4, what-if dosing.", no_args_is_help=True)

MealOption = Annotated[list[str] | None, typer.Option("--meal", help="TIME=GRAMS of carbohydrate (repeat), e.g. PT1H=60.")]
BolusOption = Annotated[list[str] | None, typer.Option("--bolus", help="TIME=UNITS of insulin (repeat), e.g. PT1H=6.")]
HorizonOption = Annotated[str, typer.Option("--horizon", help="How long to simulate (ISO 8601).")]
StepOption = Annotated[str, typer.Option("--step", help="Simulation step (ISO 8601).")]
AsOfOption = Annotated[str | None, typer.Option("--as-of", help="Fork the patient as it was then (ISO time).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

KPI_LABELS = {"timeInRange": "time in range 70-180 (%)", "timeBelow70": "time below 70 (%)",
              "timeBelow54": "time below 54 (%)", "timeAbove180": "time above 180 (%)",
              "meanGlucose": "mean glucose (mg/dL)", "glucoseCv": "glucose CV (%)", "hypoEvents": "hypo events",
              "minGlucose": "lowest (mg/dL)", "maxGlucose": "highest (mg/dL)"}


def _pairs(items: list[str] | None, flag: str) -> list[tuple[float, float]]:
    from twinforge.durations import seconds

    out = []
    for item in items or []:
        when, _, amount = item.partition("=")
        try:
            value = float(amount)
        except ValueError:
            fail(f"{flag} {item}: give TIME=AMOUNT, e.g. PT1H=60")
        if value < 0:
            fail(f"{flag} {item}: the amount must be >= 0")
        out.append((seconds(when, flag) if not when.replace(".", "").isdigit() else float(when), value))
    return out


def _plan(meals: list[str] | None, boluses: list[str] | None, basal: float | None) -> Any:
    from twinforge.packs.health.whatif import DosingPlan

    if basal is not None and basal < 0:
        fail(f"--basal {basal}: a rate must be >= 0 (U/h)")
    return DosingPlan(basal, _pairs(boluses, "--bolus"), _pairs(meals, "--meal"))


def _kpi_table(title: str, columns: dict[str, dict[str, float]]) -> Table:
    table = Table(title=title)
    table.add_column("KPI")
    for name in columns:
        table.add_column(name, justify="right")
    for key, label in KPI_LABELS.items():
        table.add_row(label, *(f"{col[key]:,.1f}" for col in columns.values()))
    return table


@health_app.command("patients")
def patients(as_json: JsonOption = False) -> None:
    """List the 30 UVA/Padova virtual patients with their weight, basal glucose and therapy."""
    from twinforge.packs.health.patients import names, virtual_patient

    rows = [virtual_patient(n) for n in names()]
    if as_json:
        print_json([{"name": p.name, "age": p.age, "weight": p.weight, "basalGlucose": p.basal_glucose,
                     "basalRate": p.basal_rate, "carbRatio": p.carb_ratio, "correctionFactor": p.correction_factor}
                    for p in rows])
        return
    table = Table(title="UVA/Padova virtual patients (2008)")
    for col in ("name", "age (y)", "weight (kg)", "basal glucose (mg/dL)", "basal rate (U/h)", "carb ratio (g/U)"):
        table.add_column(col, justify="left" if col == "name" else "right")
    for p in rows:
        table.add_row(p.name, f"{p.age:g}", f"{p.weight:.1f}", f"{p.basal_glucose:.2f}", f"{p.basal_rate:.3f}",
                      f"{p.carb_ratio:g}")
    console.print(table)


@health_app.command("add-patient")
def add_patient(
    patient: Annotated[str, typer.Argument(help="Twin id of the patient, e.g. bed-1.")],
    virtual: Annotated[str, typer.Option("--virtual", help="The virtual patient whose physiology it gets.")] = "adult#001",
    ward: Annotated[str, typer.Option("--ward", help="The ward (scopes tokens).")] = "",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Create a patient twin with its UVA/Padova glucose-insulin system, a CGM and an insulin pump."""
    from twinforge.packs.health.twins import create_patient

    graph = open_graph(db, write=True)
    try:
        ids = create_patient(graph, patient, virtual=virtual, ward=ward)
    finally:
        graph.close()
    console.print(f"created {ids.patient} ({virtual}) with {ids.glucose}, {ids.cgm} and {ids.pump} in {db}",
                  markup=False)


@health_app.command("import-fhir")
def import_fhir(
    bundles: Annotated[list[str], typer.Argument(help="FHIR R4 bundle files (JSON), or - for standard input.")],
    db: DbOption = DEFAULT_DB,
    as_json: JsonOption = False,
) -> None:
    """Import FHIR R4 bundles: patients, devices, observations and insulin doses become twins,
    relationships and history; refused entries are listed and the rest imported."""
    from twinforge.packs.health.fhir import import_bundle

    graph = open_graph(db, write=True)
    reports = []
    try:
        for source in bundles:
            report = import_bundle(graph, read_json(source))
            reports.append({"bundle": source, **report.to_json()})
            if not as_json:
                skipped = ", ".join(f"{n} {k}" for k, n in report.skipped.items()) or "nothing"
                console.print(f"{source}: {len(report.patients)} patient(s), {len(report.devices)} device(s), "
                              f"{report.relationships} relationship(s), {report.points} history point(s); "
                              f"skipped {skipped}; refused {len(report.refused)}", markup=False)
                for refused in report.refused:
                    err.print(f"  refused {refused}", markup=False)
    finally:
        graph.close()
    if as_json:
        print_json(reports)
    if any(r["refused"] for r in reports):
        raise typer.Exit(2)


@health_app.command("export-fhir")
def export_fhir(
    patient: Annotated[str, typer.Argument(help="Twin id of the patient.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the bundle here (else standard output).")] = None,
    identified: Annotated[bool, typer.Option("--identified", help="Keep real dates and ids (not de-identified).")] = False,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="Pseudonym and date-shift key (else "
                                                  "TWINFORGE_DEID_KEY, else a random one).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="History from (ISO time).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="History to (ISO time).")] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Export a patient twin, its devices and history as a FHIR R4 bundle, de-identified unless
    --identified."""
    from twinforge.packs.health.fhir_export import export_patient

    output(out, "--out", (".json",))
    if key_file is not None and not key_file.is_file():
        fail(f"--key-file {key_file}: no such file")
    key = key_file.read_bytes().strip() if key_file is not None else None
    graph = open_graph(db)
    try:
        bundle = export_patient(graph, patient, identified=identified, key=key, start=start, end=end)
    finally:
        graph.close()
    text = json.dumps(bundle, indent=1)
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n")
        err.print(f"wrote {len(bundle['entry'])} resources to {out}" + ("" if identified else " (de-identified)"),
                  markup=False)


@health_app.command("whatif")
def whatif(
    patient: Annotated[str, typer.Argument(help="Twin id of the patient.")],
    meal: MealOption = None,
    bolus: BolusOption = None,
    basal: Annotated[float | None, typer.Option("--basal", help="Variant basal rate (U/h).")] = None,
    baseline_bolus: Annotated[list[str] | None, typer.Option("--baseline-bolus",
                                                             help="TIME=UNITS given in the baseline too.")] = None,
    horizon: HorizonOption = "P1D",
    step: StepOption = "PT1M",
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Compare the baseline (the meals, the twin's own basal) with a variant (--bolus, --basal)
    on a fork of the patient: time in range, below 70 and 54, mean, CV, hypo events."""
    from twinforge.packs.health.whatif import DosingPlan, compare

    meals = _pairs(meal, "--meal")
    base = DosingPlan(None, _pairs(baseline_bolus, "--baseline-bolus"), meals)
    variant = _plan(meal, [*(baseline_bolus or []), *(bolus or [])], basal)
    graph = open_graph(db)
    try:
        result = compare(graph, patient, base, variant, horizon=horizon, step=step, as_of=as_of)
    finally:
        graph.close()
    result.pop("runs")
    if as_json:
        print_json(result)
        return
    console.print(_kpi_table(f"what-if on {patient} ({result['twin']}) over {horizon}",
                             {"baseline": result["baseline"], "variant": result["variant"],
                              "change": result["delta"]}))


@health_app.command("optimise-bolus")
def optimise_bolus_command(
    patient: Annotated[str, typer.Argument(help="Twin id of the patient.")],
    meal: MealOption = None,
    at: Annotated[str | None, typer.Option("--at", help="When the bolus is given (default: with the first meal).")] = None,
    resolution: Annotated[float, typer.Option("--resolution", help="Dose grid (U).")] = 0.25,
    high: Annotated[float | None, typer.Option("--max", help="Largest dose tried (U).")] = None,
    horizon: HorizonOption = "PT8H",
    step: StepOption = "PT2M",
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """The bolus that maximises time in range with no time below 54 mg/dL."""
    from twinforge.durations import seconds
    from twinforge.packs.health.whatif import DosingPlan, optimise_bolus

    plan = DosingPlan(meals=_pairs(meal, "--meal"))
    graph = open_graph(db)
    try:
        choice = optimise_bolus(graph, patient, plan, at=seconds(at, "--at") if at else None, high=high,
                                resolution=resolution, horizon=horizon, step=step, as_of=as_of)
    finally:
        graph.close()
    if as_json:
        print_json({"units": choice.units, "feasible": choice.feasible, "kpis": choice.kpis,
                    "candidates": [{"units": u, **k} for u, k in choice.candidates]})
        return
    if not choice.feasible:
        err.print("warning: every dose tried spends time below 54 mg/dL; showing the best of them", markup=False)
    console.print(f"bolus: {choice.units:g} U ({len(choice.candidates)} doses tried)", markup=False)
    console.print(_kpi_table("with that bolus", {"value": choice.kpis}))


@health_app.command("population")
def population_command(
    meal: MealOption = None,
    bolus: Annotated[list[str] | None, typer.Option("--bolus", help="TIME=GRAMS the bolus covers (repeat): "
                                                    "units = grams / each patient's carb ratio.")] = None,
    basal: Annotated[float | None, typer.Option("--basal", help="Basal rate for all (U/h); default each one's.")] = None,
    horizon: HorizonOption = "P1D",
    step: StepOption = "PT1M",
    workers: Annotated[int, typer.Option("--workers", help="Dask worker processes (0: run here).")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Run one plan on the 30 virtual patients: KPIs per patient and population percentiles."""
    from twinforge.packs.health.whatif import population

    result = population(_plan(meal, bolus, basal), horizon=horizon, step=step, workers=workers)
    if as_json:
        print_json(result)
        return
    pct = result["percentiles"]
    table = Table(title=f"30 virtual patients over {horizon}")
    table.add_column("KPI")
    for q in next(iter(pct.values())):
        table.add_column(q, justify="right")
    for key, label in KPI_LABELS.items():
        table.add_row(label, *(f"{v:,.1f}" for v in pct[key].values()))
    console.print(table)


__all__ = ["add_patient", "export_fhir", "health_app", "import_fhir", "optimise_bolus_command", "patients",
           "population_command", "whatif"]
