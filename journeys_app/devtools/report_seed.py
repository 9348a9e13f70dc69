"""Runs of `abandoned_cart` with known outcomes written straight into the store, as the journey
would have written them: for the report's exact-figures test and `journeys bench report`.

Nothing here runs a workflow; the rows follow the journey's shape (wait, split, copy, send, wait,
exit) so every figure of the report has a known value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from journeys_app.store.schema import GoalEvent, JourneyRun, Message, Review, StepResult

JOURNEY = "abandoned_cart"
GOAL = "order_completed"
GOAL_WITHIN = timedelta(days=3)
FIRST_WAIT = timedelta(hours=4)
ROWS_PER_INSERT = 2000


@dataclass(frozen=True)
class ArmPlan:
    """One arm's runs, in this order: converted, then still waiting, then timed out."""

    entered: int
    converted: int  # ordered a day after the reminder: outcome recovered_after_reminder
    waiting: int = 0  # still waiting at wait_after_reminder
    late_orders: int = 0  # timed-out runs whose order came after the goal window: not converted
    suppressed: int = 0  # the first runs' reminders suppressed (no consent)
    capped: int = 0  # the next runs' reminders suppressed by the frequency cap
    degraded: int = 0  # the first runs' copy came from the template's preset (inference down)
    held: int = 0  # the first runs' reminders waited for quiet hours to end


@dataclass(frozen=True)
class CartPlan:
    arms: dict[str, ArmPlan]
    bought_first: int = 0  # ordered during the first wait: never split, converted
    before_window: int = 0  # bought-first runs started a week before `start` (outside --since)
    # Reviews of the first runs (status, minutes to decision; None: still pending).
    reviews: list[tuple[str, float | None]] = field(default_factory=list)
    start: datetime = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    version: int = 1


@dataclass
class _Rows:
    runs: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    goals: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)


def _step(
    wf: str, step_id: str, step_type: str, at: datetime, result: dict[str, Any], end: datetime | None = None
) -> dict[str, Any]:
    return {
        "workflow_id": wf,
        "step_id": step_id,
        "visit": 1,
        "step_type": step_type,
        "status": "completed",
        "result": result,
        "error": None,
        "started_at": at,
        "finished_at": end or at,
    }


def _run(wf: str, customer: str, started: datetime, version: int, **values: Any) -> dict[str, Any]:
    return {
        "workflow_id": wf,
        "journey_id": JOURNEY,
        "journey_version": version,
        "spec_hash": "seeded",
        "customer_id": customer,
        "entry_key": wf,
        "trigger_event": "cart_abandoned",
        "path": [],
        "started_at": started,
        "goal_event": GOAL,
        "goal_until": started + GOAL_WITHIN,
        "current_step": None,
        "outcome": None,
        "finished_at": None,
        **values,
    }


def _goal(customer: str, at: datetime, n: int) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "event": GOAL,
        "message_id": f"order-{n}",
        "occurred_at": at,
        "recorded_at": at,
    }


def _bought_first(rows: _Rows, n: int, started: datetime, version: int) -> None:
    wf, customer = f"seed-{n}", f"seed-customer-{n}"
    ordered = started + timedelta(hours=1)
    rows.runs.append(
        _run(
            wf,
            customer,
            started,
            version,
            status="completed",
            outcome="purchased_without_reminder",
            finished_at=ordered,
        )
    )
    rows.steps.append(_step(wf, "wait_purchase", "wait_for_event", started, {"event": GOAL}, ordered))
    rows.steps.append(_step(wf, "bought", "exit", ordered, {}))
    rows.goals.append(_goal(customer, ordered, n))


