"""Read helpers for the CLI, the client and the console; they return plain models, never ORM rows.

Records are frozen pydantic models, so callers can `model_dump(mode="json")` them for `--json`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.contracts import CustomerProfile, RecordRunRequest
from journeys_app.store.customers import to_profile
from journeys_app.store.engine import SessionMaker
from journeys_app.store.schema import Customer, JourneyRun, Message, Review, StepResult, utcnow
from journeys_app.store.sql import insert_if_absent

OPEN_REVIEW_STATUSES = ("pending", "escalated")
ACTIVE_RUN_STATUSES = ("starting", "running")
_RUN_ROWS_PER_INSERT = 200  # well inside SQLite's limit on bound parameters
_IDS_PER_QUERY = 5000  # customer ids per IN list: a group commit of big batches stays inside both limits


class _Record(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class RunSummary(_Record):
    workflow_id: str
    journey_id: str
    journey_version: int
    spec_hash: str
    customer_id: str
    entry_key: str
    trigger_event: str
    status: str
    outcome: str | None
    path: list[str]
    started_at: datetime
    finished_at: datetime | None
    # A running run's live position, from the workflow's own state (the store has its path only
    # up to its last wait): see JourneyService.live.
    current_step: str | None = None
    waiting_for: str | None = None
    waiting_until: datetime | None = None


class StepRecord(_Record):
    step_id: str
    visit: int
    step_type: str
    status: str
    result: dict[str, Any]
    error: str | None
    started_at: datetime
    finished_at: datetime


class MessageRecord(_Record):
    id: int
    idempotency_key: str
    workflow_id: str
    step_id: str
    customer_id: str
    channel: str
    category: str
    subject: str | None
    body: str
    source: str
    status: str
    reason: str | None
    created_at: datetime


class RunDetail(RunSummary):
    steps: list[StepRecord] = Field(default_factory=list)
    messages: list[MessageRecord] = Field(default_factory=list)


class ReviewRecord(_Record):
    review_id: str
    workflow_id: str
    step_id: str
    customer_id: str
    group: str
    deadline: datetime
    status: str
    variants: list[dict[str, Any]]
    reviewer: str | None
    chosen_variant: int | None
    edited_body: str | None
    reason: str | None
    created_at: datetime
    decided_at: datetime | None
    journey_id: str = ""
    why: str = ""  # why the run is reviewed: a rule, sampling, every run
    snippet: str = ""  # the customer's words, or the start of the first draft


async def list_runs(
    sessionmaker: SessionMaker,
    journey_id: str | None = None,
    customer_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[RunSummary]:
    """Newest runs first, optionally filtered."""
    stmt = select(JourneyRun).order_by(JourneyRun.started_at.desc(), JourneyRun.workflow_id)
    if journey_id is not None:
        stmt = stmt.where(JourneyRun.journey_id == journey_id)
    if customer_id is not None:
        stmt = stmt.where(JourneyRun.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(JourneyRun.status == status)
    async with sessionmaker() as session:
        rows = (await session.scalars(stmt.limit(limit))).all()
    return [RunSummary.model_validate(r) for r in rows]


async def get_run(sessionmaker: SessionMaker, workflow_id: str) -> RunDetail | None:
    """One run with its step results (in execution order) and messages; None if unknown."""
    async with sessionmaker() as session:
        run = await session.get(JourneyRun, workflow_id)
        if run is None:
            return None
        steps = (
            await session.scalars(
                select(StepResult)
                .where(StepResult.workflow_id == workflow_id)
                .order_by(StepResult.started_at, StepResult.id)
            )
        ).all()
    summary = RunSummary.model_validate(run)
    return RunDetail(
        **summary.model_dump(),
        steps=[StepRecord.model_validate(s) for s in steps],
        messages=await messages_for_run(sessionmaker, workflow_id),
    )


async def messages_for_run(sessionmaker: SessionMaker, workflow_id: str) -> list[MessageRecord]:
    """The run's outbox rows, oldest first."""
    async with sessionmaker() as session:
        rows = (
            await session.scalars(
                select(Message).where(Message.workflow_id == workflow_id).order_by(Message.id)
            )
        ).all()
    return [MessageRecord.model_validate(r) for r in rows]


class ActiveRun(_Record):
    workflow_id: str
    journey_id: str
    spec_hash: str


