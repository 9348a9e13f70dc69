"""The loads of `journeys bench gateway`, sent from a process of their own, as an MA system's
requests would be: on a small machine an HTTP client in the gateway's process takes a third of
its event loop.

    python -m journeys_app.devtools.bench.load ingest URL KEY EVENTS BATCH CONCURRENCY CUSTOMER…
    python -m journeys_app.devtools.bench.load decide URL KEY RATE SECONDS TIMEOUT_MS TEXTS_FILE CUSTOMER…

print one JSON object: the ingest's events per second, or the decide load's answers.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx


async def send_events(
    web: httpx.AsyncClient, customers: list[str], events: int, batch: int, concurrency: int
) -> float:
    """Events per second through /v1/batch (`batch` 1: /v1/track, one call per event); the events
    trigger no journey, so this is the gateway's cost."""
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
            if batch == 1:
                response = await web.post("/v1/track", json=messages[0])
            else:
                response = await web.post("/v1/batch", json={"batch": messages})
            response.raise_for_status()

    began = time.perf_counter()
    await asyncio.gather(*(send(s) for s in range(0, events, batch)))
    return round(events / (time.perf_counter() - began), 1)


async def send_decides(
    web: httpx.AsyncClient,
    customers: list[str],
    texts: list[str],
    *,
    rate: float,
    seconds: float,
    timeout_ms: int,
) -> dict[str, Any]:
    """Open loop: decide calls on complaint routing arrive at `rate` per second whatever the
    answers do, each with the MA's `timeout_ms`."""
    calls = max(1, round(rate * seconds))
    answers: dict[str, Any] = {"latencies_ms": [], "timeouts": 0, "errors": 0, "workflow_ids": []}

    async def call(i: int) -> None:
        body = {
            "userId": customers[i % len(customers)],
            "messageId": f"bench-{uuid.uuid4()}",
            "properties": {"text": texts[i % len(texts)]},
            "timeoutMs": timeout_ms,
        }
        began = time.perf_counter()
        try:
            response = await web.post("/v1/decide/complaint_routing", json=body)
        except httpx.HTTPError:
            answers["errors"] += 1
            return
        answers["latencies_ms"].append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            answers["errors"] += 1
            return
        answer = response.json()
        answers["workflow_ids"].append(answer["workflow_id"])
        answers["timeouts"] += bool(answer["timed_out"])

    began = time.perf_counter()
    tasks = []
    for i in range(calls):
        await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(call(i)))
    offered_s = time.perf_counter() - began
    await asyncio.gather(*tasks)
    return {"calls": calls, "rate_per_s": round(calls / offered_s, 2), **answers}


async def from_another_process(*args: str) -> Any:
    """This module's load, run by a child process; its JSON answer."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "journeys_app.devtools.bench.load", *args, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the {args[0]} load exited with {process.returncode}; see stderr")
    return json.loads(out)


async def _main(kind: str, url: str, key: str, *args: str) -> None:
    # Open loop: as many connections as calls in flight, as an MA's HTTP client pool would open.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, auth=(key, ""), timeout=60, limits=limits) as web:
        if kind == "ingest":
            events, batch, concurrency, *customers = args
            result: Any = await send_events(web, customers, int(events), int(batch), int(concurrency))
        else:
            rate, seconds, timeout_ms, texts, *customers = args
            result = await send_decides(
                web,
                customers,
                (await asyncio.to_thread(Path(texts).read_text)).splitlines(),
                rate=float(rate),
                seconds=float(seconds),
                timeout_ms=int(timeout_ms),
            )
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(_main(*sys.argv[1:]))
