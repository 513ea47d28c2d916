"""An ensemble: several detectors on the same stream, one score.

Each member gives the tail probability of its own statistic; the ensemble's tail is the
smallest of them times the number of members (a Bonferroni bound: with k members, a value
that one member finds rare at p is rare at k·p for the ensemble), so the score keeps its
meaning (a tail probability on a log scale) and any one member's alarm is heard.
"""

from __future__ import annotations

from twinforge.analytics.detectors.base import Streaming
from twinforge.analytics.detectors.calibrate import score_of_tail


class Ensemble:
    def __init__(self, members: list[Streaming]) -> None:
        self.members = members

    @property
    def warming(self) -> bool:
        return any(m.warming for m in self.members)

    def tail_of(self, x: float) -> float:
        return min(1.0, len(self.members) * min(m.tail_of(x) for m in self.members))

    def score_one(self, x: float) -> float:
        return score_of_tail(self.tail_of(x))

    def learn_one(self, x: float) -> None:
        for m in self.members:
            m.learn_one(x)



__all__ = ["Ensemble"]
