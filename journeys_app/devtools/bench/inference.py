"""`journeys bench inference`: the CPU models alone, through Temporal, batched and one at a time.

Five figures from one run on one machine: raw classification batched and unbatched, no-op
activities through the same Temporal setup, classification through real activities with
micro-batching on and off, and copy generation tokens/s. On a small machine Temporal's own
cost per activity is of the same order as the model's, so the ceiling for classification
through Temporal is 1 / (1/no-op + 1/raw-batched); the report gives it and the ratio to it.
"""

from __future__ import annotations

import asyncio
import csv
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console
from rich.table import Table
from temporalio.client import Client
from temporalio.worker import Worker

from inference_worker.contracts import CLASSIFY_INTENT, CopyRequest
from journeys_app.core.settings import Settings
from journeys_app.devtools.bench.roundtrip import NOOP_ACTIVITY, ActivityRoundTrip, RoundTripInput, noop
from journeys_app.devtools.bench.stats import percentile
from journeys_app.devtools.stack import throwaway_dev_server


def _texts(settings: Settings) -> list[str]:
    with (settings.journeys_dir / "samples" / "intent_eval.csv").open(newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


async def _raw(call: Callable[[list[str]], Awaitable[Any]], texts: list[str], batch: int) -> float:
    """Texts per second through the backend alone, `batch` texts per call."""
    began = time.perf_counter()
    for start in range(0, len(texts), batch):
        await call(texts[start : start + batch])
    return round(len(texts) / (time.perf_counter() - began), 1)


async def _through_temporal(
    client: Client,
    activity_name: str,
    texts: list[str],
    *,
    task_queue: str,
    activity_queue: str,
    concurrency: int,
) -> dict[str, float]:
    """One workflow per text, `concurrency` at a time; runs/s and per-run latency."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(text: str) -> None:
        async with gate:
            began = time.perf_counter()
            await client.execute_workflow(
                ActivityRoundTrip.run,
                RoundTripInput(activity=activity_name, task_queue=activity_queue, text=text),
                id=f"bench-inference-{uuid.uuid4().hex}",
                task_queue=task_queue,
            )
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(one(t) for t in texts))
    elapsed = time.perf_counter() - began
    return {
        "runs": len(texts),
        "runs_per_s": round(len(texts) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
    }


async def run_inference_bench(
    settings: Settings, console: Console, *, runs: int = 400, concurrency: int = 64, as_json: bool = False
) -> dict[str, Any]:
    from inference_worker.backends.local import LocalBackend
    from inference_worker.worker import inference_worker

    tag = uuid.uuid4().hex[:8]
    settings = settings.model_copy(
        update={"inference_task_queue": f"bench-inference-{tag}", "tracing": "none"}
    )
    pool = _texts(settings)
    texts = [pool[i % len(pool)] for i in range(runs)]
    batch = settings.batch_max_size
    async with LocalBackend(settings) as backend:
        await backend.classify_many(pool[:batch])  # warm-up: first calls pay for lazy initialisation
        raw_batched = await _raw(backend.classify_many, texts, batch)
        raw_single = await _raw(backend.classify_many, texts[: max(50, runs // 4)], 1)

        request = CopyRequest(
            template="email/answer",
            channel="email",
            context={
                "customer": {"first_name": "Ava"},
                "event": {"text": pool[20]},
                "knowledge": {"found": False, "product": None},  # the answer's own slots only
            },
        )
        began = time.perf_counter()
        copy = await backend.generate_copy(request)
        copy_tokens_per_s = round(copy.tokens / (time.perf_counter() - began), 1)

        async with throwaway_dev_server(settings) as env:
            client = env.client
            task_queue, noop_queue = f"bench-roundtrip-{tag}", f"bench-noop-{tag}"
            async with (
                Worker(
                    client,
                    task_queue=task_queue,
                    workflows=[ActivityRoundTrip],
                    max_concurrent_workflow_tasks=concurrency,
                ),
                Worker(
                    client, task_queue=noop_queue, activities=[noop], max_concurrent_activities=concurrency
                ),
                inference_worker(client, settings, backend=backend, max_concurrent_activities=concurrency),
            ):

                async def measure(activity_name: str, queue: str) -> dict[str, float]:
                    kwargs = {"task_queue": task_queue, "activity_queue": queue, "concurrency": concurrency}
                    await _through_temporal(client, activity_name, texts[:concurrency], **kwargs)  # warm-up
                    return await _through_temporal(client, activity_name, texts, **kwargs)

                noop_figures = await measure(NOOP_ACTIVITY, noop_queue)
                await backend.set_batching(1, 0)
                batching_off = await measure(CLASSIFY_INTENT, settings.inference_task_queue)
                await backend.set_batching(batch, settings.batch_max_wait_ms)
                batching_on = await measure(CLASSIFY_INTENT, settings.inference_task_queue)

    limit = 1 / (1 / noop_figures["runs_per_s"] + 1 / raw_batched)
    report = {
        "benchmark": "inference",
        "backend": "local",
        "concurrency": concurrency,
        "batch_max_size": batch,
        "batch_max_wait_ms": settings.batch_max_wait_ms,
        "raw_batched_per_s": raw_batched,
        "raw_unbatched_per_s": raw_single,
        "noop_activity": noop_figures,
        "classify_batching_on": batching_on,
        "classify_batching_off": batching_off,
        "copy_tokens_per_s": copy_tokens_per_s,
        "limit_per_s": round(limit, 1),
        "on_vs_limit": round(batching_on["runs_per_s"] / limit, 3),
        "on_vs_off": round(batching_on["runs_per_s"] / batching_off["runs_per_s"], 3),
    }
    if as_json:
        console.print_json(json.dumps(report))
        return report
    table = Table("path", "per s", "p50 ms", "p99 ms")
    table.add_row("raw classify, batched", f"{raw_batched:.1f}", "", "")
    table.add_row("raw classify, one at a time", f"{raw_single:.1f}", "", "")
    for name, row in (
        ("no-op activity via Temporal", noop_figures),
        ("classify via Temporal, batching on", batching_on),
        ("classify via Temporal, batching off", batching_off),
    ):
        table.add_row(name, f"{row['runs_per_s']:.1f}", f"{row['p50_ms']:.0f}", f"{row['p99_ms']:.0f}")
    console.print(table)
    console.print(
        f"limit 1/(1/no-op + 1/raw batched) = {limit:.1f}/s; batching on reaches "
        f"{report['on_vs_limit']:.2f}x of it and {report['on_vs_off']:.2f}x batching off. "
        f"Copy generation: {copy_tokens_per_s:.0f} tokens/s."
    )
    return report
