"""A 10,000-event load, every batch sent twice at once: each accepted event is counted exactly once,
in the answers, in the store and in the journeys it starts, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from journeys_app.store.schema import IngestedEvent, JourneyRun, Notification
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.slow

EVENTS, BATCH, CUSTOMERS, ORDERS = 10_000, 100, 200, 40  # ORDERS of them start big_orders


def load(tag: str) -> list[list[dict[str, Any]]]:
    """The load in batches: page views that start nothing, and a few big orders that start a run."""
    messages = []
    for i in range(EVENTS):
        customer = f"load-{tag}-{i % CUSTOMERS}"
        if i % (EVENTS // ORDERS) == 0:
            event = {"event": "order_placed", "properties": {"order_id": f"o-{tag}-{i}", "total": 250}}
        else:
            event = {"event": "page_viewed", "properties": {"path": f"/p/{i}"}}
        messages.append({"type": "track", "userId": customer, "messageId": f"m-{tag}-{i}", **event})
    return [messages[i : i + BATCH] for i in range(0, EVENTS, BATCH)]


async def test_every_accepted_event_of_a_ten_thousand_event_load_counts_once(gw: Gateway) -> None:
    tag = uuid.uuid4().hex[:6]
    gate = asyncio.Semaphore(8)
    outcomes: Counter[str] = Counter()
    started: list[str] = []

    async def send(web: Any, batch: list[dict[str, Any]]) -> None:
        async with gate:
            answer = await web.post("/v1/batch", json={"batch": batch})
        assert answer.status_code == 200, answer.text
        for result in answer.json()["results"]:
            outcomes[result["outcome"]] += 1
            started.extend(result["started"])

    async with gw.http() as web:
        # Each batch twice, the two copies racing: a retrying client, or two gateways.
        await asyncio.gather(*(send(web, batch) for batch in load(tag) for _ in range(2)))

    assert outcomes == {"processed": EVENTS, "duplicate": EVENTS}
    assert len(started) == len(set(started)) == ORDERS
    customers = JourneyRun.customer_id.like(f"load-{tag}-%")
    async with gw.sessionmaker() as session:
        claims = await session.execute(
            select(IngestedEvent.status, func.count())
            .where(IngestedEvent.customer_id.like(f"load-{tag}-%"))
            .group_by(IngestedEvent.status)
        )
        assert dict(claims.all()) == {"done": EVENTS}
        runs = await session.scalar(select(func.count()).select_from(JourneyRun).where(customers))
        assert runs == ORDERS
    async with asyncio.timeout(120):  # each big order's run posts its one notification
        while True:
            async with gw.sessionmaker() as session:
                notified = list(
                    await session.scalars(
                        select(Notification.workflow_id).where(Notification.customer_id.like(f"load-{tag}-%"))
                    )
                )
            if len(notified) >= ORDERS:
                break
            await asyncio.sleep(0.5)
    assert sorted(notified) == sorted(started)
