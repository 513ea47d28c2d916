"""Behaviour models: how twins of a DTDL model evolve in time.

A behaviour names the model it animates and its variables, each a property or telemetry
of that model with a role:

- ``parameter``: read from the twin (or its default), constant unless a scenario overrides it;
- ``input``: like a parameter, but meant to change in time (a scenario may give a series);
- ``state``: read from the twin as the initial value, advanced by the behaviour;
- ``output``: computed by the behaviour from the others (and written back).

The engine hands a behaviour the values of a whole fleet (every twin of its model) as
NumPy arrays, one per variable, and calls ``step(t, dt, values, rng)`` to advance them by
``dt`` seconds; a behaviour that can do so computes the whole fleet at once. Behaviours
that think in one twin at a time subclass `PerTwinBehaviour`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

if TYPE_CHECKING:
    from twinforge.dtdl import ModelSet

Role = Literal["parameter", "input", "state", "output"]
Values = dict[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class Var:
    """One variable of a behaviour: a property or telemetry name of the model it animates."""

    name: str
    role: Role
    unit: str = ""  # as people write it (°C, W, K/W), for docs and plots
    default: float = 0.0
    description: str = ""
    semantic: str = ""  # a DTDL semantic type with its unit, e.g. "Temperature:degreeCelsius"
    telemetry: bool = False  # a Telemetry of the model (else a Property)


class Behaviour:
    """The protocol (and base class) of behaviour models."""

    model: ClassVar[str] = ""  # the DTMI it animates (and every model extending it)
    variables: ClassVar[tuple[Var, ...]] = ()

    def initial(self, values: Values, rng: np.random.Generator) -> None:
        """Adjust the starting values of a fleet (e.g. compute outputs); values change in place."""

    def fresh(self) -> Behaviour:
        """The behaviour to use for one fleet in one run: itself, unless it keeps per-run
        state of its own (an FMU instance, a SimPy environment), then a new copy."""
        return self

    def step(self, t: float, dt: float, values: Values, rng: np.random.Generator) -> None:
        """Advance the fleet from ``t`` by ``dt`` seconds, in place."""
        raise NotImplementedError

    # -- derived --------------------------------------------------------

    def names(self, *roles: Role) -> tuple[str, ...]:
        """The names of the variables with these roles, in order."""
        return tuple(v.name for v in self.variables if v.role in roles)

    def var(self, name: str) -> Var | None:
        """The variable called ``name``, or None."""
        return next((v for v in self.variables if v.name == name), None)

    def written(self) -> tuple[str, ...]:
        """What the behaviour writes back to twins: its states and outputs."""
        return self.names("state", "output")


class PerTwinBehaviour(Behaviour):
    """A behaviour written for one twin at a time: ``step_one`` gets and returns plain floats."""

    def step_one(self, t: float, dt: float, values: dict[str, float]) -> dict[str, float]:
        """Advance one twin by ``dt``: the new values of what changed."""
        raise NotImplementedError

    def step(self, t: float, dt: float, values: Values, rng: np.random.Generator) -> None:
        names = list(values)
        n = len(next(iter(values.values()))) if values else 0
        for i in range(n):
            one = {name: float(values[name][i]) for name in names}
            for name, value in self.step_one(t, dt, one).items():
                values[name][i] = value


class OdeBehaviour(Behaviour):
    """An ODE system integrated with ``scipy.integrate.solve_ivp``. Subclasses give the
    ``states`` and ``derivatives`` (vectorised over the fleet); every twin of the fleet is
    integrated together as one system, so a fleet costs one solver call per step."""

    method: ClassVar[str] = "RK45"
    rtol: ClassVar[float] = 1e-6
    atol: ClassVar[float] = 1e-9
    _last_step: float = 0.0  # the solver's last full step (s), the next call's first try

    def integrated(self) -> tuple[str, ...]:
        """The states the solver integrates: every state, unless a subclass keeps some
        (bookkeeping updated between steps) out."""
        return self.names("state")

    def fresh(self) -> OdeBehaviour:
        """A copy per run: the solver's step carried from call to call stays within one run."""
        import copy

        twin = copy.copy(self)
        twin._last_step = 0.0
        return twin

    def derivatives(self, t: float, states: Values, values: Values) -> Values:
        """d(state)/dt of every integrated state, over the fleet."""
        raise NotImplementedError

    def outputs(self, values: Values) -> None:
        """Compute outputs from the states (in place); none by default."""

    def initial(self, values: Values, rng: np.random.Generator) -> None:
        self.outputs(values)

    def step(self, t: float, dt: float, values: Values, rng: np.random.Generator) -> None:
        from scipy.integrate import solve_ivp

        names = self.integrated()
        n = len(values[names[0]])
        y0 = np.concatenate([values[s] for s in names])

        def rhs(time: float, y: np.ndarray) -> np.ndarray:
            states = {s: y[k * n:(k + 1) * n] for k, s in enumerate(names)}
            d = self.derivatives(time, states, values)
            return np.concatenate([d[s] for s in names])

        # Start from the step the solver reached last time (the error control still shrinks it
        # when needed): left to itself, each call would creep up from a tiny first step, which
        # near a steady state costs four times the evaluations.
        first = min(self._last_step, dt) if self._last_step else None
        solution = solve_ivp(rhs, (t, t + dt), y0, method=self.method, rtol=self.rtol, atol=self.atol,
                             first_step=first)
        if not solution.success:
            raise RuntimeError(f"{type(self).__name__}: the ODE solver failed: {solution.message}")
        if len(solution.t) > 2:  # the last step may be cut short to land on t + dt
            self._last_step = float(solution.t[-2] - solution.t[-3])
        elif len(solution.t) == 2:
            self._last_step = float(solution.t[-1] - solution.t[-2])
        end = solution.y[:, -1]
        for k, s in enumerate(names):
            values[s] = end[k * n:(k + 1) * n].copy()
        self.outputs(values)


