"""A journey's report: who entered, how far they got, how they left, who converted, what was
sent, how reviews went, how often the models were replaced by rules, and each split's result.

Counts come from SQL aggregates (`store.report_queries`); the spec in the catalog gives the steps
their order and types and each split its control arm.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import BaseModel

from journeys_app.service.experiments import Comparison, compare_arms, rate_interval
from journeys_app.store.engine import SessionMaker
from journeys_app.store.report_queries import VersionCounts, version_counts
from journeys_app.store.schema import utcnow
from workflows.durations import format_duration, parse_duration
from workflows.spec import JourneySpec
from workflows.steps import MODEL_STEP_TYPES
from workflows.steps.split import SplitStep

MESSAGE_STATUSES = (
    "sent",
    "queued",
    "sending",
    "failed",
    "unconfirmed",
    "suppressed_consent",
    "suppressed_cap",
    "suppressed_other",
)


class StepFigures(BaseModel):
    step_id: str
    type: str
    reached: int  # runs with a record of the step, or waiting at it now
    completed: int
    failed: int
    waiting: int  # running runs that wait at this step now


class GoalFigures(BaseModel):
    event: str
    within: str
    runs: int  # runs that carry the goal (those started before it was recorded have none)
    converted: int
    rate: float | None
    rate_low: float | None
    rate_high: float | None


class ReviewFigures(BaseModel):
    status: str  # pending, escalated, approved, edited, rejected, regenerated, timed_out
    count: int
    mean_minutes_to_decision: float | None


class VersionReport(BaseModel):
    version: int
    entered: int
    running: int
    completed: int
    exited: int
    failed: int
    outcomes: dict[str, int]
    steps: list[StepFigures]
    goal: GoalFigures | None
    messages: dict[str, int]  # by status; suppressed by why; held_for_quiet_hours
    reviews: list[ReviewFigures]
    model_calls: int
    degraded_calls: int
    degraded_share: float | None
    experiments: list[Comparison]


class JourneyReport(BaseModel):
    journey_id: str
    description: str
    since: datetime | None
    until: datetime
    generated_at: datetime
    versions: list[VersionReport]


def is_holdout(spec: JourneySpec, step: SplitStep) -> bool:
    """The control arm goes straight to an exit: its customers get nothing from the journey."""
    target = spec.step_map().get(step.control_path.goto)
    return target is not None and target.type == "exit"


def _steps(spec: JourneySpec | None, counts: VersionCounts) -> list[StepFigures]:
    known = [(s.id, s.type) for s in spec.steps] if spec else []
    seen = {step_id for step_id, _ in known}
    extra = sorted(set(counts.reached) - seen, key=lambda s: -counts.reached[s])
    return [
        StepFigures(
            step_id=step_id,
            type=step_type,
            reached=counts.reached.get(step_id, 0),
            completed=counts.completed.get(step_id, 0),
            failed=counts.failed.get(step_id, 0),
            waiting=counts.waiting.get(step_id, 0),
        )
        for step_id, step_type in [*known, *((s, "") for s in extra)]
    ]


def _experiments(spec: JourneySpec | None, counts: VersionCounts) -> list[Comparison]:
    splits = {s.id: s for s in spec.steps if isinstance(s, SplitStep)} if spec else {}
    step_ids = list(splits) + sorted({step for step, _ in counts.arms} - set(splits))
    out = []
    for step_id in step_ids:
        step = splits.get(step_id)
        names = [p.name for p in step.paths] if step else sorted(a for s, a in counts.arms if s == step_id)
        names += sorted(a for s, a in counts.arms if s == step_id and a not in names)  # arms since removed
        arms = {name: counts.arms.get((step_id, name), (0, 0)) for name in names}
        control = step.control_path.name if step else names[0]
        holdout = bool(step and spec and is_holdout(spec, step))
        out.append(compare_arms(step_id, arms, control, holdout=holdout))
    return out


def _version(spec: JourneySpec | None, version: int, counts: VersionCounts) -> VersionReport:
    goal = None
    if spec and spec.goal:
        rate, low, high = rate_interval(counts.converted, counts.with_goal)
        goal = GoalFigures(
            event=spec.goal.event,
            within=format_duration(spec.goal.within),
            runs=counts.with_goal,
            converted=counts.converted,
            rate=rate,
            rate_low=low,
            rate_high=high,
        )
    messages = {status: counts.messages.get(status, 0) for status in MESSAGE_STATUSES}
    messages |= {k: v for k, v in counts.messages.items() if k not in messages}
    messages["held_for_quiet_hours"] = counts.held_for_quiet_hours
    return VersionReport(
        version=version,
        entered=counts.entered,
        running=counts.statuses.get("running", 0),
        completed=counts.statuses.get("completed", 0),
        exited=counts.statuses.get("exited", 0),
        failed=counts.statuses.get("failed", 0),
        outcomes=dict(sorted(counts.outcomes.items(), key=lambda kv: (-kv[1], kv[0]))),
        steps=_steps(spec, counts),
        goal=goal,
        messages=messages,
        reviews=[
            ReviewFigures(
                status=status,
                count=n,
                mean_minutes_to_decision=round(mean / 60, 2) if mean is not None else None,
            )
            for status, (n, mean) in sorted(counts.reviews.items())
        ],
        model_calls=counts.model_calls,
        degraded_calls=counts.degraded_calls,
        degraded_share=counts.degraded_calls / counts.model_calls if counts.model_calls else None,
        experiments=_experiments(spec, counts),
    )


async def journey_report(
    sessionmaker: SessionMaker,
    journey_id: str,
    spec: JourneySpec | None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> JourneyReport:
    """The report of the journey's runs that started in [since, until), newest version first.
    `spec`: the journey as the catalog has it now (None for a journey no longer deployed)."""
    until = until or utcnow()
    send_steps = [s.id for s in spec.steps if s.type == "send"] if spec else []
    counts = await version_counts(
        sessionmaker, journey_id, since, until, model_step_types=MODEL_STEP_TYPES, send_step_ids=send_steps
    )
    return JourneyReport(
        journey_id=journey_id,
        description=spec.description.strip() if spec else "",
        since=since,
        until=until,
        generated_at=utcnow(),
        versions=[_version(spec, version, counts[version]) for version in sorted(counts, reverse=True)],
    )


class WindowError(ValueError):
    """A --since / --until value that is neither a duration, a date nor `all`."""


def parse_moment(value: str | None, now: datetime) -> datetime | None:
    """`30d` or `12h` (before now), an ISO date or time (UTC unless it says otherwise), `all`."""
    if value is None or value.strip().lower() in ("", "all"):
        return None
    text = value.strip()
    if re.fullmatch(r"\d+\s*m", text.lower()):  # "1m" read as a month would be a silent empty report
        raise WindowError(f"{value!r} means minutes here; for months write days (30d, 90d)")
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise WindowError(
            f"{value!r} is not a time: use a duration before now (30d, 12h), a date (2026-11-01), "
            "a time (2026-11-01T09:00), or all"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_window(
    since: str | None, until: str | None, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """The window of a report: runs started from `since` to `until` (see `parse_moment`)."""
    start, end = parse_moment(since, now), parse_moment(until, now)
    if start is not None and end is not None and start >= end:
        raise WindowError(f"since {since} is not before until {until}: the window holds no time")
    return start, end
