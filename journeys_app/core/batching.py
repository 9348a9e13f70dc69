"""Micro-batching: concurrent single-item calls become one batched call.

Embedding 32 texts costs about as much as embedding 3, and one transaction for eight requests'
writes about as much as one for one: the calls that arrive while one batch runs go together in
the next (optionally after a short wait for more).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """Calls `run` once for the items waiting (up to `max_batch`), after waiting up to `max_wait_ms`
    for more. With no wait this is continuous batching: a lone call runs at once, and the calls
    that arrive while a batch runs go together in the next one.

    A batch that fails fails all its callers, unless `isolate_failures`: then each item runs again
    alone, so that one caller's bad item costs the others nothing (a group commit's transaction).
    """

    def __init__(
        self,
        run: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
        isolate_failures: bool = False,
    ) -> None:
        self._run = run
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.isolate_failures = isolate_failures
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="micro-batcher")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("batcher closed"))

    async def _loop(self) -> None:
        """Runs while calls are waiting (so no task outlives the work); the next call starts it."""
        loop = asyncio.get_running_loop()
        while not self._queue.empty():
            batch = [self._queue.get_nowait()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                if not self._queue.empty():  # what arrived while the last batch ran goes at once
                    batch.append(self._queue.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            live = [(item, future) for item, future in batch if not future.done()]  # skip cancelled callers
            if self.isolate_failures and len(live) > 1:
                try:
                    await self._settle(live)
                except Exception:
                    for one in live:
                        await self._settle([one], raising=False)
            elif live:
                await self._settle(live, raising=False)

    async def _settle(self, live: list[tuple[T, asyncio.Future[R]]], *, raising: bool = True) -> None:
        """Run these items and answer their callers; a failure raises, or fails the callers."""
        try:
            results = await self._run([item for item, _ in live])
            if len(results) != len(live):
                raise RuntimeError(f"batch of {len(live)} returned {len(results)} results")
        except Exception as exc:
            if raising:
                raise
            for _, future in live:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(live, results, strict=True):
            if not future.done():
                future.set_result(result)
