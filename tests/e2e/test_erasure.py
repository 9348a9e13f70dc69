"""Erasure with a journey in flight: the run ends, its Temporal history goes, the store is clean."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.service import RPCError

from journeys_app.store import queries
from journeys_app.store.customers import upsert_customers
from tests.store.test_store import active_ids
from workflows.models import CustomerEvent

pytestmark = [pytest.mark.models, pytest.mark.slow]


async def test_erase_customer_with_a_running_journey(stack):
    customer = f"cust-{uuid.uuid4().hex[:6]}"
    await upsert_customers(
        stack.sessionmaker,
        [
            {
                "id": customer,
                "first_name": "Zoë",
                "email": "zoe.private@example.com",
                "tier": "vip",
                "consent": {"email": True},
            }
        ],
    )
    event = CustomerEvent(
        name="ticket_opened",
        properties={"ticket_id": "T-1", "subject": "Broken", "text": "My private address is 12 Secret Lane."},
    )
    [run] = (await stack.service.event(customer, event)).triggered
    await stack.wait_for(run.workflow_id, lambda s: s.pending_review is not None, timeout=120)

    report = await stack.service.erase_customer(customer, "dpo-maria")
    assert report.customer_found and report.runs == 1

    detail = await queries.get_run(stack.sessionmaker, run.workflow_id)
    assert detail.status == "exited" and detail.outcome == "customer_erased"
    assert all(step.result == {} for step in detail.steps)
    handle = stack.client.get_workflow_handle(run.workflow_id)
    async with asyncio.timeout(90):  # deletion is asynchronous on the server
        while True:
            try:
                await handle.describe()
            except RPCError:
                break  # not found: the history with the customer's message is gone
            await asyncio.sleep(0.5)
    assert await active_ids(stack.sessionmaker, customer) == []
