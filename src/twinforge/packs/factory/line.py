"""A bottling line to connect to: five machines (filler, capper, labeller, conveyor, packer)
simulated on a real OPC UA server (asyncua) that loads the PackML companion nodeset.

Each machine is an instance of ``BottlingMachineType``, a subtype of PackML's
``PackMLBaseObjectType`` that adds the values a line monitor reads:

- ``State`` (Int32): the PackML state number of ISA-TR88.00.02 (6 Execute, 5 Suspended, 11
  Held, 2 Stopped, ...), with ``StateName``;
- ``ProcessedCount`` and ``DefectiveCount`` (cumulative, as PackML's ``ProdProcessedCount`` and
  ``ProdDefectiveCount``);
- ``StopReason`` (why the machine is not in Execute: ``jam``, ``starved``, ...);
- ``IdealRate`` (units per minute at the rated speed) and ``CurMachSpeed`` (units per minute
  now).

`MachineSim` is the behaviour, stepped on a clock and seeded, so a run is repeatable: the
machine runs at 85-100 % of its rated speed, makes defects at its rate, has faults (Held, a
breakdown) and micro-stops (Suspended, short) at random with the given means.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from twinforge.errors import MissingDependency

PACKML_URI = "http://opcfoundation.org/UA/PackML/"
LINE_URI = "urn:twinforge:bottling"
PACKML_STATES = {
    1: "Clearing", 2: "Stopped", 3: "Starting", 4: "Idle", 5: "Suspended", 6: "Execute", 7: "Stopping",
    8: "Aborting", 9: "Aborted", 10: "Holding", 11: "Held", 12: "Unholding", 13: "Suspending",
    14: "Unsuspending", 15: "Resetting", 16: "Completing", 17: "Complete",
}
EXECUTE, SUSPENDED, HELD, STOPPED = 6, 5, 11, 2
FAULTS = ("jam", "drive fault", "sensor fault", "material out")


@dataclass(frozen=True, slots=True)
class MachineSpec:
    """One machine: its rated speed, defect share and the means of its stops (seconds)."""

    name: str
    rate: float  # units per minute at rated speed
    defects: float  # share of output that is defective
    mtbf: float  # mean run time between faults
    mttr: float  # mean length of a fault
    micro_every: float  # mean run time between micro-stops
    micro_length: float = 20.0  # mean length of a micro-stop

    @property
    def ideal_cycle_time(self) -> float:
        """Seconds per unit at rated speed."""
        return 60.0 / self.rate


LINE: tuple[MachineSpec, ...] = (
    MachineSpec("Filler", 120.0, 0.012, 900.0, 120.0, 240.0),
    MachineSpec("Capper", 130.0, 0.004, 1500.0, 90.0, 300.0),
    MachineSpec("Labeller", 125.0, 0.008, 700.0, 150.0, 200.0),
    MachineSpec("Conveyor", 150.0, 0.0, 3600.0, 60.0, 900.0),
    MachineSpec("Packer", 125.0, 0.003, 1200.0, 180.0, 360.0),
)


class MachineSim:
    """A machine's state and counters, stepped on a clock (seconds)."""

    def __init__(self, spec: MachineSpec, rng: np.random.Generator, *, speedup: float = 1.0) -> None:
        self.spec = spec
        self.rng = rng
        self.speedup = speedup  # stops come this many times as often, and last as many times less
        self.state = EXECUTE
        self.reason = ""
        self.until = 0.0  # when the current stop ends
        self.processed = 0
        self.defective = 0
        self.speed = spec.rate
        self._carry = 0.0  # fraction of a unit made but not yet counted
        self._next_fault = self._draw(spec.mtbf)
        self._next_micro = self._draw(spec.micro_every)

    def _draw(self, mean: float) -> float:
        return float(self.rng.exponential(mean / self.speedup))

    def step(self, now: float, dt: float) -> None:
        """Advance by ``dt`` seconds to ``now``."""
        if self.state != EXECUTE:
            if now < self.until:
                self.speed = 0.0
                return
            self.state, self.reason = EXECUTE, ""
        self._next_fault -= dt
        self._next_micro -= dt
        if self._next_fault <= 0:
            self._stop(now, HELD, str(self.rng.choice(FAULTS)), self.spec.mttr)
            self._next_fault = self._draw(self.spec.mtbf)
            return
        if self._next_micro <= 0:
            self._stop(now, SUSPENDED, "starved" if self.rng.random() < 0.5 else "blocked", self.spec.micro_length)
            self._next_micro = self._draw(self.spec.micro_every)
            return
        self.speed = self.spec.rate * float(self.rng.uniform(0.85, 1.0))
        self._carry += self.speed * dt / 60.0
        made = int(self._carry)
        self._carry -= made
        if made:
            bad = int(self.rng.binomial(made, self.spec.defects))
            self.processed += made
            self.defective += bad

    def _stop(self, now: float, state: int, reason: str, mean: float) -> None:
        self.state, self.reason, self.speed = state, reason, 0.0
        self.until = now + max(1.0, self._draw(mean))

    def values(self) -> dict[str, Any]:
        return {"State": self.state, "StateName": PACKML_STATES[self.state], "ProcessedCount": self.processed,
                "DefectiveCount": self.defective, "StopReason": self.reason, "CurMachSpeed": round(self.speed, 2),
                "IdealRate": self.spec.rate}


