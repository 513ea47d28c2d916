"""Native thread pools that yield the cores when others need them.

LightGBM (and scikit-learn) run OpenMP thread teams whose idle threads spin, by default, waiting
for the next parallel region: on shared cores that starves the other processes and themselves
(training slowed 25x beside other work). `quiet_openmp` asks every OpenMP runtime loaded after
it to wait passively (``OMP_WAIT_POLICY=PASSIVE``; a value the user set is kept); `free_cores`
is how many threads a pool should take: the cores this process may use less the load already
running on them (the one-minute load average), at least one. ``TWINFORGE_THREADS`` overrides it.
"""

from __future__ import annotations

import os


def quiet_openmp() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("KMP_BLOCKTIME", "0")  # (Intel's runtime, if that is the one loaded)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def free_cores() -> int:
    forced = os.environ.get("TWINFORGE_THREADS")
    if forced and forced.isdigit() and int(forced) > 0:
        return int(forced)
    n = cores()
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - no load average on this system
        return n
    return max(1, min(n, int(n - load + 0.5)))


__all__ = ["cores", "free_cores", "quiet_openmp"]
