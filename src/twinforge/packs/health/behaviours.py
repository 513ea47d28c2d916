"""Every behaviour of the health pack, for the simulation registry."""

from __future__ import annotations

from twinforge.packs.health.circulation import Circulation
from twinforge.packs.health.glucose import Bergman, Hovorka, UvaPadova
from twinforge.packs.health.pharmacokinetics import DrugCompartment
from twinforge.sim.behaviour import Behaviour

BEHAVIOURS: tuple[type[Behaviour], ...] = (UvaPadova, Bergman, Hovorka, Circulation, DrugCompartment)

__all__ = ["BEHAVIOURS"]
