"""One score for every detector: the tail probability of its statistic, on a log scale.

Each detector turns a value into a standardised deviation ``z`` (how many of its own spread
units the value lies from what it expected) and the degrees of freedom of that spread (how
many values it rests on). `Tail` turns the pair into a score in [0, 1]:

1. ``z`` is made comparable across warm-up: a deviation measured against a spread estimated
   from ``d`` values is a Student t with ``d`` degrees of freedom, converted to the normal
   deviation with the same tail (so the second value of a stream scores low, not 1e10).
2. ``u = log(1 + |z|)`` is compared with the recent distribution of ``u`` (an exponentially
   weighted mean and variance, starting from what ``|z|`` of normal noise gives, so the
   scale is right from the first values); anomalies are clipped before they are learnt, so a
   burst does not teach the detector that bursts are ordinary.
3. The score is ``-log10(tail) / 10``, capped at 1: the tail probability is ``10^(-10·score)``.
   A score of 0.3 happens about once in 1,000 ordinary values, 0.5 once in 100,000; 1 is a
   tail of 1e-10 or less. So one threshold means the same on every series and detector.
"""

from __future__ import annotations

import math

U_MEAN = 0.5347  # E[log(1 + |Z|)] for Z ~ N(0, 1)
U_STD = 0.3175
PRIOR = 30.0  # the normal-noise guess weighs like this many values
DECADES = 10.0  # a score of 1 is a tail of 1e-10
_SQRT2 = math.sqrt(2.0)


def normal_equivalent(z: float, dof: float) -> float:
    """The normal deviation with the same tail as a Student t of ``dof`` degrees of freedom
    at ``z`` (Wallace's approximation; exact enough for a score)."""
    if dof >= 200 or z <= 0:
        return z
    dof = max(dof, 1.0)
    return (1.0 - 1.0 / (8.0 * dof)) * math.sqrt(dof * math.log1p(z * z / dof))


def score_of_tail(tail: float) -> float:
    """A tail probability as a score in [0, 1] (0.3: once in a thousand; 1: 1e-10 or rarer)."""
    if tail >= 1.0:
        return 0.0
    return min(1.0, -math.log10(max(tail, 1e-300)) / DECADES)


class Tail:
    """Scores standardised deviations by how rare they are among this stream's recent ones."""

    __slots__ = ("alpha", "mean", "var", "weight")

    def __init__(self, window: int = 2000) -> None:
        self.alpha = 1.0 / max(2, window)
        self.mean = U_MEAN
        self.var = U_STD * U_STD
        self.weight = PRIOR  # how much the current mean and variance rest on

    @staticmethod
    def u_of(z: float, dof: float = math.inf) -> float:
        """The statistic the calibration follows: log(1 + |z|), z made normal-equivalent."""
        if not math.isfinite(z):
            z = 1e12
        return math.log1p(normal_equivalent(abs(z), dof))

    def tail_u(self, u: float) -> float:
        """The probability of a ``u`` at least this large (one-sided)."""
        return 0.5 * math.erfc((u - self.mean) / (math.sqrt(self.var) * _SQRT2))

    def tail(self, z: float, dof: float = math.inf) -> float:
        return self.tail_u(self.u_of(z, dof))

    def score(self, z: float, dof: float = math.inf) -> float:
        return score_of_tail(self.tail(z, dof))

    def learn(self, z: float, dof: float = math.inf) -> None:
        self.learn_u(self.u_of(z, dof))

    def learn_u(self, u: float) -> None:
        sd = math.sqrt(self.var)
        u = min(u, self.mean + 3.0 * sd)  # an anomaly does not widen what is ordinary
        # The weight of the newest value: 1/(n+prior) at first (a running mean), alpha later.
        self.weight += 1.0
        a = max(self.alpha, 1.0 / self.weight)
        diff = u - self.mean
        self.mean += a * diff
        self.var = max((1.0 - a) * (self.var + a * diff * diff), 1e-4)


__all__ = ["DECADES", "Tail", "normal_equivalent", "score_of_tail"]
