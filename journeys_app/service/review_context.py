"""What a reviewer needs to decide one review: the customer, the message, intent and score, the drafts.

One place for the console's detail page and `journeys review show`. The run's own state (a query)
comes first; a run that has ended is read from the store instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from temporalio.service import RPCError

from activities.reviewer_check import REVIEW_REFUSED
from journeys_app.service.journey_service import JourneyService, ReviewNotFound
from journeys_app.store import queries
from journeys_app.store.audit import AuditRecord, audit_for_subject
from journeys_app.store.customers import to_profile
from journeys_app.store.schema import Customer
from workflows.steps.results import RunResults


class ReviewContext(BaseModel):
    review: queries.ReviewRecord
    journey_id: str
    customer: dict[str, Any]  # the journey's view: no email, no phone
    message: str | None
    intent: dict[str, Any] | None
    score: dict[str, Any] | None
    facts: list[str]
    time_left: str
    is_open: bool
    refused: list[str] = []  # decisions the run refused: who, how, when and why
    trigger_event: str | None = None
    trigger: dict[str, str] = {}  # the trigger's properties as text (order id, items…), not its message
    arms: list[tuple[str, str]] = []  # (split step, arm) the run went down
    briefs: list[tuple[str, str]] = []  # (copy step, its brief as the journey writes it)
    due: str = "ok"  # late, soon, ok: how urgent the deadline is


MESSAGE_PROPERTIES = ("subject", "text")


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_shown(v)}" for k, v in value.items())
    return str(value)


def urgency(deadline: datetime, now: datetime | None = None) -> str:
    """late (passed), soon (within the hour), ok: the queue's colour for a deadline."""
    seconds = (deadline - (now or datetime.now(UTC))).total_seconds()
    return "late" if seconds <= 0 else "soon" if seconds < 3600 else "ok"


def _refusal(entry: AuditRecord) -> str:
    details = entry.details
    return (
        f"{entry.at:%Y-%m-%d %H:%M} UTC: {details.get('decision')} by {entry.actor} via "
        f"{details.get('via')} refused ({details.get('reason')})"
    )


def time_left(deadline: datetime, now: datetime | None = None) -> str:
    seconds = int((deadline - (now or datetime.now(UTC))).total_seconds())
    if seconds <= 0:
        return "deadline passed"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min left" if hours else f"{rest // 60} min left"


def _facts(intent: dict[str, Any] | None, score: dict[str, Any] | None) -> list[str]:
    facts = []
    if intent:
        facts.append(
            f"intent {intent.get('label')} at {float(intent.get('confidence') or 0):.0%}, "
            f"{intent.get('sentiment')}, urgency {intent.get('urgency')}"
            + (" (degraded: rules)" if intent.get("degraded") else "")
        )
    if score:
        facts.append(
            f"{score.get('kind')} score {float(score.get('value') or 0):.2f} ({score.get('band')}): "
            + "; ".join(score.get("reasons") or [])
        )
    return facts


async def load_review_context(service: JourneyService, review_id: str) -> ReviewContext:
    review = await queries.get_review(service.sessionmaker, review_id)
    if review is None:
        raise ReviewNotFound(f"no review '{review_id}'")
    message: str | None = None
    trigger_event, trigger = None, {}
    try:
        state = await service.state(review.workflow_id)
        journey_id, results, path = state.journey_id, state.results, state.path
        if state.trigger is not None:
            props = state.trigger.properties
            message = " — ".join(str(props[k]) for k in MESSAGE_PROPERTIES if props.get(k)) or None
            trigger_event = state.trigger.name
            trigger = {k: _shown(v) for k, v in props.items() if k not in MESSAGE_PROPERTIES}
    except RPCError:  # the run has ended (or its history is gone): read what the store kept
        run = await queries.get_run(service.sessionmaker, review.workflow_id)
        journey_id = run.journey_id if run else "?"
        results = {s.step_id: s.result for s in run.steps} if run else {}
        path = list(results)
        message = review.snippet or None
    journey = service.catalog.get(journey_id)
    steps = journey.spec.step_map() if journey else {}
    arms = [
        (step_id, str(results[step_id].get("path")))
        for step_id in dict.fromkeys(path)
        if getattr(steps.get(step_id), "type", None) == "split" and step_id in results
    ]
    briefs = [
        (step_id, step.brief.strip())
        for step_id in dict.fromkeys(path)
        if (step := steps.get(step_id)) is not None and step.type == "generate_copy" and step.brief
    ]
    found = RunResults.of_spec(journey.spec if journey else None, path, results)
    intent, score = found.latest("classify_intent"), found.latest("score")
    async with service.sessionmaker() as session:
        row = await session.get(Customer, review.customer_id)
    customer = to_profile(row).model_dump() if row is not None else {"id": review.customer_id}
    return ReviewContext(
        review=review,
        journey_id=journey_id,
        customer=customer,
        message=message,
        intent=intent,
        score=score,
        facts=_facts(intent, score),
        time_left=time_left(review.deadline),
        due=urgency(review.deadline),
        is_open=review.status in queries.OPEN_REVIEW_STATUSES,
        trigger_event=trigger_event,
        trigger=trigger,
        arms=arms,
        briefs=briefs,
        refused=[
            _refusal(e) for e in await audit_for_subject(service.sessionmaker, review_id, REVIEW_REFUSED)
        ],
    )
