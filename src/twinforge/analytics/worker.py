"""The evaluator in a process of its own, so detectors and alert rules use another core than
ingest (in one process they share the interpreter lock, and ingest slowed to a third).

A server starts ``python -m twinforge.analytics.worker STORE_URL`` with pipes: the worker runs
the `Evaluator` over the same store (the lease, the cursor and the records are all there), and
writes JSON lines on its standard output: batches of live announcements (anomaly scores, RUL
estimates, for `/stream`) and its status every second (for `/health`). It exits when its
standard input closes, that is when the server stops or dies, which frees its lease.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

if __name__ == "__main__":  # the terminal's Ctrl-C is for the server, also while this child still imports
    signal.signal(signal.SIGINT, signal.SIG_IGN)
from typing import Any

import orjson

from twinforge.outages import RestartDelay

log = logging.getLogger("twinforge.evaluator")


class EvaluatorProcess:
    """The server's side: starts the worker, reads what it says, stops it."""

    def __init__(self, url: str, *, announce: Callable[[list[tuple[str, str, dict[str, Any]]]], None] | None = None,
                 wanted: Callable[[], bool] = lambda: True) -> None:
        self.url = url
        self.announce = announce  # gets each batch of (kind, twin, data)
        self.wanted = wanted  # whether announcements are worth passing on (someone could take them)
        self.proc: subprocess.Popen[bytes] | None = None
        self._status: dict[str, Any] = {"leading": False, "process": "starting"}
        self._reader: threading.Thread | None = None
        self.restarts = 0
        self._stopping = False
        self._delay = RestartDelay()
        self._started = 0.0

    def _spawn(self) -> None:
        # In a process group of its own: a terminal's Ctrl-C (or a signal to the server's group)
        # is for the server, which stops the worker by closing its input, also while the worker
        # still imports (numpy, before any of its code could ignore SIGINT).
        self._started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "twinforge.analytics.worker", self.url],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, process_group=0)
        self._reader = threading.Thread(target=self._read, args=(self.proc,), name="twinforge-evaluator-pipe",
                                        daemon=True)
        self._reader.start()

    def start(self) -> None:
        self._spawn()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b'{"announce"') and (self.announce is None or not self.wanted()):
                continue  # nobody could take them: not even decoded
            try:
                message = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if "status" in message:
                self._status = message["status"]
            elif "announce" in message and self.announce is not None:
                self.announce([tuple(item) for item in message["announce"]])
        code = proc.wait()
        # (the wait also lets a signal to the whole process group, Ctrl-C or a service stop, reach us)
        wait = self._delay.after(time.monotonic() - self._started)
        deadline = time.monotonic() + wait
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if not self._stopping:  # it died: say so, and start another (the lease passes to whoever is next)
            self.restarts += 1
            self._status = {**self._status, "leading": False, "lastError": f"the evaluator process exited ({code}); "
                                                                             "restarted"}
            log.error("the evaluator process exited with %s; restarting it", code)
            self._spawn()

    def wake(self) -> None:
        """A write was committed (the worker polls the store on its own)."""

    def close(self) -> None:
        self._stopping = True
        proc = self.proc
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):  # it is already gone
                proc.stdin.close()  # the worker stops when its input closes
        try:
            proc.wait(3)  # it finishes its round; its cursor is in the store, so cutting it short loses nothing
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def status(self) -> dict[str, Any]:
        return {**self._status, "process": self.proc.pid if self.proc else None, "restarts": self.restarts}


def main(url: str) -> None:
    from twinforge.analytics.alerts import AlertService
    from twinforge.analytics.engine import AnalyticsEngine
    from twinforge.analytics.evaluator import Evaluator
    from twinforge.graph import TwinGraph

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Ctrl-C reaches the whole process group: the server stops us (by closing our input), so a
    # KeyboardInterrupt here would only print a traceback and look like a crash.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(19)  # ingest first: when the cores are busy, the evaluator waits (it catches up after)
    out = sys.stdout.buffer
    lock = threading.Lock()
    pending: list[tuple[str, str, dict[str, Any]]] = []

    def send(message: dict[str, Any]) -> None:
        with lock:
            try:
                out.write(orjson.dumps(message, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
                out.flush()
            except (BrokenPipeError, OSError):
                os._exit(0)  # the server is gone

    graph = TwinGraph.open(url, create=False)
    engine = AnalyticsEngine(graph, announce=lambda kind, twin, data: pending.append((kind, twin, data)))
    alerts = AlertService(graph, engine)
    evaluator = Evaluator(graph, engine, alerts)

    def watch() -> None:  # the server closes our input when it stops, or its death does
        sys.stdin.buffer.read()
        evaluator.close()
        graph.close()
        os._exit(0)

    # A round reads up to 20,000 events and makes several objects of each: with the default
    # thresholds the collector kept re-scanning the detectors' state, 1.0-1.2 s of CPU in a 12 s
    # run at 75 % of the broker's pace, against 0.2 s with these (the evaluator's CPU fell by a
    # tenth; docs/benchmarks.md). What exists now lives as long as the process: never scan it.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    evaluator.start()  # before the watcher: input closed at once must find it started
    threading.Thread(target=watch, name="twinforge-evaluator-stdin", daemon=True).start()
    last_status = 0.0
    while True:
        time.sleep(0.05)
        if pending:
            batch = pending[:]
            del pending[: len(batch)]
            send({"announce": batch})
        if time.monotonic() - last_status >= 1.0:
            last_status = time.monotonic()
            send({"status": evaluator.status()})


if __name__ == "__main__":
    main(sys.argv[1])


__all__ = ["EvaluatorProcess", "main"]
