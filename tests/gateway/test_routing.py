"""Routing an ingested event: only runs that react to it are signalled, and within one request a
later message reaches a run that an earlier message started."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from journeys_app.store.schema import IngestedEvent
from tests.gateway.conftest import Gateway
from tests.gateway.test_dedupe import outcomes, start_conversations

pytestmark = pytest.mark.slow


def track(customer: str, event: str) -> dict[str, str]:
    return {"type": "track", "userId": customer, "event": event, "messageId": f"m-{uuid.uuid4()}"}


async def test_an_event_no_run_reacts_to_is_not_signalled(gw: Gateway) -> None:
    """Before, every event was signalled to every active run of the customer."""
    customer = f"route-{uuid.uuid4().hex[:6]}"
    [run] = await start_conversations(gw, customer, 1)
    async with gw.http() as web:
        answer = await web.post(
            "/v1/batch", json={"batch": [track(customer, "page_viewed"), track(customer, "customer_replied")]}
        )
    assert answer.status_code == 200, answer.text
    viewed, replied = answer.json()["results"]
    assert viewed["outcome"] == "processed" and viewed["signalled"] == []  # no journey waits for it
    assert replied["signalled"] == [run]
    assert await outcomes(gw, [run]) == ["replied_once"]
    # The inert one is claimed as done at once, the routed one once routed: a resend of either
    # is a duplicate, never a second delivery.
    async with gw.sessionmaker() as session:
        statuses = await session.scalars(
            select(IngestedEvent.status).where(IngestedEvent.customer_id == customer)
        )
        assert sorted(statuses) == ["done"] * 3  # with the conversation's start


async def test_a_later_message_of_a_batch_reaches_the_run_an_earlier_one_started(gw: Gateway) -> None:
    customer = f"route-{uuid.uuid4().hex[:6]}"
    async with gw.http() as web:
        answer = await web.post(
            "/v1/batch",
            json={"batch": [track(customer, "conversation_started"), track(customer, "customer_replied")]},
        )
    assert answer.status_code == 200, answer.text
    started, replied = answer.json()["results"]
    [run] = started["started"]
    assert replied["signalled"] == [run]
    assert await outcomes(gw, [run]) == ["replied_once"]
