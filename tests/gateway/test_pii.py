"""Phone numbers and emails that customers type into messages stay out of Temporal and alerts.

Before, they appeared unmasked in the run's history (its input and every signal), in notifications
and in the webhooks that carry them.
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from journeys_app.store.schema import Notification
from tests.gateway.conftest import Gateway

pytestmark = pytest.mark.slow

PHONE, EMAIL = "+49 176 12345678", "ines.k@example.com"


async def test_contact_details_typed_in_a_message_are_masked_in_history_and_alerts(gw: Gateway) -> None:
    ticket = f"4915{uuid.uuid4().int % 10**9:09d}"  # an id that looks like a phone number stays as sent
    text = f"Please call me on {PHONE} or write to {EMAIL}."
    async with gw.http() as web:
        answer = await web.post(
            "/v1/track",
            json={
                "userId": "cust-ben",
                "event": "ticket_note",
                "properties": {"ticket_id": ticket, "text": text},
            },
        )
    [workflow_id] = answer.json()["results"][0]["started"]
    assert workflow_id == f"note_to_support:cust-ben:{ticket}"
    handle = gw.client.get_workflow_handle(workflow_id)
    await handle.result()
    history = json.dumps((await handle.fetch_history()).to_json_dict())
    async with gw.sessionmaker() as session:
        [alert] = (
            await session.scalars(select(Notification).where(Notification.workflow_id == workflow_id))
        ).all()
    for where in (history, alert.message):
        assert "12345678" not in where and "ines.k@" not in where
    assert "i***@example.com" in alert.message  # (a phone-like ticket number in the alert is masked too)
