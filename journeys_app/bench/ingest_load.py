"""The ingest load of `journeys bench gateway`, sent from its own process, as an MA system would:
on a small machine an HTTP client in the gateway's process takes a third of its event loop.

    python -m journeys_app.bench.ingest_load URL KEY EVENTS BATCH CONCURRENCY CUSTOMER…

prints the events per second the gateway accepted.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

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


async def ingest_from_another_process(
    url: str, key: str, customers: list[str], events: int, batch: int, concurrency: int
) -> float:
    """`send_events` run by a child process; its figure."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "journeys_app.bench.ingest_load",
        url,
        key,
        str(events),
        str(batch),
        str(concurrency),
        *customers,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the ingest load exited with {process.returncode}; see stderr")
    return float(out)


async def _main(url: str, key: str, events: str, batch: str, concurrency: str, *customers: str) -> None:
    async with httpx.AsyncClient(base_url=url, auth=(key, ""), timeout=60) as web:
        print(await send_events(web, list(customers), int(events), int(batch), int(concurrency)))


if __name__ == "__main__":
    asyncio.run(_main(*sys.argv[1:]))