class Registry:
    """Which behaviour animates which model: a model's own, else its nearest ancestor's."""

    def __init__(self, behaviours: Iterable[Behaviour] = ()) -> None:
        self._by_model: dict[str, Behaviour] = {}
        for b in behaviours:
            self.register(b)

    def register(self, behaviour: Behaviour | type[Behaviour]) -> Behaviour:
        """Add a behaviour (an instance or a class); it replaces one for the same model."""
        instance = behaviour() if isinstance(behaviour, type) else behaviour
        if not instance.model:
            raise ValueError(f"{type(instance).__name__} names no model (set `model = 'dtmi:...'`)")
        self._by_model[instance.model] = instance
        return instance

    def __contains__(self, model: object) -> bool:
        return model in self._by_model

    def models(self) -> list[str]:
        """The models that have a behaviour of their own."""
        return sorted(self._by_model)

    def for_model(self, models: ModelSet, dtmi: str) -> Behaviour | None:
        """The behaviour of ``dtmi``: its own, else the one of the closest model it extends."""
        if dtmi in self._by_model:
            return self._by_model[dtmi]
        best: tuple[int, Behaviour] | None = None
        for model, behaviour in self._by_model.items():
            if model in models and models.is_of_model(dtmi, model):
                depth = len(models.descendants(model))  # the most specific base has the fewest
                if best is None or depth < best[0]:
                    best = (depth, behaviour)
        return best[1] if best else None


def default_registry() -> Registry:
    """A registry holding the shipped behaviours (`twinforge.sim.library`) and those of the
    domain packs (health: glucose-insulin, circulation, pharmacokinetics)."""
    from twinforge.packs.health.behaviours import BEHAVIOURS as HEALTH
    from twinforge.sim.library import SHIPPED

    return Registry(b() for b in (*SHIPPED, *HEALTH))


def as_float(value: Any, default: float) -> float:
    """A twin value as a float for the engine (booleans as 0/1; anything else: the default)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    return default


__all__ = ["Behaviour", "OdeBehaviour", "PerTwinBehaviour", "Registry", "Role", "Values", "Var",
           "as_float", "default_registry"]
