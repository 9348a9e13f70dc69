"""The audit log on SQLite and PostgreSQL: one entry per effect however often an activity runs,
no raw phone number or email address in any column, retention purge, per-customer reads."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from activities.contracts import FinishRunRequest, RecordStepRequest, RecordStepsRequest, UpdateProfileRequest
from activities.journey_activities import JourneyActivities
from journeys_app.store import queries
from journeys_app.store.audit import audit_entry, audit_for_customer, input_digest, purge_audit, write_audit
from journeys_app.store.schema import AuditEntry, utcnow
from tests.store.conftest import Store
from tests.store.test_store import count, review_req, run, run_req, seed, send_req

T0 = datetime(2026, 5, 17, 9, 30, tzinfo=UTC)
INTENT = {
    "label": "complaint",
    "confidence": 0.87,
    "scores": {"complaint": 0.87, "inquiry": 0.1},
    "sentiment": "negative",
    "urgency": "high",
    "backend": "local",
    "model": "intent-minilm",
    "degraded": False,
}
SCORE = {
    "kind": "customer_value",
    "value": 0.98,
    "band": "vip",
    "reasons": ["lifetime value"],
    "backend": "local",
    "model": "rules-v2",
}
COPY = {
    "template": "email/apology",
    "variants": [
        {"subject": "Sorry", "body": "We are sorry", "channel": "email", "source": "model"},
        {"subject": "Sorry", "body": "Apologies", "channel": "email", "source": "template_default"},
    ],
    "backend": "local",
    "model": "qwen-0.5b",
}
RAW_PII = (
    "jane.doe@example.com",
    "ava.lindqvist@example.com",
    "13812345678",
    "1234-5678",
    "5555550101",
)


def step_req(step_id: str, step_type: str, result: dict[str, Any], visit: int = 1) -> RecordStepRequest:
    return RecordStepRequest(
        workflow_id="wf-1",
        step_id=step_id,
        step_type=step_type,
        visit=visit,
        status="completed",
        result=result,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=1),
    )


async def entries(store: Store, **where: Any) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(AuditEntry, name) == value)
    async with store.sessionmaker() as session:
        return list((await session.scalars(stmt)).all())


async def test_model_steps_write_one_model_call_entry_each(store: Store, acts: JourneyActivities) -> None:
    await run(acts.record_run, run_req())
    for _ in range(2):  # a retried record_step writes no second entry
        await run(acts.record_step, step_req("intent", "classify_intent", INTENT))
        await run(acts.record_step, step_req("value", "score", SCORE))
        await run(acts.record_step, step_req("copy", "generate_copy", COPY))
    await run(acts.record_step, step_req("intent", "classify_intent", INTENT, visit=2))  # a new visit
    await run(acts.record_step, step_req("wait", "wait", {}))  # not a model step
    await run(acts.record_step, step_req("legacy", "score", {"kind": "churn", "value": 0.1}))  # no backend

    rows = await entries(store, action="model_call")
    assert [(r.subject, r.actor, r.output_summary) for r in rows] == [
        ("intent", "inference:local/intent-minilm", "complaint 0.87 negative/high"),
        ("value", "inference:local/rules-v2", "customer_value vip 0.98"),
        ("copy", "inference:local/qwen-0.5b", "2 variants (model, template_default)"),
        ("intent", "inference:local/intent-minilm", "complaint 0.87 negative/high"),
    ]
    assert {r.customer_id for r in rows} == {"cust-ava"}
    assert {r.workflow_id for r in rows} == {"wf-1"}
    assert rows[0].details["step_type"] == "classify_intent"
    assert rows[0].input_sha256 != rows[3].input_sha256  # visit is part of the input
    assert all(re.fullmatch(r"[0-9a-f]{64}", r.input_sha256) for r in rows)


async def test_a_batch_of_step_records_is_written_once_and_updated_on_retry(
    store: Store, acts: JourneyActivities
) -> None:
    await run(acts.record_run, run_req())
    first = [step_req("intent", "classify_intent", INTENT), step_req("wait", "wait", {})]
    await run(acts.record_steps, RecordStepsRequest(steps=first))
    retried = [*first, step_req("copy", "generate_copy", COPY)]  # a retry that carries one more
    retried[1] = retried[1].model_copy(update={"result": {"waited": True}})
    await run(acts.record_steps, RecordStepsRequest(steps=retried))
    await run(
        acts.finish_run,
        FinishRunRequest(
            workflow_id="wf-1",
            status="completed",
            outcome="ok",
            path=["intent", "wait", "copy"],
            steps=retried,
        ),
    )

    calls = await entries(store, action="model_call")
    assert [(r.subject, r.customer_id) for r in calls] == [("intent", "cust-ava"), ("copy", "cust-ava")]
    detail = await queries.get_run(store.sessionmaker, "wf-1")
    assert detail is not None and [(s.step_id, s.result) for s in detail.steps] == [
        ("intent", INTENT),
        ("wait", {"waited": True}),
        ("copy", COPY),
    ]


async def test_concurrent_duplicate_step_writes_give_one_entry(store: Store, acts: JourneyActivities) -> None:
    req = step_req("intent", "classify_intent", INTENT)
    await asyncio.gather(*(run(acts.record_step, req) for _ in range(4)))
    assert await count(store, AuditEntry, action="model_call") == 1


async def test_journey_started_once_per_run(store: Store, acts: JourneyActivities) -> None:
    await run(acts.record_run, run_req())
    await run(acts.record_run, run_req())  # retried
    [row] = await entries(store, action="journey_started")
    assert row.actor == "journey:wf-1" and row.subject == "complaint_routing v4"
    assert row.details["spec_hash"] == "abc123" and row.details["journey_version"] == 4
    assert row.input_sha256 == input_digest(run_req().model_dump(mode="json"))

    finish = FinishRunRequest(workflow_id="wf-1", status="completed", outcome="ok", path=[])
    await run(acts.finish_run, finish)
    await run(acts.record_run, run_req(journey_version=5))  # the workflow id reused: a new run
    await run(acts.record_run, run_req(journey_version=5))
    rows = await entries(store, action="journey_started")
    assert [r.details["journey_version"] for r in rows] == [4, 5]


async def test_review_decisions_write_one_entry_each(store: Store, acts: JourneyActivities) -> None:
    await run(acts.record_review, review_req())  # pending: not audited
    await run(acts.record_review, review_req("escalated"))
    await run(acts.record_review, review_req("escalated"))  # retried
    approved = review_req("approved", reviewer="alice", chosen_variant=0)
    await run(acts.record_review, approved)
    await run(acts.record_review, approved)  # retried
    await run(acts.record_review, review_req("pending"))  # stale
    await run(acts.record_review, review_req("timed_out", review_id="r-2"))  # first write is a decision

    rows = await entries(store)
    assert [(r.action, r.actor, r.subject) for r in rows] == [
        ("review_escalated", "system", "wf-1/review/1"),
        ("review_approved", "alice", "wf-1/review/1"),
        ("review_timed_out", "system", "r-2"),
    ]
    assert rows[1].output_summary == "review wf-1/review/1 approved by alice, variant 0"
    assert rows[1].customer_id == "cust-ava"


async def test_concurrent_duplicate_decisions_give_one_entry(store: Store, acts: JourneyActivities) -> None:
    await run(acts.record_review, review_req())
    approved = review_req("approved", reviewer="alice", chosen_variant=0)
    await asyncio.gather(*(run(acts.record_review, approved) for _ in range(4)))
    assert await count(store, AuditEntry, action="review_approved") == 1


async def test_send_writes_one_entry_per_message(store: Store, acts: JourneyActivities) -> None:
    await seed(store)
    await run(acts.send_message, send_req())
    await run(acts.send_message, send_req())  # retried
    await asyncio.gather(*(run(acts.send_message, send_req("wf-1/send/2")) for _ in range(3)))
    # cust-ben has not consented to marketing by sms
    await run(
        acts.send_message, send_req("wf-2/sms/1", workflow_id="wf-2", customer_id="cust-ben", channel="sms")
    )

    sends = await entries(store, action="send")
    assert len(sends) == 2
    assert sends[0].actor == "journey:wf-1"
    assert sends[0].output_summary == "email to a***@example.com: Hello"
    assert sends[0].details["idempotency_key"] == "wf-1/send/1"
    [suppressed] = await entries(store, action="send_suppressed")
    assert suppressed.customer_id == "cust-ben"
    assert suppressed.output_summary.startswith("sms to +1555****0102: Hello (suppressed: ")


async def test_consent_change_is_audited_once(store: Store, acts: JourneyActivities) -> None:
    await seed(store)
    req = UpdateProfileRequest(
        idempotency_key="complaint_routing:cust-ava:m1:optout:1",
        customer_id="cust-ava",
        consent={"email": False},
    )
    await run(acts.update_profile, req)
    await run(acts.update_profile, req)  # retried
    # Tags only, and consent that is already so: no consent change.
    await run(
        acts.update_profile,
        UpdateProfileRequest(idempotency_key="k2", customer_id="cust-ava", add_tags=["x"]),
    )
    await run(
        acts.update_profile,
        UpdateProfileRequest(
            idempotency_key="k3", customer_id="cust-ava", consent={"email": False, "sms": True}
        ),
    )
    # A customer the store never saw: consent given for the first time.
    await run(
        acts.update_profile,
        UpdateProfileRequest(idempotency_key="k4", customer_id="new", consent={"sms": True}),
    )

    rows = await entries(store, action="consent_change")
    assert [(r.customer_id, r.output_summary) for r in rows] == [
        ("cust-ava", "consent email: True→False"),
        ("new", "consent sms: None→True"),
    ]
    assert rows[0].details == {"consent": {"email": {"old": True, "new": False}}}
    assert rows[0].workflow_id == "complaint_routing:cust-ava:m1"
    assert rows[0].actor == "journey:complaint_routing:cust-ava:m1"
    assert rows[1].actor == "update_profile" and rows[1].workflow_id is None


async def test_no_raw_pii_in_any_audit_column(store: Store, acts: JourneyActivities) -> None:
    await seed(store)
    await run(acts.record_run, run_req(entry_key="from jane.doe@example.com"))
    await run(
        acts.send_message,
        send_req(subject="Call us back on 138-1234-5678", body="Write to jane.doe@example.com"),
    )
    await run(acts.send_message, send_req("wf-1/sms/1", channel="sms", subject=None, body="Ring 13812345678"))
    await run(acts.record_review, review_req())
    await run(
        acts.record_review,
        review_req(
            "edited",
            reviewer="jane.doe@example.com",
            edited_body="Dear Ava, call +86 138 1234 5678 or mail jane.doe@example.com",
            reason="customer asked to be called on 13812345678",
        ),
    )
    intent = INTENT | {"label": "jane.doe@example.com", "model": "m 13812345678"}
    await run(acts.record_step, step_req("intent", "classify_intent", intent))

    rows = await entries(store)
    assert {r.action for r in rows} >= {"journey_started", "send", "review_edited", "model_call"}
    for row in rows:
        dumped = json.dumps(
            {c.name: getattr(row, c.name) for c in AuditEntry.__table__.columns},
            default=str,
            ensure_ascii=False,
        )
        for raw in RAW_PII:
            assert raw not in dumped, (raw, dumped)
    assert "j***@example.com" in " ".join(r.output_summary for r in rows)


async def test_audit_entry_digest_masking_and_truncation() -> None:
    entry = audit_entry(
        "bob@example.com",
        "test",
        input={"b": 1, "a": "x"},
        output_summary="call 13812345678 " + "y" * 600,
        subject="jane.doe@example.com",
        details={"note": ["mail jane.doe@example.com"], "n": 3},
    )
    assert entry["input_sha256"] == hashlib.sha256(b'{"a":"x","b":1}').hexdigest()
    assert entry["actor"] == "b***@example.com" and entry["subject"] == "j***@example.com"
    assert entry["output_summary"].startswith("call 138****5678 ") and len(entry["output_summary"]) == 500
    assert entry["details"] == {"note": ["mail j***@example.com"], "n": 3}


async def _write(store: Store, customer_id: str, action: str, at: datetime) -> None:
    async with store.sessionmaker() as session, session.begin():
        entry = audit_entry("test", action, input={}, output_summary=action, customer_id=customer_id)
        await write_audit(session, **(entry | {"at": at}))


async def test_purge_removes_only_old_entries(store: Store) -> None:
    now = utcnow()
    await _write(store, "c1", "ancient", now - timedelta(days=400))
    await _write(store, "c1", "old", now - timedelta(days=181))
    await _write(store, "c1", "recent", now - timedelta(days=179))
    await _write(store, "c2", "today", now)

    assert await purge_audit(store.sessionmaker, timedelta(days=180)) == 2
    assert [r.action for r in await entries(store)] == ["recent", "today"]
    assert await purge_audit(store.sessionmaker, timedelta(days=180)) == 0


async def test_audit_for_customer_is_newest_first_and_limited(store: Store) -> None:
    now = utcnow()
    await _write(store, "c1", "second", now - timedelta(hours=1))
    await _write(store, "c1", "first", now - timedelta(days=2))
    await _write(store, "c2", "other", now)
    await _write(store, "c1", "third", now)

    records = await audit_for_customer(store.sessionmaker, "c1")
    assert [r.action for r in records] == ["third", "second", "first"]
    assert records[0].at.tzinfo is not None
    assert [r.action for r in await audit_for_customer(store.sessionmaker, "c1", limit=2)] == [
        "third",
        "second",
    ]
    assert await audit_for_customer(store.sessionmaker, "nobody") == []


async def test_an_email_used_as_customer_id_is_masked_in_audit_columns_and_still_found(
    store: Store, acts: JourneyActivities
) -> None:
    customer = "jane.doe@example.com"
    workflow_id = f"complaint_routing:{customer}:m1"
    await run(acts.record_run, run_req(workflow_id=workflow_id, customer_id=customer))
    rows = await entries(store)
    assert rows and all(customer not in f"{r.customer_id} {r.workflow_id}" for r in rows)
    assert rows[0].customer_id.startswith("j***@example.com#")
    found = await audit_for_customer(store.sessionmaker, customer)
    assert [f.action for f in found] == ["journey_started"]
    assert (
        await audit_for_customer(store.sessionmaker, "john.doe@example.com") == []
    )  # same mask, other person
