"""send: a message on a channel, exactly once through an idempotency key; respects consent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field

from activities.contracts import SEND_MESSAGE, SendRequest, SendResult
from workflows.language import Channel, StepBase, StepId
from workflows.steps.base import CheckContext, Outcome, Problem, Run, StepKind
from workflows.steps.results import ReviewResult, RunResults, first_passing
from workflows.steps.wait import until_window


class SendStep(StepBase):
    type: Literal["send"]
    channel: Channel
    copy_from: StepId | None = Field(default=None, alias="copy")  # default: latest review or copy
    category: Literal["marketing", "transactional"] = "marketing"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NoCopyError(ValueError):
    """A send step found no copy to send."""


def message_to_send(step: SendStep, run: Run) -> dict[str, Any]:
    """The latest review's approved copy or, with no review since, the latest generated copy."""
    source = RunResults.of_run(run).copy_source(step.copy_from)
    if source is None:
        raise NoCopyError(f"send step '{step.id}' found no approved or generated copy before it")
    step_id, kind, result = source
    if kind == "human_review":  # a review decides, whatever it decided
        review = ReviewResult.model_validate(result)
        if review.approved and review.approved.body:
            return result["approved"]
        raise NoCopyError(f"send step '{step.id}': review '{step_id}' approved no copy")
    chosen = first_passing(result.get("variants", []))
    if chosen is None:
        raise NoCopyError(f"send step '{step.id}': no variant of '{step_id}' passed the guardrails")
    return chosen


async def send(step: SendStep, run: Run) -> Outcome:
    message = message_to_send(step, run)
    deferred: dict[str, Any] = {}
    quiet = run.spec.quiet_hours
    if quiet is not None and step.category == "marketing":
        # The allowed window is the end of quiet hours until their start, in the customer's zone.
        delay = until_window(run.now(), run.customer.timezone, quiet.end, quiet.start)
        if delay > timedelta(0):
            await run.wait(lambda: False, delay, what="quiet hours to end", quiet_hours=True)
            deferred = {
                "deferred_until": run.now().isoformat(),
                "deferred_seconds": int(delay.total_seconds()),
            }
    request = SendRequest(
        idempotency_key=run.effect_key(step.id),
        workflow_id=run.workflow_id,
        step_id=step.id,
        customer_id=run.customer.id,
        channel=step.channel,
        category=step.category,
        subject=message.get("subject"),
        body=message["body"],
        source=message.get("source", "model"),
    )
    result = await run.effect(SEND_MESSAGE, request, SendResult)
    return Outcome({**result.model_dump(mode="json"), **deferred})


def check_copy_from(copy_from: str | None, context: CheckContext) -> list[Problem]:
    """`copy:` must name a step that makes or approves copy."""
    source = context.steps.get(copy_from) if copy_from else None
    if copy_from and (source is None or source.type not in {"generate_copy", "human_review"}):
        return [("copy", f"copy: '{copy_from}' must name a generate_copy or human_review step")]
    return []


def _check(step: SendStep, context: CheckContext) -> list[Problem]:
    return check_copy_from(step.copy_from, context)


KIND = StepKind(
    model=SendStep,
    handle=send,
    check=_check,
)
