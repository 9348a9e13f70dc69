"""The journey report's figures, each one SQL aggregate over the store (no run rows in Python).

Every query takes the runs of one journey that started in [since, until) and groups by version;
`journeys_app.service.report` turns the counts into the report. A run's conversion is a goal
event of its customer inside the run's goal window (`journey_runs.goal_until`); for a split arm,
inside the part of the window after the run passed the split.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    and_,
    case,
    exists,
    func,
    literal_column,
    select,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from journeys_app.store.schema import GoalEvent, JourneyRun, Message, Review, StepResult

RUNNING = ("starting", "running")


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
    """A goal event of the run's customer between `start` and the end of the run's goal window."""
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


async def version_counts(
    session: AsyncSession,
    journey_id: str,
    since: datetime | None,
    until: datetime | None,
    *,
    model_step_types: Collection[str],
    send_step_ids: Collection[str] = (),
) -> dict[int, VersionCounts]:
    """Every count of the report, per version of the journey (eight aggregate queries)."""
    window = _in_window(journey_id, since, until)
    version = JourneyRun.journey_version
    out: dict[int, VersionCounts] = {}

    def of(v: int) -> VersionCounts:
        return out.setdefault(v, VersionCounts())

    # Runs: entered, by status and by outcome; goal conversions.
    rows = await session.execute(
        select(
            version,
            JourneyRun.status,
            JourneyRun.outcome,
            func.count(),
            func.count(JourneyRun.goal_event),
            func.sum(
                case(
                    (and_(JourneyRun.goal_event.is_not(None), _converted_after(JourneyRun.started_at)), 1),
                    else_=0,
                )
            ),
        )
        .where(window)
        .group_by(version, JourneyRun.status, JourneyRun.outcome)
    )
    for v, status, outcome, n, with_goal, converted in rows:
        counts = of(v)
        counts.entered += n
        status = "running" if status in RUNNING else status
        counts.statuses[status] = counts.statuses.get(status, 0) + n
        if outcome is not None:
            counts.outcomes[outcome] = counts.outcomes.get(outcome, 0) + n
        counts.with_goal += with_goal
        counts.converted += converted or 0

    # Steps: reached (a record of the step, or waiting there now), completed, failed.
    joined = StepResult.workflow_id == JourneyRun.workflow_id
    visits = union(
        select(JourneyRun.workflow_id, version.label("v"), StepResult.step_id.label("step_id"))
        .join(StepResult, joined)
        .where(window),
        select(JourneyRun.workflow_id, version, JourneyRun.current_step).where(
            window, JourneyRun.status.in_(RUNNING), JourneyRun.current_step.is_not(None)
        ),
    ).subquery()
    for v, step_id, n in await session.execute(
        select(visits.c.v, visits.c.step_id, func.count()).group_by(visits.c.v, visits.c.step_id)
    ):
        of(v).reached[step_id] = n
    for v, step_id, completed, failed in await session.execute(
        select(
            version,
            StepResult.step_id,
            func.count(func.distinct(case((StepResult.status == "completed", StepResult.workflow_id)))),
            func.count(func.distinct(case((StepResult.status == "failed", StepResult.workflow_id)))),
        )
        .join(StepResult, joined)
        .where(window)
        .group_by(version, StepResult.step_id)
    ):
        of(v).completed[step_id], of(v).failed[step_id] = completed, failed
    for v, step_id, n in await session.execute(
        select(version, JourneyRun.current_step, func.count())
        .where(window, JourneyRun.status.in_(RUNNING), JourneyRun.current_step.is_not(None))
        .group_by(version, JourneyRun.current_step)
    ):
        of(v).waiting[step_id] = n

    # Split arms: the runs of each arm (first visit) and those converted after the split.
    arm = StepResult.result["path"].as_string()
    for v, step_id, name, entered, converted in await session.execute(
        select(
            version,
            StepResult.step_id,
            arm,
            func.count(),
            func.sum(
                case(
                    (and_(JourneyRun.goal_event.is_not(None), _converted_after(StepResult.finished_at)), 1),
                    else_=0,
                )
            ),
        )
        .join(StepResult, joined)
        .where(
            window, StepResult.step_type == "split", StepResult.visit == 1, StepResult.status == "completed"
        )
        .group_by(version, StepResult.step_id, arm)
    ):
        if name is not None:
            of(v).arms[(step_id, name)] = (entered, converted or 0)

    # Messages by status, suppressed ones by reason; sends held back by quiet hours.
    kind = _message_kind()
    for v, name, n in await session.execute(
        select(version, kind, func.count())
        .join(Message, Message.workflow_id == JourneyRun.workflow_id)
        .where(window)
        .group_by(version, kind)
    ):
        of(v).messages[name] = n
    held = and_(StepResult.step_type == "send", StepResult.result["deferred_seconds"].as_float() > 0)
    for v, n in await session.execute(
        select(version, func.count()).join(StepResult, joined).where(window, held).group_by(version)
    ):
        of(v).held_for_quiet_hours += n
    if send_step_ids:
        for v, n in await session.execute(
            select(version, func.count())
            .where(window, JourneyRun.status.in_(RUNNING), JourneyRun.current_step.in_(send_step_ids))
            .group_by(version)
        ):
            of(v).held_for_quiet_hours += n

    # Reviews by status, with the mean time from request to decision.
    for v, status, n, mean in await session.execute(
        select(
            version,
            Review.status,
            func.count(),
            func.avg(seconds_between(Review.created_at, Review.decided_at)),
        )
        .join(Review, Review.workflow_id == JourneyRun.workflow_id)
        .where(window)
        .group_by(version, Review.status)
    ):
        of(v).reviews[status] = (n, float(mean) if mean is not None else None)

    # Model calls, and how many were answered by rules or preset copy (degraded).
    degraded = StepResult.result["degraded"].as_boolean()
    for v, n, worse in await session.execute(
        select(version, func.count(), func.sum(case((degraded.is_(True), 1), else_=0)))
        .join(StepResult, joined)
        .where(window, StepResult.step_type.in_(model_step_types), StepResult.status == "completed")
        .group_by(version)
    ):
        of(v).model_calls, of(v).degraded_calls = n, worse or 0
    return out
