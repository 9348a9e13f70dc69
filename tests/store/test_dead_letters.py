"""Dead-letter records on both databases: one row per parked step visit, updated as it resolves."""

from __future__ import annotations

import asyncio

from activities.contracts import RecordDeadLetterRequest
from activities.journey_activities import JourneyActivities
from journeys_app.store.dead_letters import list_dead_letters
from tests.store.conftest import Store
from tests.store.test_store import run


def parked(status: str = "open", operator: str | None = None) -> RecordDeadLetterRequest:
    return RecordDeadLetterRequest(
        workflow_id="wf-1",
        step_id="send_it",
        visit=1,
        customer_id="cust-ava",
        journey_id="j",
        error="RuntimeError: provider down",
        status=status,
        operator=operator,
    )


async def test_open_retry_reopen_and_discard(store: Store, acts: JourneyActivities) -> None:
    await asyncio.gather(*(run(acts.record_dead_letter, parked()) for _ in range(4)))  # retried activity
    [row] = await list_dead_letters(store.sessionmaker)
    assert row.status == "open" and row.resolved_at is None and row.error.startswith("RuntimeError")

    await run(acts.record_dead_letter, parked("retried", "ops-anna"))
    assert await list_dead_letters(store.sessionmaker) == []
    [row] = await list_dead_letters(store.sessionmaker, only_open=False)
    assert row.status == "retried" and row.operator == "ops-anna" and row.resolved_at is not None

    await run(acts.record_dead_letter, parked())  # the retry failed too: parked again, same row
    await run(acts.record_dead_letter, parked("discarded", "ops-ben"))
    [row] = await list_dead_letters(store.sessionmaker, only_open=False)
    assert row.status == "discarded" and row.operator == "ops-ben"
