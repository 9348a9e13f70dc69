"""What `journeys status` says a waiting run waits for, and until when, in the customer's time."""

from __future__ import annotations

from datetime import UTC, datetime

from workflows.models import RunState


def _state(**waiting: object) -> RunState:
    return RunState.model_validate(
        {
            "workflow_id": "w",
            "journey_id": "j",
            "journey_version": 1,
            "spec_hash": "h",
            "customer_id": "c",
            "status": "running",
            "current_step": "s",
            "path": ["s"],
            "results": {},
            "pending_review": None,
            "goal_reached_at": None,
            "outcome": None,
            **waiting,
        }
    )


def test_a_wait_reads_in_the_customers_zone_and_in_utc():
    until = datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
    berlin = _state(waiting_for="event order_placed", waiting_until=until, customer_timezone="Europe/Berlin")
    assert berlin.wait_description() == (
        "waiting for event order_placed until 2026-07-01 08:00 Europe/Berlin (2026-07-01 06:00 UTC)"
    )
    utc = _state(waiting_for="2 days to pass", waiting_until=until, customer_timezone="UTC")
    assert utc.wait_description() == "waiting for 2 days to pass until 2026-07-01 06:00 UTC"
    unknown = _state(waiting_for="x", waiting_until=until, customer_timezone="Mars/Olympus")
    assert unknown.wait_description() == "waiting for x until 2026-07-01 06:00 UTC"
    assert _state(waiting_for="dead letter send").wait_description() == "waiting for dead letter send"
    assert _state(waiting_for=None).wait_description() is None
