"""The journey report's figures, each one SQL aggregate over the store (no run rows in Python).

Every query takes the runs of one journey that started in [since, until) and groups by version;
`journeys_app.service.report` turns the counts into the report. A run's conversion is a goal
event of its customer inside the run's goal window (`journey_runs.goal_until`); for a split arm,
inside the part of the window after the run passed the split.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Row,
    Select,
    and_,
    case,
    exists,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from journeys_app.store.engine import SessionMaker
from journeys_app.store.queries import ACTIVE_RUN_STATUSES
from journeys_app.store.schema import GoalEvent, JourneyRun, Message, Review, StepResult


class seconds_between(FunctionElement[float]):
    """Seconds from the first datetime to the second: SQLite keeps datetimes as text, PostgreSQL
    as timestamps, and SQL has no portable spelling of the difference."""

    type = Float()
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)})) * 86400.0)"
    )


@compiles(seconds_between, "postgresql")
def _seconds_postgresql(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"


@dataclass
class VersionCounts:
    """The raw counts of one journey version; keys are step ids, outcomes, statuses…"""

    entered: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    converted: int = 0
    with_goal: int = 0
    reached: dict[str, int] = field(default_factory=dict)
    completed: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    # (split step, arm) -> (entered, converted)
    arms: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)  # sent, queued, suppressed_consent, …
    held_for_quiet_hours: int = 0
    reviews: dict[str, tuple[int, float | None]] = field(default_factory=dict)  # status -> (n, mean s)
    model_calls: int = 0
    degraded_calls: int = 0


def _in_window(journey_id: str, since: datetime | None, until: datetime | None) -> ColumnElement[bool]:
    conditions = [JourneyRun.journey_id == journey_id]
    if since is not None:
        conditions.append(JourneyRun.started_at >= since)
    if until is not None:
        conditions.append(JourneyRun.started_at < until)
    return and_(*conditions)


def _converted_after(start: Any) -> ColumnElement[bool]:
    """A goal event of the run's customer between `start` and the end of the run's goal window
    (never true for a run without a goal: its NULL goal_event equals no event)."""
    return exists().where(
        GoalEvent.customer_id == JourneyRun.customer_id,
        GoalEvent.event == JourneyRun.goal_event,
        GoalEvent.occurred_at >= start,
        GoalEvent.occurred_at <= JourneyRun.goal_until,
    )


def _message_kind() -> ColumnElement[str]:
    """sent / queued / failed / … ; suppressed split by why (consent or frequency cap)."""
    return case(
        (
            Message.status == "suppressed",
            case(
                (Message.reason.like("frequency cap%"), literal_column("'suppressed_cap'")),
                (Message.reason.like("%consent%"), literal_column("'suppressed_consent'")),
                else_=literal_column("'suppressed_other'"),
            ),
        ),
        else_=Message.status,
    )


def _statements(
    window: ColumnElement[bool], model_step_types: Collection[str], send_step_ids: Collection[str]
) -> dict[str, Select[Any]]:
    """The report's aggregate queries, by what they count."""
    version = JourneyRun.journey_version
    joined = StepResult.workflow_id == JourneyRun.workflow_id
    running = and_(window, JourneyRun.status.in_(ACTIVE_RUN_STATUSES))
    arm = StepResult.result["path"].as_string()
    kind = _message_kind()
    deferred = and_(StepResult.step_type == "send", StepResult.result["deferred_seconds"].as_float() > 0)
    degraded = StepResult.result["degraded"].as_boolean()
    revisit = (
        select(StepResult.workflow_id)
        .where(
            StepResult.workflow_id == JourneyRun.workflow_id, StepResult.step_id == JourneyRun.current_step
        )
        .exists()
    )
    return {
        # Runs: entered, by status and outcome; converted in the goal's window.
        "runs": select(
            version,
            JourneyRun.status,
            JourneyRun.outcome,
            func.count(),
            func.count(JourneyRun.goal_event),
            func.sum(case((_converted_after(JourneyRun.started_at), 1), else_=0)),
        )
        .where(window)
        .group_by(version, JourneyRun.status, JourneyRun.outcome),
        # Steps: runs with a record of the step, completed, failed (a step run again in a loop
        # counts once per run).
        "steps": select(
            version,
            StepResult.step_id,
            func.count(func.distinct(StepResult.workflow_id)),
            func.count(func.distinct(case((StepResult.status == "completed", StepResult.workflow_id)))),
            func.count(func.distinct(case((StepResult.status == "failed", StepResult.workflow_id)))),
        )
        .join(StepResult, joined)
        .where(window)
        .group_by(version, StepResult.step_id),
        # Where running runs wait now; those there for the first time have no record of it yet.
        "waiting": select(
            version, JourneyRun.current_step, func.count(), func.sum(case((revisit, 0), else_=1))
        )
        .where(running, JourneyRun.current_step.is_not(None))
        .group_by(version, JourneyRun.current_step),
        # Split arms: the runs of each arm, and those converted after the split.
        "arms": select(
            version,
            StepResult.step_id,
            arm,
            func.count(),
            func.sum(case((_converted_after(StepResult.finished_at), 1), else_=0)),
        )
        .join(StepResult, joined)
        .where(
            window, StepResult.step_type == "split", StepResult.visit == 1, StepResult.status == "completed"
        )
        .group_by(version, StepResult.step_id, arm),
        # Messages by status, suppressed ones by why.
        "messages": select(version, kind, func.count())
        .join(Message, Message.workflow_id == JourneyRun.workflow_id)
        .where(window)
        .group_by(version, kind),
        # Sends held back by quiet hours: since sent, or waiting now.
        "held": select(version, func.count())
        .join(StepResult, joined)
        .where(window, deferred)
        .group_by(version),
        "holding": select(version, func.count())
        .where(running, JourneyRun.current_step.in_(send_step_ids))
        .group_by(version),
        # Reviews by status, with the mean time from request to decision.
        "reviews": select(
            version,
            Review.status,
            func.count(),
            func.avg(seconds_between(Review.created_at, Review.decided_at)),
        )
        .join(Review, Review.workflow_id == JourneyRun.workflow_id)
        .where(window)
        .group_by(version, Review.status),
        # Model calls, and those answered by rules or preset copy (degraded).
        "models": select(version, func.count(), func.sum(case((degraded.is_(True), 1), else_=0)))
        .join(StepResult, joined)
        .where(window, StepResult.step_type.in_(model_step_types), StepResult.status == "completed")
        .group_by(version),
    }


