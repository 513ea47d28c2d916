"""Bayesian online change-point detection (Adams & MacKay, 2007) as a streaming detector.

The stream is a sequence of regimes, each normal with an unknown mean and variance (a
normal-gamma prior, centred on a slow average of the stream and scaled by its variance). After
each value the posterior over the current regime's age (run length, kept up to ``max_run``) is
updated with a constant hazard (``1 / expected_run``). A value is scored by its Student-t
deviation from the most probable regime, so after a level shift the new regime is adopted
within a few values instead of scoring high until a window has forgotten the old level.
"""

from __future__ import annotations

import math

import numpy as np

from twinforge.analytics.detectors.base import Ewma, Streaming, floor


class ChangePoint(Streaming):
    def __init__(self, expected_run: float = 250.0, max_run: int = 200, warmup: int = 20,
                 calibration: int = 2000) -> None:
        super().__init__(warmup, calibration)
        self.hazard = 1.0 / expected_run
        self.max_run = max_run
        self.prior = Ewma(alpha=0.01, warmup=1)
        self.a0, self.k0 = 1.0, 1.0
        self.probs = np.ones(1)
        self.mu = np.zeros(1)
        self.kappa = np.full(1, self.k0)
        self.alpha = np.full(1, self.a0)
        self.beta = np.ones(1)
        # The Student-t normaliser per regime age: alpha is a0 + age / 2 at every age.
        dof = 2 * (self.a0 + np.arange(max_run + 1) / 2)
        self._norm = np.array([math.lgamma((d + 1) / 2) - math.lgamma(d / 2) - 0.5 * math.log(d * math.pi)
                               for d in dof])

    def _prior_beta(self) -> float:
        var = max(self.prior.var, floor(self.prior.mean) ** 2)
        return self.a0 * var

    def _student(self, x: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scale2 = self.beta * (self.kappa + 1) / (self.alpha * self.kappa)
        dof = 2 * self.alpha
        return (x - self.mu) / np.sqrt(scale2), dof, scale2

    def deviation(self, x: float) -> tuple[float, float]:
        if self.n < 2:
            return 0.0, 0.0
        best = int(np.argmax(self.probs))
        t, dof, _ = self._student(x)
        return abs(float(t[best])), float(dof[best])

    def update(self, x: float) -> None:
        if self.n == 0:
            self.prior.learn_one(x)
            self.mu[:] = x
            self.beta[:] = self._prior_beta()
            return
        t, dof, scale2 = self._student(x)
        logpdf = self._norm[: len(t)] - 0.5 * np.log(scale2) - (dof + 1) / 2 * np.log1p(t * t / dof)
        weights = self.probs * np.exp(logpdf - logpdf.max())
        growth = weights * (1 - self.hazard)
        change = float(weights.sum() * self.hazard)
        probs = np.concatenate([[change], growth])
        mu = np.concatenate([[self.prior.mean], (self.kappa * self.mu + x) / (self.kappa + 1)])
        beta = np.concatenate([[self._prior_beta()],
                               self.beta + self.kappa * (x - self.mu) ** 2 / (2 * (self.kappa + 1))])
        kappa = np.concatenate([[self.k0], self.kappa + 1])
        alpha = np.concatenate([[self.a0], self.alpha + 0.5])
        if len(probs) > self.max_run:  # the oldest regimes merge into the longest kept
            probs[self.max_run - 1] += probs[self.max_run:].sum()
            probs, mu, beta, kappa, alpha = (a[: self.max_run] for a in (probs, mu, beta, kappa, alpha))
        total = probs.sum()
        self.probs = probs / total if total > 0 else np.eye(1, len(probs))[0]
        self.mu, self.beta, self.kappa, self.alpha = mu, beta, kappa, alpha
        self.prior.learn_one(x)


__all__ = ["ChangePoint"]
