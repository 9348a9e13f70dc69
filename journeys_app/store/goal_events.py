"""Goal events: the events that are some journey's goal, kept so a run's conversion is counted
even when it arrives after the run has ended."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from journeys_app.store.schema import GoalEvent, utcnow
from journeys_app.store.sql import insert_if_absent

# (customer id, event name, the MA's message id, when it happened); None: unknown.
Occurrence = tuple[str, str, str | None, datetime | None]


async def record_goal_events(session: AsyncSession, events: Iterable[Occurrence]) -> int:
    """Keep these goal events; one whose message id was kept before is a resend and is skipped.
    Returns how many were new."""
    now = utcnow()
    rows = [
        {
            "customer_id": customer_id,
            "event": name,
            "message_id": message_id or f"unkeyed-{uuid.uuid4().hex}",
            "occurred_at": occurred_at or now,
            "recorded_at": now,
        }
        for customer_id, name, message_id, occurred_at in events
    ]
    if not rows:
        return 0
    added = await insert_if_absent(
        session, GoalEvent, rows, key=["customer_id", "event", "message_id"], returning=[GoalEvent.id]
    )
    return len(added)
