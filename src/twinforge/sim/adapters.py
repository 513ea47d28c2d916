"""Behaviours from other simulation tools: FMI co-simulation FMUs (fmpy) and discrete-event
processes (SimPy)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import numpy as np

from twinforge.errors import MissingDependency
from twinforge.sim.behaviour import Behaviour, Values, Var


class FmuBehaviour(Behaviour):
    """An FMI 2.0 or 3.0 co-simulation FMU animating a model: one FMU instance per twin.

    ``variables`` name twin properties; ``fmu_names`` maps a twin name to the FMU
    variable's name where they differ. Parameters, inputs and states are set as start
    values before initialisation; each step sets the inputs, calls ``doStep`` and reads
    back the states and outputs.
    """

    def __init__(self, path: str | Path, model: str, variables: tuple[Var, ...],
                 fmu_names: dict[str, str] | None = None) -> None:
        try:
            from fmpy import extract, read_model_description
        except ImportError:  # pragma: no cover - fmpy is in the [sim] extra
            raise MissingDependency("FMUs need fmpy: pip install 'twinforge[sim]'") from None
        self.path = str(path)
        self.model = model  # type: ignore[misc]
        self.variables = variables  # type: ignore[misc]
        self.fmu_names = fmu_names or {}
        self.description = read_model_description(self.path)
        if self.description.coSimulation is None:
            raise ValueError(f"{self.path} is not a co-simulation FMU")
        self.unzipped = extract(self.path)
        refs = {v.name: v.valueReference for v in self.description.modelVariables}
        self.refs: dict[str, int] = {}
        for var in variables:
            name = self.fmu_names.get(var.name, var.name)
            if name not in refs:
                raise ValueError(f"{self.path} has no variable '{name}' (it has: {', '.join(sorted(refs))})")
            self.refs[var.name] = refs[name]
        self.instances: list[Any] = []

    def fresh(self) -> FmuBehaviour:
        clone = copy.copy(self)
        clone.instances = []
        return clone

    def _set(self, fmu: Any, names: tuple[str, ...], values: Values, i: int) -> None:
        if not names:
            return
        refs = [self.refs[n] for n in names]
        data = [float(values[n][i]) for n in names]
        if self.description.fmiVersion.startswith("3"):
            fmu.setFloat64(refs, data)
        else:
            fmu.setReal(refs, data)

    def _get(self, fmu: Any, names: tuple[str, ...]) -> list[float]:
        refs = [self.refs[n] for n in names]
        if self.description.fmiVersion.startswith("3"):
            return list(fmu.getFloat64(refs))
        return list(fmu.getReal(refs))

    def initial(self, values: Values, rng: np.random.Generator) -> None:
        from fmpy.fmi2 import FMU2Slave
        from fmpy.fmi3 import FMU3Slave

        n = len(next(iter(values.values())))
        ident = self.description.coSimulation.modelIdentifier
        settable = self.names("parameter", "input", "state")
        for i in range(n):
            if self.description.fmiVersion.startswith("3"):
                fmu: Any = FMU3Slave(guid=self.description.guid, unzipDirectory=self.unzipped,
                                     modelIdentifier=ident, instanceName=f"twin{i}")
                fmu.instantiate()
                fmu.enterInitializationMode(startTime=0.0)
            else:
                fmu = FMU2Slave(guid=self.description.guid, unzipDirectory=self.unzipped,
                                modelIdentifier=ident, instanceName=f"twin{i}")
                fmu.instantiate()
                fmu.setupExperiment(startTime=0.0)
                fmu.enterInitializationMode()
            self._set(fmu, settable, values, i)
            fmu.exitInitializationMode()
            self.instances.append(fmu)
        self._read(values)

    def _read(self, values: Values) -> None:
        written = self.written()
        for i, fmu in enumerate(self.instances):
            for name, value in zip(written, self._get(fmu, written), strict=True):
                values[name][i] = value

    def step(self, t: float, dt: float, values: Values, rng: np.random.Generator) -> None:
        inputs = self.names("input")
        for i, fmu in enumerate(self.instances):
            self._set(fmu, inputs, values, i)
            fmu.doStep(currentCommunicationPoint=t, communicationStepSize=dt)
        self._read(values)

    def close(self) -> None:
        for fmu in self.instances:
            fmu.terminate()
            fmu.freeInstance()
        self.instances = []


class TwinView:
    """One twin's variables inside a fleet, as attributes (for SimPy processes)."""

    __slots__ = ("_i", "_values")

    def __init__(self, values: Values, i: int) -> None:
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_i", i)

    def __getattr__(self, name: str) -> float:
        values: Values = object.__getattribute__(self, "_values")
        return float(values[name][object.__getattribute__(self, "_i")])

    def __setattr__(self, name: str, value: float) -> None:
        values: Values = object.__getattribute__(self, "_values")
        values[name][object.__getattribute__(self, "_i")] = value


class SimPyBehaviour(Behaviour):
    """A discrete-event behaviour: ``process(env, twin, rng)`` is a SimPy process per twin
    that reads and sets the twin's variables (``twin.running = 0``) as events happen; each
    step runs the environment to the end of the step. Time is in seconds."""

    def process(self, env: Any, twin: TwinView, rng: np.random.Generator) -> Generator[Any, Any, Any]:
        raise NotImplementedError

    def fresh(self) -> SimPyBehaviour:
        clone = copy.copy(self)
        clone.env = None
        return clone

    env: Any = None
    after_step: Callable[[Values], None] | None = None

    def initial(self, values: Values, rng: np.random.Generator) -> None:
        try:
            import simpy
        except ImportError:  # pragma: no cover - simpy is in the [sim] extra
            raise MissingDependency("discrete-event behaviours need simpy: pip install 'twinforge[sim]'") from None
        self.env = simpy.Environment()
        n = len(next(iter(values.values())))
        for i in range(n):
            self.env.process(self.process(self.env, TwinView(values, i), rng))

    def step(self, t: float, dt: float, values: Values, rng: np.random.Generator) -> None:
        self.env.run(until=t + dt)


__all__ = ["FmuBehaviour", "SimPyBehaviour", "TwinView"]
