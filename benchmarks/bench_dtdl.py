"""`twinforge bench dtdl`: how fast DTDL parses, against merely reading the same JSON.

- RealEstateCore (767 interfaces, deep `extends` chains): `parse_models` against
  `json.loads` of the same text, in the same run.
- A folder of generated device models laid out as a models repository (10,000 device
  interfaces, each extending one of 100 family interfaces and holding a component of a
  shared DeviceInformation interface, with telemetry that has semantic types and units):
  loading every file with `json.load`, parsing them all as one batch, and parsing the
  devices alone with their dependencies fetched by `FolderResolver` from the folder.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import Any

from twinforge.benchmarking import timed
from twinforge.dtdl import parse_models
from twinforge.store.repository import FolderResolver, dtmi_to_path

CTX = ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"]
INFO = "dtmi:bench:DeviceInformation;1"


def generate(root: Path, devices: int, families: int = 100) -> list[Path]:
    """A models repository of ``devices`` device models; returns the device files."""
    def write(model: dict[str, Any]) -> Path:
        file = root / dtmi_to_path(model["@id"])
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(model))
        return file

    write({"@context": CTX, "@id": INFO, "@type": "Interface", "contents": [
        {"@type": "Property", "name": name, "schema": "string"} for name in ("manufacturer", "model", "swVersion")]})
    for f in range(families):
        write({"@context": CTX, "@id": f"dtmi:bench:family:Family{f};1", "@type": "Interface",
               "contents": [{"@type": "Property", "name": "serialNumber", "schema": "string"},
                            {"@type": "Component", "name": "info", "schema": INFO}]})
    out = []
    for d in range(devices):
        out.append(write({
            "@context": CTX, "@id": f"dtmi:bench:device:Device{d};1", "@type": "Interface",
            "displayName": {"en": f"Device {d}"},
            "extends": f"dtmi:bench:family:Family{d % families};1",
            "contents": [
                {"@type": ["Telemetry", "Temperature"], "name": "temperature", "schema": "double",
                 "unit": "degreeCelsius"},
                {"@type": ["Property", "Pressure"], "name": "setpoint", "schema": "double", "unit": "kilopascal",
                 "writable": True},
                {"@type": "Property", "name": "mode", "schema": {
                    "@type": "Enum", "valueSchema": "string",
                    "enumValues": [{"name": n, "enumValue": n} for n in ("off", "eco", "boost")]}},
                {"@type": "Command", "name": "reboot", "request": {"name": "delay", "schema": "integer"}},
            ]}))
    return out


def main(quick: bool, progress: Any) -> dict[str, Any]:
    devices = 1_000 if quick else 10_000
    repeat = 3
    results: dict[str, Any] = {"devices": devices}
    progress("RealEstateCore")
    text = gzip.decompress(files("twinforge.packs").joinpath("data", "realestatecore.json.gz").read_bytes())
    documents = json.loads(text)
    results["rec_interfaces"] = len(documents)
    results["rec_json_s"], _ = timed(lambda: json.loads(text), repeat)
    results["rec_parse_s"], _ = timed(lambda: parse_models(json.loads(text)), repeat)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        progress(f"generating {devices:,} device models")
        device_files = generate(root, devices)
        every = sorted(root.rglob("*.json"))
        results["files"] = len(every)
        progress(f"json.load of {len(every):,} files")
        results["folder_json_s"], _ = timed(lambda: [json.loads(f.read_text()) for f in every], repeat)
        progress(f"parsing {len(every):,} files as one batch")
        results["folder_parse_s"], _ = timed(
            lambda: parse_models([json.loads(f.read_text()) for f in every]), repeat)
        progress(f"parsing {devices:,} device models, dependencies from the repository")
        results["devices_with_resolver_s"], _ = timed(
            lambda: parse_models([json.loads(f.read_text()) for f in device_files], resolver=FolderResolver(root)),
            repeat)
    results["rec_ratio"] = results["rec_parse_s"] / results["rec_json_s"]
    results["folder_ratio"] = results["folder_parse_s"] / results["folder_json_s"]
    return results


def report(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    r = results
    return [
        (f"RealEstateCore: parse {r['rec_interfaces']} interfaces", f"{r['rec_parse_s'] * 1000:.0f} ms",
         f"json.loads of the same text {r['rec_json_s'] * 1000:.1f} ms ({r['rec_ratio']:.0f}x)"),
        (f"repository folder: parse {r['files']:,} files as one batch", f"{r['folder_parse_s']:.2f} s",
         f"json.load of the same files {r['folder_json_s']:.2f} s ({r['folder_ratio']:.1f}x)"),
        (f"{r['devices']:,} device models, dependencies fetched from the folder",
         f"{r['devices_with_resolver_s']:.2f} s", "FolderResolver, one file per DTMI"),
        ("per device model", f"{r['folder_parse_s'] / r['files'] * 1e6:.0f} µs", "parse, resolve, check"),
    ]
