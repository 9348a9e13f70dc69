"""Micro-batching of concurrent calls, for inference batches and group commits (a fake batch function)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from journeys_app.core.batching import MicroBatcher


async def test_concurrent_calls_share_one_batch_and_keep_their_order() -> None:
    batches: list[list[int]] = []

    async def double(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        return [i * 2 for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(double, max_batch=8, max_wait_ms=20)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(20)))
    await batcher.close()
    assert results == [i * 2 for i in range(20)]
    assert [len(b) for b in batches] == [8, 8, 4]


async def test_with_no_wait_a_lone_call_runs_at_once_and_the_next_ones_share_a_batch() -> None:
    batches: list[list[int]] = []
    gate = asyncio.Event()

    async def slow(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        if len(batches) == 1:
            await gate.wait()
        return list(items)

    batcher: MicroBatcher[int, int] = MicroBatcher(slow, max_batch=8, max_wait_ms=0)
    first = asyncio.create_task(batcher.submit(0))
    await asyncio.sleep(0.01)
    assert batches == [[0]]  # not waiting for company
    rest = [asyncio.create_task(batcher.submit(i)) for i in (1, 2, 3)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(first, *rest) == [0, 1, 2, 3]
    assert batches == [[0], [1, 2, 3]]  # they arrived while the first batch ran
    await batcher.close()


async def test_a_failing_batch_fails_each_caller_and_the_batcher_recovers() -> None:
    calls = 0

    async def flaky(items: Sequence[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("model crashed")
        return [s.upper() for s in items]

    batcher: MicroBatcher[str, str] = MicroBatcher(flaky, max_wait_ms=5)
    failed = await asyncio.gather(batcher.submit("a"), batcher.submit("b"), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in failed)
    assert await batcher.submit("c") == "C"
    await batcher.close()


async def test_a_wrong_result_count_is_an_error_not_a_hang() -> None:
    async def short(items: Sequence[int]) -> list[int]:
        return []

    batcher: MicroBatcher[int, int] = MicroBatcher(short, max_wait_ms=1)
    with pytest.raises(RuntimeError, match="returned 0 results"):
        await asyncio.wait_for(batcher.submit(1), 2)
    await batcher.close()


async def test_cancelled_callers_are_skipped() -> None:
    seen: list[list[int]] = []
    gate = asyncio.Event()

    async def slow(items: Sequence[int]) -> list[int]:
        seen.append(list(items))
        await gate.wait()
        return list(items)

    batcher: MicroBatcher[int, int] = MicroBatcher(slow, max_batch=1, max_wait_ms=1)
    first = asyncio.create_task(batcher.submit(1))
    second = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0.05)
    second.cancel()
    gate.set()
    assert await first == 1
    await asyncio.sleep(0.05)
    assert seen == [[1]]  # the cancelled call never reached the backend
    await batcher.close()


async def test_with_isolated_failures_one_bad_item_fails_only_its_caller() -> None:
    batches: list[list[str]] = []

    async def write(items: Sequence[str]) -> list[str]:
        batches.append(list(items))
        if "bad" in items:
            raise ValueError("constraint violated")
        return [s.upper() for s in items]

    batcher: MicroBatcher[str, str] = MicroBatcher(write, max_wait_ms=5, isolate_failures=True)
    answers = await asyncio.gather(*(batcher.submit(s) for s in ("a", "bad", "c")), return_exceptions=True)
    assert answers[0] == "A" and answers[2] == "C"
    assert isinstance(answers[1], ValueError)
    assert batches == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]


async def test_no_task_outlives_the_work() -> None:
    async def echo(items: Sequence[int]) -> list[int]:
        return list(items)

    batcher: MicroBatcher[int, int] = MicroBatcher(echo, max_wait_ms=0)
    assert await batcher.submit(1) == 1
    await asyncio.sleep(0)
    assert batcher._task is not None and batcher._task.done()
    assert await batcher.submit(2) == 2  # the next call starts it again