def packml_nodeset() -> bytes:
    """The PackML companion nodeset (NodeSet2 XML) shipped with the pack."""
    return gzip.decompress((resources.files("twinforge.packs.factory") / "data" / "Opc.Ua.PackML.NodeSet2.xml.gz")
                           .read_bytes())


_VARIABLES = (("State", "Int32", EXECUTE), ("StateName", "String", "Execute"), ("ProcessedCount", "UInt32", 0),
              ("DefectiveCount", "UInt32", 0), ("StopReason", "String", ""), ("CurMachSpeed", "Double", 0.0),
              ("IdealRate", "Double", 0.0))


class LineServer:
    """The line as an OPC UA server on its own thread: ``opc.tcp://HOST:PORT/line/``, the
    machines under ``Objects/Line1``, stepped every ``tick`` seconds of wall time."""

    def __init__(self, port: int, *, host: str = "127.0.0.1", line: tuple[MachineSpec, ...] = LINE, seed: int = 7,
                 tick: float = 1.0, speedup: float = 1.0, name: str = "Line1") -> None:
        self.url = f"opc.tcp://{host}:{port}/line/"
        self.name = name
        self.tick = tick
        rng = np.random.default_rng(seed)
        self.machines = [MachineSim(spec, np.random.default_rng(rng.integers(2**32)), speedup=speedup)
                         for spec in line]
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._nodes: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._run, name="opcua-line", daemon=True)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # surfaced by start()
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        try:
            from asyncua import ua
            from asyncua.common.instantiate_util import instantiate
            from asyncua.server.server import Server
        except ImportError:  # pragma: no cover - asyncua is in the [opcua] extra
            raise MissingDependency("the factory line needs asyncua: pip install 'twinforge[opcua]'") from None
        import logging

        logging.getLogger("asyncua").setLevel(logging.ERROR)
        server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_server_name("twinforge bottling line")
        with tempfile.TemporaryDirectory() as folder:
            xml = Path(folder) / "packml.xml"
            xml.write_bytes(packml_nodeset())
            await server.import_xml(str(xml))
        pk = await server.get_namespace_index(PACKML_URI)
        base = await server.nodes.root.get_child(["0:Types", "0:ObjectTypes", "0:BaseObjectType",
                                                  f"{pk}:PackMLBaseObjectType"])
        ns = await server.register_namespace(LINE_URI)
        kind = await base.add_object_type(ns, "BottlingMachineType")
        for name, variant, initial in _VARIABLES:
            var = await kind.add_variable(ns, name, initial, varianttype=getattr(ua.VariantType, variant))
            await var.set_modelling_rule(True)
        folder_node = await server.nodes.objects.add_folder(ns, self.name)
        for sim in self.machines:
            made = await instantiate(folder_node, kind, bname=f"{ns}:{sim.spec.name}",
                                     dname=ua.LocalizedText(sim.spec.name), idx=ns)
            machine = server.get_node(made[0])
            nodes = {name: await machine.get_child([f"{ns}:{name}"]) for name, _, _ in _VARIABLES}
            self._nodes.append(nodes)
            tag = await machine.get_child([f"{pk}:TagID"])
            await tag.write_value(f"{sim.spec.name.upper()}-01")
        self._stop = asyncio.Event()
        async with server:
            await self._publish(ua)
            self.ready.set()
            start = time.monotonic()
            last = 0.0
            while not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.tick)
                now = time.monotonic() - start
                for sim in self.machines:
                    sim.step(now, now - last)
                last = now
                await self._publish(ua)

    async def _publish(self, ua: Any) -> None:
        for sim, nodes in zip(self.machines, self._nodes, strict=True):
            for name, variant, _ in _VARIABLES:
                value = sim.values()[name]
                await nodes[name].write_value(ua.Variant(value, getattr(ua.VariantType, variant)))

    def start(self, timeout: float = 60.0) -> LineServer:
        self._thread.start()
        if not self.ready.wait(timeout):
            raise TimeoutError("the OPC UA line server did not start")
        if self.error is not None:
            raise self.error
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)

    def __enter__(self) -> LineServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def expected_availability(spec: MachineSpec) -> float:
    """The long-run share of time a machine of ``spec`` is in Execute (renewal reward)."""
    return 1.0 / (1.0 + spec.mttr / spec.mtbf + spec.micro_length / spec.micro_every)


def machine_ids(name: str = "Line1") -> list[str]:
    """The twin ids `twinforge connect opcua` gives the machines."""
    return [f"{name}-{spec.name}" for spec in LINE]


__all__ = ["EXECUTE", "FAULTS", "HELD", "LINE", "LINE_URI", "PACKML_STATES", "PACKML_URI", "STOPPED", "SUSPENDED",
           "LineServer", "MachineSim", "MachineSpec", "expected_availability", "machine_ids", "packml_nodeset"]
