"""Import and delete jobs as Azure Digital Twins runs them: accepted at once, run in the
background one after another, their state kept as records in the store so every server on
the store lists them.

An import job reads a bulk file (`jobs/bulk.py`) from ``inputBlobUri`` and writes its log
(NDJSON) to ``outputBlobUri``. The URIs are local paths, ``file://`` URIs, or ``http(s)://``
URLs (read with GET, written with PUT), so a self-hosted store or a signed blob URL works;
only those the operator allows (`jobs/blobs.py`: ``--blob-root``, ``--blob-allow``).
Sections are applied in order, twins and relationships in chunks that are each all or
nothing; a failure or a cancel stops the job where it is, without undoing what was done
(as in ADT). A delete job removes every relationship, twin and model.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from twinforge.documents import ImportJobDocument, check
from twinforge.errors import InvalidArgument, TwinforgeError
from twinforge.graph import TwinGraph
from twinforge.jobs.blobs import BlobPolicy
from twinforge.jobs.bulk import read_bulk
from twinforge.records import Collection, Kind

log = logging.getLogger("twinforge.jobs")
CHUNK = 5_000
KEEP = timedelta(days=7)  # how long a finished job is listed (its purgeDateTime)
MAX_JOBS = 100  # jobs kept per kind (finished ones purge after KEEP)
FINISHED = {"succeeded", "failed", "cancelled"}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Cancelled(Exception):
    """An import job was cancelled between chunks."""


@dataclass(slots=True)
class _Run:
    kind: str  # imports | deletions
    job_id: str
    cancel: threading.Event


class JobManager:
    """Keeps ADT's import and delete jobs and runs them on a background thread."""

    def __init__(self, graph: TwinGraph, *, write: Callable[[Callable[[], Any]], Any] | None = None,
                 blobs: BlobPolicy | None = None) -> None:
        """``write`` runs a change of the graph (the API passes its writer thread; by
        default the job thread changes the graph itself); ``blobs`` says where jobs may read
        and write (by default nowhere)."""
        self.graph = graph
        self.blobs = blobs or BlobPolicy()
        self._write: Callable[[Callable[[], Any]], Any] = write or (lambda fn: fn())
        self.store = graph.store
        self._jobs: dict[str, Collection[dict[str, Any]]] = {
            "imports": Collection(graph.store, Kind("job.imports", "import job", "ImportJobNotFound")),
            "deletions": Collection(graph.store, Kind("job.deletions", "delete job", "DeleteJobNotFound"))}
        self._queue: list[_Run] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._current: _Run | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.done: Callable[[str, str], None] | None = None  # called with (kind, id) when a job ends

    # -- state ------------------------------------------------------------

    def _save(self, kind: str, job: dict[str, Any]) -> None:
        self._jobs[kind].put(job["id"], job)

    def get(self, kind: str, job_id: str) -> dict[str, Any]:
        """One job (``kind`` is imports or deletions); `NotFound` with ADT's code."""
        return self._jobs[kind].get(job_id)

    def list_jobs(self, kind: str) -> list[dict[str, Any]]:
        """The jobs of a kind, oldest first; finished ones past their purge time are dropped."""
        now = _now()
        out = []
        for key, job in self._jobs[kind].items():
            if job.get("purgeDateTime") and job["purgeDateTime"] < now:
                self._jobs[kind].discard(key)
                continue
            out.append(job)
        return sorted(out, key=lambda j: (j["createdDateTime"], j["id"]))

    def _update(self, kind: str, job_id: str, **changes: Any) -> dict[str, Any]:
        job = self.get(kind, job_id)
        job.update(changes)
        job["lastActionDateTime"] = _now()
        if changes.get("status") in FINISHED:
            job["finishedDateTime"] = job["lastActionDateTime"]
            finished = datetime.fromisoformat(job["finishedDateTime"].replace("Z", "+00:00"))
            job["purgeDateTime"] = (finished + KEEP).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        if kind == "deletions":
            job.pop("lastActionDateTime", None)
        self._save(kind, job)
        return job

    # -- the operations ---------------------------------------------------

    def add_import(self, job_id: str, body: Any) -> dict[str, Any]:
        """Accept an import job and queue it; 400 ValidationFailed for a bad request or an id in use."""
        check(ImportJobDocument, body, 'an import job ({"inputBlobUri": "...", "outputBlobUri": "..."})',
              code="ValidationFailed")
        if not job_id or len(job_id) > 128 or "/" in job_id:
            raise InvalidArgument("an import job id is 1-128 characters without '/'", code="ValidationFailed")
        for uri in (body["inputBlobUri"], body["outputBlobUri"]):
            self.blobs.check(uri)
        if self._jobs["imports"].exists(job_id):
            raise InvalidArgument(f"import job '{job_id}' exists already; delete it to reuse the id",
                                  code="ValidationFailed")
        self._check_limit("imports")
        now = _now()
        job = {"id": job_id, "inputBlobUri": body["inputBlobUri"], "outputBlobUri": body["outputBlobUri"],
               "status": "notstarted", "createdDateTime": now, "lastActionDateTime": now}
        self._save("imports", job)
        self._enqueue(_Run("imports", job_id, threading.Event()))
        return job

    def add_delete(self, job_id: str | None = None, timeout_minutes: int | None = None) -> dict[str, Any]:
        """Accept a delete job (``job_id`` from Operation-Id, else a new uuid) and queue it."""
        job_id = job_id or str(uuid.uuid4())
        if self._jobs["deletions"].exists(job_id):
            raise InvalidArgument(f"Operation-Id '{job_id}' already exists", code="ValidationFailed")
        self._check_limit("deletions")
        job: dict[str, Any] = {"id": job_id, "status": "notstarted", "createdDateTime": _now()}
        if timeout_minutes is not None:
            job["timeoutInMinutes"] = timeout_minutes
        self._save("deletions", job)
        self._enqueue(_Run("deletions", job_id, threading.Event()))
        return job

    def delete_import(self, job_id: str) -> None:
        """Forget a finished import job, freeing its id."""
        job = self.get("imports", job_id)
        if job["status"] not in FINISHED:
            raise InvalidArgument(f"import job '{job_id}' is {job['status']}; cancel it first",
                                  code="ValidationFailed")
        self._jobs["imports"].discard(job_id)

    def cancel_import(self, job_id: str) -> dict[str, Any]:
        """Cancel a queued job at once, a running one between chunks."""
        job = self.get("imports", job_id)
        if job["status"] in FINISHED:
            raise InvalidArgument(f"import job '{job_id}' has already {job['status']}", code="ValidationFailed")
        with self._lock:
            queued = next((r for r in self._queue if r.kind == "imports" and r.job_id == job_id), None)
            if queued is not None:
                self._queue.remove(queued)
                return self._update("imports", job_id, status="cancelled")
            if self._current is not None and self._current.job_id == job_id:
                self._current.cancel.set()
        return self._update("imports", job_id, status="cancelling")

    def _check_limit(self, kind: str) -> None:
        if len(self.list_jobs(kind)) >= MAX_JOBS:
            raise InvalidArgument(f"at most {MAX_JOBS} {'import' if kind == 'imports' else 'delete'} jobs "
                                  "are kept; delete finished ones",
                                  code="JobLimitReached")

    # -- the runner -------------------------------------------------------

    def _enqueue(self, run: _Run) -> None:
        with self._lock:
            self._queue.append(run)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="twinforge-jobs", daemon=True)
                self._thread.start()
            self._wake.notify()

    def close(self) -> None:
        """Stop the runner (a running job is cancelled between chunks)."""
        with self._lock:
            self._stopping = True
            if self._current is not None:
                self._current.cancel.set()
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wait(self, timeout: float = 30.0) -> None:
        """Block until every queued job has run (for tests and the CLI)."""
        deadline = datetime.now(UTC) + timedelta(seconds=timeout)
        while True:
            with self._lock:
                if not self._queue and self._current is None:
                    return
            if datetime.now(UTC) > deadline:
                raise TimeoutError("jobs still running")
            threading.Event().wait(0.02)

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                self._current = self._queue.pop(0)
                run = self._current
            try:
                if run.kind == "imports":
                    self._run_import(run)
                else:
                    self._run_delete(run)
            finally:
                with self._lock:
                    self._current = None
                if self.done is not None:
                    self.done(run.kind, run.job_id)

    def _run_import(self, run: _Run) -> None:
        job = self._update("imports", run.job_id, status="running")
        log: list[bytes] = []

        def note(log_type: str, details: dict[str, Any]) -> None:
            log.append(orjson.dumps({"timestamp": _now(), "jobId": run.job_id, "jobType": "Import",
                                     "logType": log_type, "details": details}))

        note("Info", {"status": "Started"})
        counts = {"models": 0, "twins": 0, "relationships": 0}
        try:
            bulk = read_bulk(self.blobs.read(job["inputBlobUri"]).splitlines())
            if bulk.models:
                self._write(lambda: self.graph.add_models(bulk.models))
                counts["models"] = len(bulk.models)
                note("Info", {"section": "Models", "status": "Succeeded", "count": len(bulk.models)})
            for section, items, create in (("Twins", bulk.twins, self.graph.create_twins),
                                           ("Relationships", bulk.relationships, self.graph.create_relationships)):
                for start in range(0, len(items), CHUNK):
                    if run.cancel.is_set():
                        raise Cancelled
                    part = items[start:start + CHUNK]
                    counts[section.lower()] += self._write(lambda c=create, p=part: c(p))  # type: ignore[misc]
                if items:
                    note("Info", {"section": section, "status": "Succeeded", "count": len(items)})
        except Cancelled:
            note("Info", {"status": "Cancelled", **counts})
            self._finish(run, log, status="cancelled")
            return
        except TwinforgeError as exc:
            if exc.code == "BlobNotAllowed":
                self._audit_refusal(run.job_id, exc)
            note("Error", {"status": "Failed", "code": exc.code, "error": exc.message, **counts})
            self._finish(run, log, status="failed", error={"code": exc.code, "message": exc.message})
            return
        except Exception as exc:  # a broken store or network: the job fails, the server goes on
            note("Error", {"status": "Failed", "error": str(exc), **counts})
            self._finish(run, log, status="failed", error={"code": "InternalError", "message": str(exc)})
            return
        note("Info", {"status": "Succeeded", **counts})
        self._finish(run, log, status="succeeded")

    def _finish(self, run: _Run, log: list[bytes], *, status: str, error: dict[str, str] | None = None) -> None:
        job = self.get("imports", run.job_id)
        try:
            self.blobs.write(job["outputBlobUri"], b"\n".join(log) + b"\n")
        except (OSError, httpx.HTTPError, TwinforgeError) as exc:
            if isinstance(exc, TwinforgeError) and exc.code == "BlobNotAllowed":
                self._audit_refusal(run.job_id, exc)
            if error is None:
                status, error = "failed", {"code": "ValidationFailed",
                                           "message": f"cannot write the log to {job['outputBlobUri']}: {exc}"}
        changes: dict[str, Any] = {"status": status}
        if error is not None:
            changes["error"] = error
        self._update("imports", run.job_id, **changes)

    def _audit_refusal(self, job_id: str, exc: TwinforgeError) -> None:
        """A blob refused while the job ran (a name that now resolves elsewhere, a redirect)."""
        from twinforge.auth import record_audit

        try:
            entry = {"actor": f"import job {job_id}", "method": "JOB", "status": 400, "path": f"/jobs/imports/{job_id}",
                     "code": exc.code, "error": exc.message}
            self._write(lambda: record_audit(self.graph, entry))
        except Exception:  # the job's own log says it anyway
            log.warning("could not audit the refusal of import job %s", job_id, exc_info=True)

    def _run_delete(self, run: _Run) -> None:
        job = self._update("deletions", run.job_id, status="running")
        limit = job.get("timeoutInMinutes")
        deadline = datetime.now(UTC) + timedelta(minutes=limit) if limit else None
        try:
            self._write(lambda: delete_everything(self.graph, deadline))
        except TwinforgeError as exc:
            self._update("deletions", run.job_id, status="failed", error={"code": exc.code, "message": exc.message})
            return
        self._update("deletions", run.job_id, status="succeeded")


def delete_everything(graph: TwinGraph, deadline: datetime | None = None) -> None:
    """Delete every relationship, twin and model (what an ADT delete job does)."""

    def check_time() -> None:
        if deadline is not None and datetime.now(UTC) > deadline:
            raise InvalidArgument("the delete job ran past its timeout", code="TimeoutError")

    while True:
        twins = graph.list_twins(limit=1000)
        if not twins:
            break
        for twin in twins:
            check_time()
            for rel in graph.list_relationships(twin["$dtId"], limit=100_000):
                graph.delete_relationship(twin["$dtId"], rel["$relationshipId"])
        for twin in twins:
            graph.delete_twin(twin["$dtId"])
    remaining = [info.id for info in graph.list_models()]
    while remaining:
        check_time()
        needed = {dep for m in remaining for dep in graph.models.dependencies(m) if dep != m}
        leaves = [m for m in remaining if m not in needed] or remaining[:1]
        for model_id in leaves:
            graph.delete_model(model_id)
        remaining = [m for m in remaining if m not in leaves]


__all__ = ["BlobPolicy", "JobManager", "delete_everything"]
