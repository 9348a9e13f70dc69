"""`journeys bench gateway`: sustained Segment ingest, and `decide` at light load and under load.

Everything real and on this machine: a throwaway dev server, a temporary SQLite store, the
gateway on uvicorn, and the journey worker and the inference worker with the CPU models each in a
process of its own (`journeys worker`, `journeys inference-worker`: as deployed, so neither shares
the gateway's event loop and GIL), driven over loopback HTTP; the ingest and decide loads come from
a process of their own too, as an MA system's would.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from journeys_app.core.heap import freeze_startup_heap
from journeys_app.core.settings import Settings
from journeys_app.devtools.bench.load import from_another_process
from journeys_app.devtools.bench.phases import mean_decision_phases
from journeys_app.devtools.bench.postgres import bench_database
from journeys_app.devtools.bench.settings import bench_settings
from journeys_app.devtools.bench.stats import percentile
from journeys_app.devtools.stack import throwaway_dev_server
from journeys_app.edges.http_server import serve_gateway
from journeys_app.service.catalog import load_catalog
from journeys_app.service.journey_service import JourneyService
from journeys_app.store.api_keys import create_key
from journeys_app.store.customers import load_customers_file, upsert_customers
from journeys_app.store.engine import open_database


@asynccontextmanager
async def _process(settings: Settings, command: str, address: str) -> AsyncIterator[None]:
    """`journeys COMMAND` (a worker) against the bench's server and store, until it is ready."""
    ready = settings.state_dir / f"{command}.ready"
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "JOURNEYS_DATABASE_URL": settings.resolved_database_url,
        "JOURNEYS_JOURNEY_TASK_QUEUE": settings.journey_task_queue,
        "JOURNEYS_INFERENCE_TASK_QUEUE": settings.inference_task_queue,
        "JOURNEYS_STATE_DIR": str(settings.state_dir),
        "JOURNEYS_READY_FILE": str(ready),
        "JOURNEYS_TRACING": "none",
        "JOURNEYS_LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "journeys_app.edges.cli", command, env=env, stdout=sys.stderr.fileno()
    )
    try:
        async with asyncio.timeout(300):
            while not ready.exists():
                if process.returncode is not None:
                    raise RuntimeError(f"journeys {command} exited with {process.returncode}; see stderr")
                await asyncio.sleep(0.2)
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()


async def _settled(service: JourneyService, workflow_id: str) -> None:
    """Wait until the run is idle (waiting for a person or an event, or ended): copy generation of
    earlier runs must not share the CPU with the next decision, or the load is no longer light."""
    async with asyncio.timeout(300):
        while True:
            state = await service.state(workflow_id)
            if state.status != "running" or state.waiting_for:
                return
            await asyncio.sleep(0.2)


async def _decide(
    web: httpx.AsyncClient, service: JourneyService, customers: list[str], count: int
) -> tuple[list[float], list[str]]:
    """Latency of sequential decide calls on an otherwise idle system, in milliseconds, and the
    runs they started."""
    latencies, workflow_ids = [], []
    for i in range(count):
        body = {
            "userId": customers[i % len(customers)],
            "messageId": f"bench-{uuid.uuid4()}",
            "properties": {"text": "My parcel arrived damaged and I want a replacement."},
            "timeoutMs": 10_000,
        }
        began = time.perf_counter()
        response = await web.post("/v1/decide/complaint_routing", json=body)
        latencies.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
        if not response.json()["ready"]:
            raise RuntimeError(f"decide was not ready after 10 s: {response.json()}")
        workflow_ids.append(response.json()["workflow_id"])
        await _settled(service, workflow_ids[-1])
    return latencies, workflow_ids


def _messages(settings: Settings) -> Path:
    """Real customer messages of every intent, one per line, so the load takes every branch (and
    its copy)."""
    with (settings.journeys_dir / "samples" / "intent_eval.csv").open(newline="") as rows:
        texts = [" ".join(row["text"].split()) for row in csv.DictReader(rows)]
    path = settings.state_dir / "decide_texts.txt"
    path.write_text("\n".join(texts) + "\n")
    return path


async def _decide_under_load(
    url: str,
    key: str,
    service: JourneyService,
    customers: list[str],
    texts: Path,
    *,
    rate: float,
    seconds: float,
    timeout_ms: int,
) -> dict[str, Any]:
    """The open-loop decide load (`load.send_decides`, from its own process) while the runs' copy
    generation carries on behind it; then the time until every run has settled (copy written,
    waiting for a reviewer or ended): the generation backlog."""
    answers = await from_another_process(
        "decide", url, key, str(rate), str(seconds), str(timeout_ms), str(texts), *customers
    )
    answered = time.perf_counter()
    await _all_settled(service, answers["workflow_ids"])
    drained = time.perf_counter() - answered
    latencies = answers["latencies_ms"]
    return {
        "calls": answers["calls"],
        "rate_per_s": answers["rate_per_s"],
        "timeout_ms": timeout_ms,
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "timeouts": answers["timeouts"],
        "errors": answers["errors"],
        "backlog_drain_s": round(drained, 1),
        "phases": await mean_decision_phases(service.client, answers["workflow_ids"]),
    }