async def version_counts(
    sessionmaker: SessionMaker,
    journey_id: str,
    since: datetime | None,
    until: datetime | None,
    *,
    model_step_types: Collection[str],
    send_step_ids: Collection[str] = (),
) -> dict[int, VersionCounts]:
    """Every count of the report, per version of the journey: the aggregates run at once, each on
    a connection of its own (the database spreads them over its cores)."""
    statements = _statements(_in_window(journey_id, since, until), model_step_types, send_step_ids)

    async def fetch(statement: Select[Any]) -> list[Row[Any]]:
        async with sessionmaker() as session:
            if session.get_bind().dialect.name == "postgresql":
                # The step funnel's count(DISTINCT) sorts every step row: in memory, not on disk.
                await session.execute(text("SET LOCAL work_mem = '64MB'"))
            return list((await session.execute(statement)).all())

    rows = dict(zip(statements, await asyncio.gather(*map(fetch, statements.values())), strict=True))
    out: dict[int, VersionCounts] = {}

    def of(v: int) -> VersionCounts:
        return out.setdefault(v, VersionCounts())

    for v, status, outcome, n, with_goal, converted in rows["runs"]:
        counts = of(v)
        counts.entered += n
        status = "running" if status in ACTIVE_RUN_STATUSES else status
        counts.statuses[status] = counts.statuses.get(status, 0) + n
        if outcome is not None:
            counts.outcomes[outcome] = counts.outcomes.get(outcome, 0) + n
        counts.with_goal += with_goal
        counts.converted += converted or 0
    for v, step_id, reached, completed, failed in rows["steps"]:
        counts = of(v)
        counts.reached[step_id], counts.completed[step_id], counts.failed[step_id] = (
            reached,
            completed,
            failed,
        )
    for v, step_id, n, first_time in rows["waiting"]:
        counts = of(v)
        counts.waiting[step_id] = n
        counts.reached[step_id] = counts.reached.get(step_id, 0) + (first_time or 0)
    for v, step_id, name, entered, converted in rows["arms"]:
        if name is not None:
            of(v).arms[(step_id, name)] = (entered, converted or 0)
    for v, name, n in rows["messages"]:
        of(v).messages[name] = n
    for v, n in [*rows["held"], *rows["holding"]]:
        of(v).held_for_quiet_hours += n
    for v, status, n, mean in rows["reviews"]:
        of(v).reviews[status] = (n, float(mean) if mean is not None else None)
    for v, n, worse in rows["models"]:
        of(v).model_calls, of(v).degraded_calls = n, worse or 0
    return out


async def journey_totals(
    sessionmaker: SessionMaker, since: datetime | None, until: datetime | None
) -> dict[str, tuple[int, int, int]]:
    """Per journey: runs entered in the window, still running, converted (one query)."""
    conditions = [JourneyRun.started_at >= since] if since is not None else []
    if until is not None:
        conditions.append(JourneyRun.started_at < until)
    statement = (
        select(
            JourneyRun.journey_id,
            func.count(),
            func.sum(case((JourneyRun.status.in_(ACTIVE_RUN_STATUSES), 1), else_=0)),
            func.sum(
                case(
                    (_converted_after(JourneyRun.started_at), 1),
                    else_=0,
                )
            ),
        )
        .where(and_(True, *conditions))
        .group_by(JourneyRun.journey_id)
    )
    async with sessionmaker() as session:
        rows = (await session.execute(statement)).all()
    return {journey: (n, running or 0, converted or 0) for journey, n, running, converted in rows}
