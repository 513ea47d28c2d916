"""Group commit for HTTP ingestion: requests that arrive together share one transaction.

Each request hands its updates to `GroupCommitter.submit` and awaits its own result; the
committer applies everything pending as one batch in a worker thread (so the event loop
keeps serving meanwhile), then splits the outcome back per request. Updates of one twin
from several requests then cost one document write, and the commit is paid once.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from twinforge.ingest.core import Ingestor, IngestResult, Update
from twinforge.store.base import DeadLetter


@dataclass
class _Submission:
    updates: list[Update]
    letters: list[DeadLetter]
    future: asyncio.Future[IngestResult]


class GroupCommitter:
    def __init__(self, ingestor: Ingestor, *, max_updates: int = 200_000) -> None:
        self.ingestor = ingestor
        self.max_updates = max_updates
        self._pending: list[_Submission] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    async def submit(self, updates: list[Update], letters: list[DeadLetter]) -> IngestResult:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestResult] = loop.create_future()
        self._pending.append(_Submission(updates, letters, future))
        if not self._draining:
            self._draining = True
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                taken: list[_Submission] = []
                size = 0
                while self._pending and (not taken or size + len(self._pending[0].updates) <= self.max_updates):
                    submission = self._pending.pop(0)
                    taken.append(submission)
                    size += len(submission.updates)
                updates = [u for s in taken for u in s.updates]
                letters = [d for s in taken for d in s.letters]
                try:
                    result = await asyncio.to_thread(self.ingestor.apply, updates, letters)
                except Exception as exc:  # the store failed: every request of the batch learns it
                    for submission in taken:
                        if not submission.future.done():
                            submission.future.set_exception(exc)
                    continue
                self.batches += 1
                start = 0
                for submission in taken:
                    end = start + len(submission.updates)
                    reasons = [f"{updates[r.index].twin}: {r.reason}" for r in result.refused if start <= r.index < end]
                    outcome = IngestResult(accepted=len(submission.updates) - len(reasons),
                                           rejected=len(reasons), errors=reasons[:20])
                    with contextlib.suppress(asyncio.InvalidStateError):
                        submission.future.set_result(outcome)
                    start = end
        finally:
            self._draining = False
