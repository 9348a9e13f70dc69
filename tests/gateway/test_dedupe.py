"""messageId dedupe: atomic under concurrent copies, scoped per source and customer, and inside runs."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from journeys_app.store.api_keys import create_key
from journeys_app.store.schema import GoalEvent
from tests.gateway.conftest import Gateway
from workflows.journey import JourneyWorkflow
from workflows.models import CustomerEvent

pytestmark = pytest.mark.slow


async def start_conversations(gw: Gateway, customer: str, count: int) -> list[str]:
    async with gw.http() as web:
        answers = [
            (await web.post("/v1/track", json={"userId": customer, "event": "conversation_started",
                                                "messageId": f"start-{uuid.uuid4()}"})).json()
            for _ in range(count)
        ]  # fmt: skip
    runs = [a["results"][0]["started"][0] for a in answers]
    for workflow_id in runs:  # each waits for its first reply
        handle = gw.client.get_workflow_handle(workflow_id)
        async with asyncio.timeout(30):
            while True:
                if (await handle.query(JourneyWorkflow.state)).current_step == "first_reply":
                    break
                await asyncio.sleep(0.1)
    return runs


async def outcomes(gw: Gateway, runs: list[str]) -> list[str]:
    return [(await gw.client.get_workflow_handle(r).result())["outcome"] for r in runs]


async def test_ten_concurrent_copies_are_processed_once_and_reach_each_run_once(gw: Gateway) -> None:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    runs = await start_conversations(gw, customer, 3)
    reply = {"userId": customer, "event": "customer_replied", "messageId": f"reply-{uuid.uuid4()}"}
    async with gw.http() as web:
        answers = await asyncio.gather(*(web.post("/v1/track", json=reply) for _ in range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    results = [a.json()["results"][0] for a in answers]
    assert sorted(r["outcome"] for r in results) == ["duplicate"] * 9 + ["processed"]
    [processed] = [r for r in results if r["outcome"] == "processed"]
    assert sorted(processed["signalled"]) == sorted(runs)
    assert await outcomes(gw, runs) == ["replied_once"] * 3


async def test_dedupe_is_scoped_to_the_source_and_the_customer(gw: Gateway) -> None:
    other_source = await create_key(gw.sessionmaker, f"other-ma-{uuid.uuid4().hex[:4]}", ["ingest"])
    message_id = f"shared-{uuid.uuid4()}"
    first, second = f"c-{uuid.uuid4().hex[:8]}", f"c-{uuid.uuid4().hex[:8]}"

    def page(user: str) -> dict[str, str]:
        return {"userId": user, "event": "page_viewed", "messageId": message_id}

    async with gw.http() as web:
        same_customer_again = [(await web.post("/v1/track", json=page(first))).json() for _ in range(2)]
        other_customer = (await web.post("/v1/track", json=page(second))).json()
        other_key = (await web.post("/v1/track", json=page(first), auth=(other_source, ""))).json()
    outcome = [r["results"][0]["outcome"] for r in [*same_customer_again, other_customer, other_key]]
    assert outcome == ["processed", "duplicate", "processed", "processed"]


async def test_a_run_ignores_an_event_id_it_has_already_received(gw: Gateway) -> None:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    [run] = await start_conversations(gw, customer, 1)
    reply = CustomerEvent(name="customer_replied", message_id=f"reply-{uuid.uuid4()}")
    handle = gw.client.get_workflow_handle(run)
    for _ in range(3):  # as a client retrying after a lost answer would send it
        await handle.signal(JourneyWorkflow.event, reply)
    assert await outcomes(gw, [run]) == ["replied_once"]
    other = CustomerEvent(name="customer_replied", message_id=f"reply-{uuid.uuid4()}")
    [run] = await start_conversations(gw, customer, 1)
    handle = gw.client.get_workflow_handle(run)
    await handle.signal(JourneyWorkflow.event, reply)
    await handle.signal(JourneyWorkflow.event, other)
    assert await outcomes(gw, [run]) == ["replied_twice"]


async def test_a_goal_event_no_run_hears_is_kept_once_for_the_report(gw: Gateway) -> None:
    """order_completed is abandoned_cart's goal: kept for conversions after a run has ended, even
    when no run listens now; a resend (same messageId) is kept once, a new order again."""
    customer = f"c-{uuid.uuid4().hex[:8]}"
    order = {"userId": customer, "event": "order_completed", "messageId": f"order-{uuid.uuid4()}",
             "timestamp": "2026-11-02T10:00:00Z"}  # fmt: skip
    async with gw.http() as web:
        batch = {"batch": [{**order, "type": "track"}]}
        answers = [(await web.post("/v1/batch", json=batch)).json() for _ in range(2)]
        other = {**order, "messageId": f"order-{uuid.uuid4()}", "timestamp": "2026-11-03T10:00:00Z"}
        assert (await web.post("/v1/track", json=other)).status_code == 200
        page = {"userId": customer, "event": "page_viewed", "messageId": f"page-{uuid.uuid4()}"}
        assert (await web.post("/v1/track", json=page)).status_code == 200
    assert [a["results"][0]["outcome"] for a in answers] == ["processed", "duplicate"]
    async with gw.sessionmaker() as session:
        kept = (
            await session.execute(
                select(GoalEvent.event, GoalEvent.occurred_at)
                .where(GoalEvent.customer_id == customer)
                .order_by(GoalEvent.occurred_at)
            )
        ).all()
    assert [(e, f"{at:%Y-%m-%d %H:%M}") for e, at in kept] == [
        ("order_completed", "2026-11-02 10:00"),
        ("order_completed", "2026-11-03 10:00"),
    ]


async def test_a_message_twice_in_one_batch_is_processed_once(gw: Gateway) -> None:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    runs = await start_conversations(gw, customer, 1)
    reply = {
        "type": "track",
        "userId": customer,
        "event": "customer_replied",
        "messageId": f"r-{uuid.uuid4()}",
    }
    async with gw.http() as web:
        answer = await web.post("/v1/batch", json={"batch": [reply, reply]})
    assert answer.status_code == 200, answer.text
    assert [r["outcome"] for r in answer.json()["results"]] == ["processed", "duplicate"]
    assert await outcomes(gw, runs) == ["replied_once"]
