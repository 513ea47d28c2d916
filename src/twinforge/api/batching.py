"""Writes that arrive together share one transaction.

Under load many requests wait for the writer thread at once; `WriteBatcher` hands
everything pending to it as one call (one transaction, one commit), then answers each
request with its own result. Alone, a request is applied at once, as a batch of one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from twinforge.api.http import Workers

I = TypeVar("I")  # noqa: E741 - an item, as in the typing docs
R = TypeVar("R")


class WriteBatcher(Generic[I, R]):
    """Batches items for ``apply(items) -> results`` (one result per item, in order)."""

    def __init__(self, workers: Workers, apply: Callable[[Sequence[I]], Sequence[R]], *,
                 max_weight: int = 256, weight: Callable[[I], int] = lambda _: 1) -> None:
        self.workers = workers
        self.apply = apply
        self.max_weight = max_weight  # a batch stops growing past this much (one item at least)
        self.weight = weight
        self.batches = 0
        self._pending: list[tuple[I, asyncio.Future[R]]] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None  # held so the loop cannot drop it

    async def submit(self, item: I) -> R:
        """The result of ``item``, applied with whatever else is pending."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if not self._draining:
            self._draining = True
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                count = total = 0
                for item, _ in self._pending:
                    total += self.weight(item)
                    if count and total > self.max_weight:
                        break
                    count += 1
                taken, self._pending = self._pending[:count], self._pending[count:]
                try:
                    results = await self.workers.write(self.apply, [item for item, _ in taken])
                except Exception as exc:  # the store failed: every request of the batch learns it
                    for _, future in taken:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                self.batches += 1
                for (_, future), result in zip(taken, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._draining = False


__all__ = ["WriteBatcher"]
