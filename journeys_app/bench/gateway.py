"""`journeys bench gateway`: sustained Segment ingest and the latency of `decide` at light load.

Everything real and on this machine: a throwaway dev server, a temporary SQLite store, both
workers with the CPU models, and the gateway on uvicorn, driven over loopback HTTP.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from journeys_app.bench.settings import bench_settings
from journeys_app.bench.stats import percentile
from journeys_app.catalog import load_catalog
from journeys_app.db.api_keys import create_key
from journeys_app.db.customers import load_customers_file, upsert_customers
from journeys_app.db.engine import open_database
from journeys_app.http_server import serve_gateway
from journeys_app.runtime import journey_worker
from journeys_app.service import JourneyService
from journeys_app.settings import Settings
from journeys_app.stack import throwaway_dev_server


async def _ingest(
    web: httpx.AsyncClient, customers: list[str], events: int, batch: int, concurrency: int
) -> float:
    """Events per second through /v1/batch; the events trigger no journey, so this is the gateway's cost."""
    gate = asyncio.Semaphore(concurrency)

    async def send(start: int) -> None:
        messages = [
            {
                "type": "track",
                "userId": customers[i % len(customers)],
                "event": "page_viewed",
                "properties": {"path": f"/p/{i}"},
                "messageId": f"bench-{uuid.uuid4()}",
            }
            for i in range(start, min(start + batch, events))
        ]
        async with gate:
            response = await web.post("/v1/batch", json={"batch": messages})
            response.raise_for_status()

    began = time.perf_counter()
    await asyncio.gather(*(send(s) for s in range(0, events, batch)))
    return round(events / (time.perf_counter() - began), 1)


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
) -> list[float]:
    """Latency of sequential decide calls on an otherwise idle system, in milliseconds."""
    latencies = []
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
        await _settled(service, response.json()["workflow_id"])
    return latencies


async def run_gateway_bench(
    settings: Settings, console: Console, *, events: int = 2000, decides: int = 40, as_json: bool = False
) -> dict[str, Any]:
    from inference_worker.worker import inference_worker

    # A limit far above what the machine can send: measure the gateway, not its limiter.
    with bench_settings(settings, gateway_port=0, gateway_rate_per_minute=1_000_000) as (settings, _):
        async with (
            throwaway_dev_server() as env,
            open_database(settings) as (_, sessionmaker),
            journey_worker(env.client, settings, sessionmaker),
            inference_worker(env.client, settings),
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
                await _ingest(web, customers, 200, 100, 4)  # warm-up
                batched = await _ingest(web, customers, events, 100, 4)
                single = await _ingest(web, customers, max(100, events // 10), 1, 8)
                await _decide(web, service, customers, 3)  # warm-up
                latencies = await _decide(web, service, customers, decides)
    report = {
        "benchmark": "gateway",
        "ingest_batched_events_per_s": batched,
        "ingest_single_events_per_s": single,
        "decide_light_load": {
            "calls": decides,
            "p50_ms": round(percentile(latencies, 0.5), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
        },
    }
    if as_json:
        console.print_json(json.dumps(report))
        return report
    table = Table("figure", "value")
    table.add_row("ingest, /v1/batch of 100, 4 in flight", f"{batched:.0f} events/s")
    table.add_row("ingest, /v1/track one by one, 8 in flight", f"{single:.0f} events/s")
    decide = report["decide_light_load"]
    table.add_row("decide, one at a time", f"p50 {decide['p50_ms']:.0f} ms, p99 {decide['p99_ms']:.0f} ms")
    console.print(table)
    return report
