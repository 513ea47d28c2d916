"""The evaluator's child process (``python -m twinforge.analytics.worker URL``) stops cleanly when
the server closes its input, however early that happens."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from twinforge.analytics.alerts import AlertService
from twinforge.analytics.engine import AnalyticsEngine
from twinforge.analytics.evaluator import Evaluator
from twinforge.graph import TwinGraph


def test_input_closed_at_once_stops_the_child_without_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    TwinGraph.open(url).close()
    for _ in range(3):  # the server may stop while the child is still starting (a Ctrl-C right after serve)
        done = subprocess.run([sys.executable, "-m", "twinforge.analytics.worker", url],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
        err = done.stderr.decode()
        assert done.returncode == 0, err
        assert "Traceback" not in err, err


def test_close_from_another_thread_while_starting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's stop can reach the child between its evaluator's thread being made and started."""
    graph = TwinGraph.open(f"sqlite:///{tmp_path / 's.db'}")
    errors: list[BaseException] = []
    real_start = threading.Thread.start

    def slow_start(thread: threading.Thread) -> None:
        if thread.name == "twinforge-evaluator":  # the stop arrives while this thread is being started
            closer = threading.Thread(target=close)
            real_start(closer)
            closer.join(15)
        real_start(thread)

    def close() -> None:
        try:
            evaluator.close()
        except BaseException as exc:  # the test reports whatever close raised
            errors.append(exc)

    try:
        engine = AnalyticsEngine(graph)
        evaluator = Evaluator(graph, engine, AlertService(graph, engine))
        monkeypatch.setattr(threading.Thread, "start", slow_start)
        evaluator.start()
        monkeypatch.undo()
        assert not errors, errors
        assert evaluator._thread is not None
        evaluator._thread.join(15)
        assert not evaluator._thread.is_alive()  # it saw the stop and ended
    finally:
        monkeypatch.undo()
        graph.close()