async def _all_settled(service: JourneyService, workflow_ids: list[str]) -> None:
    """Every run idle; a few queries at a time, so polling does not become the load."""
    gate = asyncio.Semaphore(4)

    async def settle(workflow_id: str) -> None:
        async with gate:
            await _settled(service, workflow_id)

    async with asyncio.timeout(1800):
        await asyncio.gather(*(settle(w) for w in workflow_ids))


async def run_gateway_bench(
    settings: Settings,
    console: Console,
    *,
    events: int = 10_000,
    decides: int = 40,
    load_rate: float = 10.0,
    load_seconds: float = 60.0,
    load_timeout_ms: int = 300,
    postgres: str | None = None,
    as_json: bool = False,
) -> dict[str, Any]:
    """The figures on a temporary SQLite store, or on a throwaway database of the PostgreSQL
    server at `postgres`."""
    async with bench_database(postgres) as database_url:
        # A limit far above what the machine can send: measure the gateway, not its limiter.
        with bench_settings(settings, database_url, gateway_port=0, gateway_rate_per_minute=1_000_000) as (
            settings,
            _,
        ):
            async with (
                throwaway_dev_server(settings) as env,
                open_database(settings) as (_, sessionmaker),
                _process(settings, "worker", env.client.service_client.config.target_host),
                _process(settings, "inference-worker", env.client.service_client.config.target_host),
            ):
                samples = load_customers_file(settings.journeys_dir / "samples" / "customers.yaml")
                await upsert_customers(sessionmaker, samples)
                customers = [c["id"] for c in samples]
                key = await create_key(sessionmaker, "bench", ["ingest", "decide"])
                service = JourneyService(env.client, settings, load_catalog(settings), sessionmaker)
                async with (
                    serve_gateway(service, settings) as url,
                    httpx.AsyncClient(base_url=url, auth=(key, ""), timeout=60) as web,
                ):
                    freeze_startup_heap()  # as `journeys gateway` does once it serves
                    await from_another_process("ingest", url, key, "200", "100", "4", *customers)  # warm-up
                    batched = await from_another_process(
                        "ingest", url, key, str(events), "100", "4", *customers
                    )
                    single = await from_another_process(
                        "ingest", url, key, str(max(100, events // 4)), "1", "8", *customers
                    )
                    await _decide(web, service, customers, 3)  # warm-up
                    latencies, light_runs = await _decide(web, service, customers, decides)
                    light_phases = await mean_decision_phases(env.client, light_runs)
                    under_load = await _decide_under_load(
                        url,
                        key,
                        service,
                        customers,
                        _messages(settings),
                        rate=load_rate,
                        seconds=load_seconds,
                        timeout_ms=load_timeout_ms,
                    )
    report = {
        "benchmark": "gateway",
        "store": "postgresql" if postgres else "sqlite",
        "ingest_batched_events_per_s": batched,
        "ingest_single_events_per_s": single,
        "decide_light_load": {
            "calls": decides,
            "p50_ms": round(percentile(latencies, 0.5), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "phases": light_phases,
        },
        "decide_under_load": under_load,
    }
    if as_json:
        console.print_json(json.dumps(report))
        return report
    table = Table("figure", "value")
    table.add_row("ingest, /v1/batch of 100, 4 in flight", f"{batched:.0f} events/s")
    table.add_row("ingest, /v1/track one by one, 8 in flight", f"{single:.0f} events/s")
    decide = report["decide_light_load"]
    table.add_row("decide, one at a time", f"p50 {decide['p50_ms']:.0f} ms, p99 {decide['p99_ms']:.0f} ms")
    load = report["decide_under_load"]
    table.add_row(
        f"decide, {load['rate_per_s']:g}/s arriving for {load_seconds:g} s, timeoutMs {load_timeout_ms}",
        f"p50 {load['p50_ms']:.0f} ms, p99 {load['p99_ms']:.0f} ms, "
        f"{load['timeouts']} timeouts, {load['errors']} errors of {load['calls']}",
    )
    table.add_row("copy backlog drained after the load", f"{load['backlog_drain_s']:.0f} s")
    console.print(table)
    return report
