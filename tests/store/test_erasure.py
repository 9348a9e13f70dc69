"""Right to erasure on both databases: nothing personal about the customer is left in any table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from activities.contracts import (
    NotifyRequest,
    RecordReviewRequest,
    RecordStepRequest,
    UpdateProfileRequest,
)
from activities.journey_activities import JourneyActivities
from journeys_app.store.audit import audit_for_customer
from journeys_app.store.erasure import erase_customer_data
from journeys_app.store.schema import Base
from tests.store.conftest import Store
from tests.store.test_store import run, run_req, seed, send_req

SECRETS = ("ava.lindqvist@example.com", "+15555550101", "Ava", "arrived broken", "Dear Ava")


async def everything(store: Store) -> str:
    """Every row of every table as text: what an auditor or an attacker could read."""
    out = []
    async with store.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(text(f"select * from {table.name}"))).all()
            out += [" ".join(map(str, row)) for row in rows]
    return "\n".join(out)


async def test_erasure_leaves_no_personal_data_and_audits_itself(store: Store, acts: JourneyActivities):
    await seed(store)
    now = datetime.now(UTC)
    await run(acts.record_run, run_req("wf-1", customer_id="cust-ava"))
    await run(
        acts.record_step,
        RecordStepRequest(
            workflow_id="wf-1",
            step_id="intent",
            step_type="classify_intent",
            visit=1,
            status="completed",
            result={
                "label": "complaint",
                "confidence": 0.9,
                "sentiment": "negative",
                "urgency": "high",
                "backend": "local",
                "model": "m",
                "text": "my order arrived broken",
            },
            started_at=now,
            finished_at=now,
        ),
    )
    await run(acts.send_message, send_req(body="Dear Ava, sorry it arrived broken."))
    await run(
        acts.record_review,
        RecordReviewRequest(
            review_id="rv-1",
            workflow_id="wf-1",
            step_id="review",
            customer_id="cust-ava",
            group="vip-care",
            deadline=now + timedelta(hours=1),
            status="pending",
            variants=[{"body": "Dear Ava"}],
        ),
    )
    await run(
        acts.notify,
        NotifyRequest(
            idempotency_key="wf-1:alert:1",
            workflow_id="wf-1",
            customer_id="cust-ava",
            target="vip-desk",
            message="Ava says her order arrived broken",
        ),
    )
    await run(
        acts.update_profile,
        UpdateProfileRequest(
            idempotency_key="wf-1:opt:1",
            customer_id="cust-ava",
            consent={"sms": False},
        ),
    )
    before = await everything(store)
    assert all(secret in before for secret in SECRETS)  # the test would see a leak

    report = await erase_customer_data(store.sessionmaker, "cust-ava", "dpo-maria")
    assert report.customer_found and report.runs == 1 and report.messages == 1 and report.reviews == 1

    after = await everything(store)
    for secret in SECRETS:
        assert secret not in after, secret
    assert "ben.okafor@example.com" in after  # other customers are untouched
    [erasure, *older] = await audit_for_customer(store.sessionmaker, "cust-ava")
    assert erasure.action == "customer_erased" and erasure.actor == "dpo-maria"
    assert all(entry.output_summary == "[erased]" for entry in older)
