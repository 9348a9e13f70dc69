"""The store and the journey worker's activities, on SQLite and PostgreSQL.

Activities are called directly inside temporalio's ActivityEnvironment, as a worker would call them.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select, text
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.contracts import (
    FinishRunRequest,
    LoadCustomerRequest,
    NotifyRequest,
    RecordReviewRequest,
    RecordRunRequest,
    RecordStepRequest,
    SendRequest,
    UpdateProfileRequest,
)
from activities.journey_activities import JourneyActivities
from journeys_app.core.settings import Settings
from journeys_app.store import queries
from journeys_app.store.customers import load_customers_file, upsert_customers
from journeys_app.store.engine import create_engine, normalize_url, open_database
from journeys_app.store.schema import Customer, Message, Notification
from tests.store.conftest import SAMPLE_CUSTOMERS, Store, TinyHttpServer

T = TypeVar("T")


async def active_ids(sessionmaker: Any, customer_id: str) -> list[str]:
    """Workflow ids of the customer's runs that have not ended, oldest first."""
    runs = await queries.active_runs_for_customers(sessionmaker, {customer_id})
    return [r.workflow_id for r in runs[customer_id]]


async def run(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run an activity method in an activity context, as the worker does."""
    return await ActivityEnvironment().run(fn, *args)


async def seed(store: Store) -> None:
    await upsert_customers(store.sessionmaker, load_customers_file(SAMPLE_CUSTOMERS))


async def count(store: Store, model: type, **where: Any) -> int:
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    async with store.sessionmaker() as session:
        return int(await session.scalar(stmt) or 0)


def send_req(key: str = "wf-1/send/1", **over: Any) -> SendRequest:
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "workflow_id": "wf-1",
        "step_id": "send",
        "customer_id": "cust-ava",
        "channel": "email",
        "subject": "Hello",
        "body": "Hi Ava",
    }
    return SendRequest(**(fields | over))


def run_req(workflow_id: str = "wf-1", customer_id: str = "cust-ava", **over: Any) -> RecordRunRequest:
    fields: dict[str, Any] = {
        "workflow_id": workflow_id,
        "journey_id": "complaint_routing",
        "journey_version": 4,
        "spec_hash": "abc123",
        "customer_id": customer_id,
        "entry_key": "msg-1",
        "trigger_event": "message_received",
    }
    return RecordRunRequest(**(fields | over))


# --- engine and customers -------------------------------------------------------------------


async def test_active_runs_of_more_customers_than_one_query_may_name(store: Store) -> None:
    """The gateway's group commit of big Segment batches asks for the active runs of tens of
    thousands of customers at once: more ids than either database binds in one query."""
    await queries.insert_runs_if_absent(
        store.sessionmaker, [run_req("wf-a", "bulk-7"), run_req("wf-b", "bulk-39999", entry_key="m-2")]
    )
    runs = await queries.active_runs_for_customers(store.sessionmaker, {f"bulk-{i}" for i in range(40_000)})
    assert len(runs) == 40_000
    assert {c: [r.workflow_id for r in found] for c, found in runs.items() if found} == {
        "bulk-7": ["wf-a"],
        "bulk-39999": ["wf-b"],
    }


async def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'state' / 'journeys.db'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() >= 1000
    finally:
        await engine.dispose()


async def test_load_customers_file_reads_samples() -> None:
    rows = load_customers_file(SAMPLE_CUSTOMERS)
    assert len(rows) >= 6
    ava = next(r for r in rows if r["id"] == "cust-ava")
    assert ava["consent"] == {"email": True, "sms": True, "push": False}
    assert ava["phone"] == "+15555550101"


async def test_open_database_defaults_to_sqlite_under_state_dir(tmp_path: Any) -> None:
    settings = Settings(_env_file=None, state_dir=tmp_path / "state", database_url="")
    async with open_database(settings) as (engine, sessionmaker):
        assert engine.dialect.name == "sqlite"
        await upsert_customers(sessionmaker, [{"id": "c1"}])
    assert (tmp_path / "state" / "journeys.db").exists()
    assert engine.pool.checkedout() == 0


def test_plain_urls_get_async_drivers() -> None:
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    with pytest.raises(ValueError, match="unsupported"):
        normalize_url("mysql://u@h/db")


def test_load_customers_file_rejects_unknown_fields(tmp_path: Any) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("- {id: x, favourite_colour: red}\n")
    with pytest.raises(ValueError, match="favourite_colour"):
        load_customers_file(bad)


async def test_upsert_customers_is_idempotent_and_keeps_journey_owned_fields(
    store: Store, acts: JourneyActivities
) -> None:
    await seed(store)
    await seed(store)
    assert await count(store, Customer) == len(load_customers_file(SAMPLE_CUSTOMERS))
    await run(
        acts.update_profile,
        UpdateProfileRequest(idempotency_key="k1", customer_id="cust-ava", consent={"email": False}),
    )
    await upsert_customers(store.sessionmaker, [{"id": "cust-ava", "first_name": "Ava", "tier": "gold"}])
    profile = (await run(acts.load_customer, LoadCustomerRequest(customer_id="cust-ava"))).customer
    assert profile.tier == "gold"
    assert profile.consent["email"] is False  # a re-import does not undo an opt-out


# --- load_customer --------------------------------------------------------------------------


async def test_load_customer_hides_contact_details(store: Store, acts: JourneyActivities) -> None:
    await seed(store)
    result = await run(acts.load_customer, LoadCustomerRequest(customer_id="cust-ava"))
    assert result.found
    assert result.customer.first_name == "Ava"
    assert result.customer.tier == "vip"
    assert result.customer.timezone == "Europe/Stockholm"
    assert result.customer.attributes["lifetime_value"] == 18450
    dumped = result.model_dump_json()
    assert "example.com" not in dumped and "5555550101" not in dumped


async def test_load_customer_unknown_gets_bare_profile(store: Store, acts: JourneyActivities) -> None:
    result = await run(acts.load_customer, LoadCustomerRequest(customer_id="nobody"))
    assert not result.found
    assert result.customer.id == "nobody"
    assert result.customer.tier == "standard" and result.customer.consent == {}


# --- send_message ---------------------------------------------------------------------------


async def test_send_same_key_twice_gives_one_row(store: Store, acts: JourneyActivities) -> None:
    await seed(store)
    first = await run(acts.send_message, send_req())
    second = await run(acts.send_message, send_req(body="a retried attempt"))
    assert first.status == "queued" and not first.duplicate
    assert second.duplicate and second.message_id == first.message_id
    assert await count(store, Message) == 1
    [message] = await queries.messages_for_run(store.sessionmaker, "wf-1")
    assert message.body == "Hi Ava" and message.channel == "email"


async def test_concurrent_duplicate_sends_give_one_row(store: Store, acts: JourneyActivities) -> None:
    await seed(store)
    results = await asyncio.gather(*(run(acts.send_message, send_req()) for _ in range(12)))
    assert await count(store, Message) == 1
    assert len({r.message_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1


async def test_send_respects_consent(store: Store, acts: JourneyActivities) -> None:
    await seed(store)  # Ben: email yes, sms no
    sms = await run(acts.send_message, send_req("k-sms", customer_id="cust-ben", channel="sms"))
    assert sms.status == "suppressed" and "sms" in (sms.reason or "")
    receipt = await run(
        acts.send_message,
        send_req("k-tx", customer_id="cust-ben", channel="sms", category="transactional"),
    )
    assert receipt.status == "queued"
    email = await run(acts.send_message, send_req("k-mail", customer_id="cust-ben"))
    assert email.status == "queued"
    unknown = await run(acts.send_message, send_req("k-unknown", customer_id="nobody"))
    assert unknown.status == "queued"  # no consent record is not a refusal
    again = await run(acts.send_message, send_req("k-sms", customer_id="cust-ben", channel="sms"))
    assert again.duplicate and again.status == "suppressed" and again.reason == sms.reason
    async with store.sessionmaker() as session:
        row = await session.scalar(select(Message).where(Message.idempotency_key == "k-sms"))
    assert row is not None and row.status == "suppressed"


# --- update_profile -------------------------------------------------------------------------


async def test_update_profile_applies_once_per_key(store: Store, acts: JourneyActivities) -> None:
    await seed(store)
    add = UpdateProfileRequest(
        idempotency_key="wf-1/tag/1",
        customer_id="cust-ava",
        add_tags=["complained", "vip-watch"],
        attributes={"last_intent": "complaint"},
        consent={"push": True},
    )
    result = await run(acts.update_profile, add)
    assert result.customer.tags == ["complained", "vip-watch"]
    assert result.customer.attributes["last_intent"] == "complaint"
    assert result.customer.attributes["lifetime_value"] == 18450  # merged, not replaced
    assert result.customer.consent == {"email": True, "sms": True, "push": True}

    remove = UpdateProfileRequest(
        idempotency_key="wf-1/untag/1", customer_id="cust-ava", remove_tags=["complained"]
    )
    assert (await run(acts.update_profile, remove)).customer.tags == ["vip-watch"]
    # A late retry of the first update must not add the removed tag back.
    retried = await run(acts.update_profile, add)
    assert retried.customer.tags == ["vip-watch"]


async def test_update_profile_creates_unknown_customer(store: Store, acts: JourneyActivities) -> None:
    req = UpdateProfileRequest(idempotency_key="k", customer_id="new-1", consent={"email": False})
    result = await run(acts.update_profile, req)
    assert result.customer.consent == {"email": False}
    loaded = await run(acts.load_customer, LoadCustomerRequest(customer_id="new-1"))
    assert loaded.found and loaded.customer.consent == {"email": False}


async def test_concurrent_profile_updates_lose_nothing(store: Store, acts: JourneyActivities) -> None:
    await seed(store)
    reqs = [
        UpdateProfileRequest(idempotency_key=f"k{i}", customer_id="cust-chloe", add_tags=[f"t{i}"])
        for i in range(8)
    ]
    duplicates = [reqs[0]] * 4
    await asyncio.gather(*(run(acts.update_profile, r) for r in [*reqs, *duplicates]))
    profile = (await run(acts.load_customer, LoadCustomerRequest(customer_id="cust-chloe"))).customer
    assert sorted(profile.tags) == sorted(f"t{i}" for i in range(8))


# --- notify ---------------------------------------------------------------------------------


def notify_req(key: str = "wf-1/notify/1", target: str = "support-leads") -> NotifyRequest:
    return NotifyRequest(
        idempotency_key=key,
        workflow_id="wf-1",
        customer_id="cust-ava",
        target=target,
        message="VIP complaint needs a human",
        payload={"intent": "complaint", "score": 0.93},
    )


def acts_with_target(store: Store, url: str) -> JourneyActivities:
    settings = Settings(_env_file=None, notify_targets={"support-leads": url})
    return JourneyActivities(store.sessionmaker, settings)


async def test_notify_without_target_is_recorded_not_raised(store: Store, acts: JourneyActivities) -> None:
    result = await run(acts.notify, notify_req())
    assert not result.delivered and not result.duplicate
    assert result.detail == "no webhook configured for target support-leads"
    again = await run(acts.notify, notify_req())
    assert again.duplicate and again.notification_id == result.notification_id
    assert await count(store, Notification) == 1


async def test_notify_posts_to_webhook_once(store: Store) -> None:
    async with TinyHttpServer() as server:
        acts = acts_with_target(store, server.url)
        result = await run(acts.notify, notify_req())
        again = await run(acts.notify, notify_req())
    assert result.delivered and not result.duplicate and result.detail == "HTTP 200"
    assert again.delivered and again.duplicate and again.notification_id == result.notification_id
    [request] = server.requests
    assert request.path == "/hook"
    assert request.headers["idempotency-key"] == "wf-1/notify/1"
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert body["message"] == "VIP complaint needs a human"
    assert body["payload"] == {"intent": "complaint", "score": 0.93}
    async with store.sessionmaker() as session:
        row = await session.get(Notification, result.notification_id)
    assert row is not None and row.delivered and row.delivered_at is not None


async def test_notify_retries_after_server_error(store: Store) -> None:
    async with TinyHttpServer(statuses=[503, 200]) as server:
        acts = acts_with_target(store, server.url)
        with pytest.raises(ApplicationError, match="503") as err:
            await run(acts.notify, notify_req())
        assert not err.value.non_retryable
        result = await run(acts.notify, notify_req())  # Temporal's retry of the same attempt
    assert result.delivered and not result.duplicate
    assert len(server.requests) == 2
    assert await count(store, Notification) == 1


async def test_notify_final_rejection_is_recorded(store: Store) -> None:
    async with TinyHttpServer(statuses=[404]) as server:
        result = await run(acts_with_target(store, server.url).notify, notify_req())
    assert not result.delivered and result.detail.startswith("HTTP 404")


async def test_notify_transport_failure_raises(store: Store) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    acts = acts_with_target(store, f"http://127.0.0.1:{port}/hook")
    with pytest.raises(ApplicationError, match="unreachable") as err:
        await run(acts.notify, notify_req())
    assert err.value.type == "NotifyTransportError" and not err.value.non_retryable
    async with store.sessionmaker() as session:
        row = await session.scalar(select(Notification))
    assert row is not None and not row.delivered and row.detail.startswith("transport error")


# --- runs, steps, reviews and queries -------------------------------------------------------


async def test_run_step_finish_round_trip(store: Store, acts: JourneyActivities) -> None:
    await run(acts.record_run, run_req())
    await run(acts.record_run, run_req())  # retried: still one row
    t0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    step = RecordStepRequest(
        workflow_id="wf-1",
        step_id="intent",
        step_type="classify_intent",
        visit=1,
        status="completed",
        result={"label": "complaint", "confidence": 0.91},
        started_at=t0,
        finished_at=t0 + timedelta(seconds=1),
    )
    await run(acts.record_step, step)
    await run(acts.record_step, step.model_copy(update={"result": {"label": "inquiry"}}))
    await run(acts.record_step, step.model_copy(update={"visit": 2, "started_at": t0 + timedelta(1)}))
    await run(acts.send_message, send_req())

    assert await active_ids(store.sessionmaker, "cust-ava") == ["wf-1"]
    finish = FinishRunRequest(workflow_id="wf-1", status="completed", outcome="answered", path=["intent"])
    await run(acts.finish_run, finish)
    first = await queries.get_run(store.sessionmaker, "wf-1")
    await run(acts.finish_run, finish)  # retried: first finish time kept
    detail = await queries.get_run(store.sessionmaker, "wf-1")

    assert first is not None and detail is not None
    assert detail.status == "completed" and detail.outcome == "answered"
    assert detail.path == ["intent"]
    assert detail.finished_at == first.finished_at
    assert detail.finished_at is not None and detail.finished_at.tzinfo is not None
    assert [(s.step_id, s.visit) for s in detail.steps] == [("intent", 1), ("intent", 2)]
    assert detail.steps[0].result == {"label": "inquiry"}
    assert detail.steps[0].started_at == t0 and detail.steps[0].started_at.tzinfo == UTC
    assert [m.idempotency_key for m in detail.messages] == ["wf-1/send/1"]
    assert await active_ids(store.sessionmaker, "cust-ava") == []
    assert await queries.get_run(store.sessionmaker, "nope") is None


async def test_reused_workflow_id_starts_a_new_run(store: Store, acts: JourneyActivities) -> None:
    await run(acts.record_run, run_req())
    await run(acts.finish_run, FinishRunRequest(workflow_id="wf-1", status="exited", outcome="x", path=["a"]))
    await run(acts.record_run, run_req(entry_key="msg-2"))
    detail = await queries.get_run(store.sessionmaker, "wf-1")
    assert detail is not None
    assert (detail.status, detail.outcome, detail.path, detail.finished_at) == ("running", None, [], None)
    assert detail.entry_key == "msg-2"


async def test_finish_unknown_run_raises(acts: JourneyActivities) -> None:
    req = FinishRunRequest(workflow_id="ghost", status="completed", outcome="x", path=[])
    with pytest.raises(ApplicationError, match="never recorded"):
        await run(acts.finish_run, req)


async def test_insert_runs_if_absent_and_list_runs(store: Store, acts: JourneyActivities) -> None:
    sm = store.sessionmaker
    base = datetime(2025, 1, 1, tzinfo=UTC)
    fields = {"journey_version": 1, "spec_hash": "h", "entry_key": "e", "trigger_event": "t"}

    def record(workflow_id: str, journey_id: str, customer_id: str) -> RecordRunRequest:
        return RecordRunRequest(
            workflow_id=workflow_id, journey_id=journey_id, customer_id=customer_id, **fields
        )

    assert await queries.insert_runs_if_absent(sm, [record("a", "j1", "c1")], started_at=base) == 1
    assert await queries.insert_runs_if_absent(sm, [record("a", "other", "c9")]) == 0
    await queries.insert_runs_if_absent(sm, [record("b", "j2", "c1")], started_at=base + timedelta(1))
    await run(acts.record_run, run_req("c", customer_id="c2"))  # the workflow's own record
    await run(acts.record_run, run_req("a", customer_id="c1"))  # after the client's: keeps running
    await run(acts.finish_run, FinishRunRequest(workflow_id="b", status="failed", outcome="e", path=[]))

    assert [r.workflow_id for r in await queries.list_runs(sm)] == ["c", "b", "a"]
    assert [r.workflow_id for r in await queries.list_runs(sm, customer_id="c1")] == ["b", "a"]
    assert [r.workflow_id for r in await queries.list_runs(sm, status="running")] == ["c", "a"]
    assert [r.workflow_id for r in await queries.list_runs(sm, journey_id="complaint_routing")] == ["c", "a"]
    assert len(await queries.list_runs(sm, limit=1)) == 1
    assert await active_ids(sm, "c1") == ["a"]
    a = await queries.get_run(sm, "a")
    assert a is not None and a.started_at == base and a.journey_version == 4
    assert a.model_dump(mode="json")["started_at"].startswith("2025-01-01T00:00:00")
    many = [record(f"m{i}", "j3", "c3") for i in range(450)]  # more than one INSERT's worth
    assert await queries.insert_runs_if_absent(sm, [*many, record("a", "j1", "c1")]) == 450


def review_req(status: str = "pending", **over: Any) -> RecordReviewRequest:
    fields: dict[str, Any] = {
        "review_id": "wf-1/review/1",
        "workflow_id": "wf-1",
        "step_id": "review",
        "customer_id": "cust-ava",
        "group": "vip-care",
        "deadline": datetime(2025, 5, 1, 10, tzinfo=UTC),
        "status": status,
        "variants": [{"subject": "Sorry", "body": "We are sorry"}],
    }
    return RecordReviewRequest(**(fields | over))


async def test_review_status_moves_forward_only(store: Store, acts: JourneyActivities) -> None:
    sm = store.sessionmaker
    await run(acts.record_review, review_req())
    await run(acts.record_review, review_req())  # retried
    await run(acts.record_review, review_req("pending", review_id="other", group="support"))
    assert [r.review_id for r in await queries.pending_reviews(sm)] == ["other", "wf-1/review/1"]
    assert [r.review_id for r in await queries.pending_reviews(sm, group="vip-care")] == ["wf-1/review/1"]
    # A reviewer's queue: only their groups, and one of them when asked.
    assert [r.review_id for r in await queries.pending_reviews(sm, within=["support"])] == ["other"]
    assert await queries.pending_reviews(sm, "vip-care", within=["support"]) == []

    later = datetime(2025, 5, 1, 11, tzinfo=UTC)
    await run(acts.record_review, review_req("escalated", group="support-leads", deadline=later, variants=[]))
    [escalated] = await queries.pending_reviews(sm, group="support-leads")
    assert escalated.status == "escalated" and escalated.deadline == later
    assert escalated.variants == [{"subject": "Sorry", "body": "We are sorry"}]  # kept

    decision = review_req(
        "edited", reviewer="maria", chosen_variant=0, edited_body="Sincerely sorry", variants=[]
    )
    await run(acts.record_review, decision)
    decided = await queries.get_review(sm, "wf-1/review/1")
    assert decided is not None and decided.decided_at is not None
    await run(acts.record_review, decision)  # retried: decision time kept
    await run(acts.record_review, review_req("pending"))  # stale: ignored
    await run(acts.record_review, review_req("rejected", reviewer="bob"))  # conflicting: ignored
    final = await queries.get_review(sm, "wf-1/review/1")
    assert final is not None
    assert (final.status, final.reviewer, final.edited_body) == ("edited", "maria", "Sincerely sorry")
    assert final.decided_at == decided.decided_at
    assert [r.review_id for r in await queries.pending_reviews(sm)] == ["other"]


async def test_notify_masks_what_customers_typed_before_it_is_stored_or_posted(store: Store) -> None:
    typed = "Ava wrote: call me on +49 176 12345678 or mail ava.k@example.com"
    async with TinyHttpServer() as server:
        acts = acts_with_target(store, server.url)
        request = notify_req().model_copy(update={"message": typed, "payload": {"text": typed}})
        result = await run(acts.notify, request)
    [posted] = server.requests
    async with store.sessionmaker() as session:
        row = await session.get(Notification, result.notification_id)
    assert row is not None
    for where in (posted.body.decode(), row.message, json.dumps(row.payload)):
        assert "12345678" not in where and "ava.k@" not in where, where
    assert "a***@example.com" in row.message
