"""Training beside other work: native thread pools wait passively and take the cores that are
free, so a CPU-burning process beside RUL training slows it by its fair share, not by the
25x that spinning OpenMP threads cost; the model does not depend on the thread count."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.requirements import missing, need_module

need_module("lightgbm")
from twinforge.analytics import rul  # noqa: E402
from twinforge.analytics.threads import cores, free_cores  # noqa: E402

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cmapss" / "train_FD001.txt"


@pytest.fixture(scope="module")
def engines() -> np.ndarray:
    if not DATA.exists():
        missing(f"C-MAPSS FD001 is not at {DATA}")
    data = rul.read_cmapss(DATA)
    return data[data[:, 0] <= 12]  # small: the burners below slow every other test running meanwhile


def test_openmp_waits_passively_once_analytics_is_imported() -> None:
    out = subprocess.run([sys.executable, "-c", "import os, twinforge.analytics; print(os.environ['OMP_WAIT_POLICY'])"],
                         capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                               if k != "OMP_WAIT_POLICY"}, check=True)
    assert out.stdout.strip() == "PASSIVE"
    assert 1 <= free_cores() <= cores()


def test_training_beside_a_cpu_burner_takes_its_fair_share(engines: np.ndarray) -> None:
    def timed() -> tuple[float, rul.RulModel]:
        start = time.perf_counter()
        model = rul.train(engines, seed=1, members=1)
        return time.perf_counter() - start, model

    quiet, alone = timed()
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores())]
    try:
        time.sleep(0.3)
        busy, beside = timed()
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    # One burner per core halves the share of each core; spinning threads made it 25x.
    assert busy < 3 * quiet + 1.0, (quiet, busy)
    # The thread count (whatever the load let it take) changes nothing in the model.
    probe = engines[engines[:, 0] == 3][:, 5:26]
    assert alone.predict_history(probe) == beside.predict_history(probe)