def _in_arm(rows: _Rows, n: int, started: datetime, version: int, arm: str, plan: ArmPlan, i: int) -> None:
    wf, customer = f"seed-{n}", f"seed-customer-{n}"
    split_at = started + FIRST_WAIT
    rows.steps.append(_step(wf, "wait_purchase", "wait_for_event", started, {"timed_out": True}, split_at))
    rows.steps.append(_step(wf, "subject_test", "split", split_at, {"path": arm, "goto": "reminder"}))
    degraded = i < plan.degraded
    rows.steps.append(
        _step(
            wf,
            "reminder",
            "generate_copy",
            split_at,
            {
                "backend": "rules" if degraded else "local",
                "model": "preset" if degraded else "smollm2-135m",
                "degraded": degraded,
                "variants": [{"source": "template_default" if degraded else "model"}],
            },
        )
    )
    sent_at = split_at + (timedelta(hours=10) if i < plan.held else timedelta())
    held = {"deferred_seconds": 36000} if i < plan.held else {}
    if i < plan.suppressed:
        status, reason = "suppressed", "customer has not consented to marketing by email"
    elif i < plan.suppressed + plan.capped:
        status, reason = (
            "suppressed",
            "frequency cap: 3 marketing email messages in the last 7 days (at most 3)",
        )
    else:
        status, reason = "sent", None
    rows.messages.append(
        {
            "idempotency_key": f"{wf}:send_reminder:1",
            "workflow_id": wf,
            "step_id": "send_reminder",
            "customer_id": customer,
            "channel": "email",
            "category": "marketing",
            "subject": "Your cart",
            "body": "Your cart is waiting.",
            "source": "model",
            "status": status,
            "reason": reason,
            "provider_response": None,
            "sent_at": sent_at if status == "sent" else None,
            "created_at": sent_at,
        }
    )
    rows.steps.append(
        _step(
            wf,
            "send_reminder",
            "send",
            split_at,
            {"status": "queued" if reason is None else "suppressed", **held},
            sent_at,
        )
    )
    if i < plan.converted:
        ordered = split_at + timedelta(days=1)
        rows.steps.append(
            _step(wf, "wait_after_reminder", "wait_for_event", sent_at, {"event": GOAL}, ordered)
        )
        rows.steps.append(_step(wf, "recovered", "exit", ordered, {}))
        rows.goals.append(_goal(customer, ordered, n))
        rows.runs.append(
            _run(
                wf,
                customer,
                started,
                version,
                status="completed",
                outcome="recovered_after_reminder",
                finished_at=ordered,
            )
        )
    elif i < plan.converted + plan.waiting:
        rows.runs.append(
            _run(wf, customer, started, version, status="running", current_step="wait_after_reminder")
        )
    else:
        ended = sent_at + timedelta(days=2)
        rows.steps.append(
            _step(wf, "wait_after_reminder", "wait_for_event", sent_at, {"timed_out": True}, ended)
        )
        rows.runs.append(
            _run(wf, customer, started, version, status="completed", outcome="timed_out", finished_at=ended)
        )
        if i - plan.converted - plan.waiting < plan.late_orders:
            rows.goals.append(_goal(customer, started + GOAL_WITHIN + timedelta(hours=1), n))


def _rows(plan: CartPlan, first: int) -> Iterator[_Rows]:
    """The plan's rows, a few thousand runs at a time."""
    rows, n = _Rows(), first

    def runs() -> Iterator[tuple[str, ArmPlan | None, int, datetime]]:
        for i in range(plan.before_window):
            yield "", None, i, plan.start - timedelta(days=7)
        for i in range(plan.bought_first):
            yield "", None, i, plan.start
        for arm, arm_plan in plan.arms.items():
            for i in range(arm_plan.entered):
                yield arm, arm_plan, i, plan.start

    for arm, arm_plan, i, day in runs():
        started = day + timedelta(seconds=n - first)
        if arm_plan is None:
            _bought_first(rows, n, started, plan.version)
        else:
            _in_arm(rows, n, started, plan.version, arm, arm_plan, i)
        n += 1
        if len(rows.runs) >= ROWS_PER_INSERT:
            yield rows
            rows = _Rows()
    yield rows


def _reviews(plan: CartPlan, first: int) -> list[dict[str, Any]]:
    out = []
    for i, (status, minutes) in enumerate(plan.reviews):
        wf = f"seed-{first + plan.before_window + i}"
        created = plan.start + timedelta(hours=5)
        out.append(
            {
                "review_id": f"rv-{wf}",
                "workflow_id": wf,
                "step_id": "review",
                "customer_id": f"seed-customer-{first + plan.before_window + i}",
                "group": "marketing",
                "deadline": created + timedelta(hours=4),
                "status": status,
                "variants": [],
                "created_at": created,
                "decided_at": created + timedelta(minutes=minutes) if minutes is not None else None,
                "journey_id": JOURNEY,
                "why": "seeded",
                "snippet": "",
            }
        )
    return out


async def seed(session: AsyncSession, plan: CartPlan, first: int = 0) -> int:
    """Write the plan's runs (numbered from `first`); returns how many runs were written."""
    written = 0
    for rows in _rows(plan, first):
        for table, values in (
            (JourneyRun, rows.runs),
            (StepResult, rows.steps),
            (Message, rows.messages),
            (GoalEvent, rows.goals),
        ):
            for start in range(0, len(values), ROWS_PER_INSERT):
                await session.execute(insert(table), values[start : start + ROWS_PER_INSERT])
        written += len(rows.runs)
    if plan.reviews:
        await session.execute(insert(Review), _reviews(plan, first))
    return written