async def active_runs_for_customers(
    sessionmaker: SessionMaker, customer_ids: set[str]
) -> dict[str, list[ActiveRun]]:
    """The runs that have not ended of each of these customers, oldest first (one query per 5,000)."""
    async with sessionmaker() as session:
        return await active_runs_in(session, customer_ids)


async def active_runs_in(session: AsyncSession, customer_ids: set[str]) -> dict[str, list[ActiveRun]]:
    """`active_runs_for_customers` in a session the caller goes on using."""
    found: dict[str, list[ActiveRun]] = {c: [] for c in customer_ids}
    ids = sorted(customer_ids)
    columns = (JourneyRun.customer_id, JourneyRun.workflow_id, JourneyRun.journey_id, JourneyRun.spec_hash)
    for start in range(0, len(ids), _IDS_PER_QUERY):
        rows = await session.execute(
            select(*columns)
            .where(
                JourneyRun.customer_id.in_(ids[start : start + _IDS_PER_QUERY]),
                JourneyRun.status.in_(ACTIVE_RUN_STATUSES),
            )
            .order_by(JourneyRun.started_at)
        )
        for customer_id, workflow_id, journey_id, spec_hash in rows:
            found[customer_id].append(
                ActiveRun(workflow_id=workflow_id, journey_id=journey_id, spec_hash=spec_hash)
            )
    return found


def _open_reviews(group: str | None, within: Collection[str] | None) -> Any:
    conditions = [Review.status.in_(OPEN_REVIEW_STATUSES)]
    if group is not None:
        conditions.append(Review.group == group)
    if within is not None:
        conditions.append(Review.group.in_(list(within)))
    return and_(*conditions)


async def pending_reviews(
    sessionmaker: SessionMaker,
    group: str | None = None,
    *,
    within: Collection[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[ReviewRecord]:
    """Reviews still waiting for a decision (pending or escalated), earliest deadline first: of one
    group, and only of the groups in `within` (a reviewer's groups) when that is given; a page of
    them with `limit` and `offset`."""
    stmt = (
        select(Review)
        .where(_open_reviews(group, within))
        .order_by(Review.deadline, Review.review_id)
        .offset(offset)
        .limit(limit)
    )
    async with sessionmaker() as session:
        rows = (await session.scalars(stmt)).all()
    return [ReviewRecord.model_validate(r) for r in rows]


async def count_pending_reviews(
    sessionmaker: SessionMaker, group: str | None = None, *, within: Collection[str] | None = None
) -> int:
    async with sessionmaker() as session:
        return (
            await session.scalar(select(func.count()).select_from(Review).where(_open_reviews(group, within)))
            or 0
        )


async def get_review(sessionmaker: SessionMaker, review_id: str) -> ReviewRecord | None:
    """One review by id, whatever its status."""
    async with sessionmaker() as session:
        row = await session.get(Review, review_id)
    return None if row is None else ReviewRecord.model_validate(row)


def run_row(run: RecordRunRequest, status: str, started_at: datetime) -> dict[str, Any]:
    """The journey_runs columns of a run that starts now: its goal window ends `within` later."""
    values = run.model_dump(exclude={"goal_within_s"})
    within = run.goal_within_s
    until = started_at + timedelta(seconds=within) if within is not None else None
    return {**values, "status": status, "path": [], "started_at": started_at, "goal_until": until}


async def insert_runs_if_absent(
    sessionmaker: SessionMaker, runs: list[RecordRunRequest], started_at: datetime | None = None
) -> int:
    """Record runs the client has just started (status starting), in one statement; how many of
    them this call inserted. A row the workflow's own record_run wrote already stays as it is."""
    if not runs:
        return 0
    at = started_at or utcnow()
    rows = [run_row(run, "starting", at) for run in runs]
    async with sessionmaker() as session, session.begin():
        table = JourneyRun.__table__
        inserted = 0
        for start in range(0, len(rows), _RUN_ROWS_PER_INSERT):
            chunk = rows[start : start + _RUN_ROWS_PER_INSERT]
            added = await insert_if_absent(
                session, table, chunk, key=["workflow_id"], returning=[table.c.workflow_id]
            )
            inserted += len(added)
        return inserted


async def customer_context(sessionmaker: SessionMaker, customer_id: str) -> dict[str, Any]:
    """The customer as trigger filters see it (no contact details); just the id if unknown."""
    async with sessionmaker() as session:
        row = await session.get(Customer, customer_id)
    return (to_profile(row) if row else CustomerProfile(id=customer_id)).model_dump(mode="json")
