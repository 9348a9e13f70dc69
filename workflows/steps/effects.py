"""send, update_profile and notify: side effects, each exactly once through an idempotency key."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

from activities.contracts import (
    NOTIFY,
    SEND_MESSAGE,
    UPDATE_PROFILE,
    NotifyRequest,
    NotifyResult,
    SendRequest,
    SendResult,
    UpdateProfileRequest,
    UpdateProfileResult,
)
from workflows.expressions import render
from workflows.spec import NotifyStep, SendStep, UpdateProfileStep
from workflows.steps.base import Outcome, Run
from workflows.steps.flow import until_window
from workflows.steps.inference import latest_intent

CONSENT_GUARD_PATCH = "consent-needs-confidence"


class NoCopyError(ValueError):
    """A send step found no copy to send."""


def first_passing(variants: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first variant that passed every guardrail: copy that failed one is never sent unseen."""
    return next((v for v in variants if all(g["passed"] for g in v.get("guardrails", []))), None)


def message_to_send(step: SendStep, run: Run) -> dict[str, Any]:
    """The latest review's approved copy or, with no review since, the latest generated copy."""
    candidates = [step.copy_from] if step.copy_from else list(reversed(run.path))
    for step_id in candidates:
        result = run.results.get(step_id) or {}
        if "approved" in result:  # a human_review result decides, whatever it decided
            if result["approved"] and result["approved"].get("body"):
                return result["approved"]
            raise NoCopyError(f"send step '{step.id}': review '{step_id}' approved no copy")
        if "variants" in result:
            chosen = first_passing(result["variants"])
            if chosen is None:
                raise NoCopyError(f"send step '{step.id}': no variant of '{step_id}' passed the guardrails")
            return chosen
    raise NoCopyError(f"send step '{step.id}' found no approved or generated copy before it")


async def send(step: SendStep, run: Run) -> Outcome:
    message = message_to_send(step, run)
    deferred: dict[str, Any] = {}
    quiet = run.spec.quiet_hours
    if quiet is not None and step.category == "marketing":
        # The allowed window is the end of quiet hours until their start, in the customer's zone.
        delay = until_window(run.now(), run.customer.timezone, quiet.end, quiet.start)
        if delay > timedelta(0):
            await run.wait(lambda: False, delay, quiet_hours=True)
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


class LowConfidenceError(ValueError):
    """A consent change decided by a model that is not sure enough, with no path to a person."""


def consent_guard(step: UpdateProfileStep, run: Run) -> str | None:
    """Why this consent change must not happen without a person, or None."""
    intent = latest_intent(run) if step.consent else None
    if intent is None:
        return None  # not decided by a model (an unsubscribe event, a form)
    needed = step.min_confidence if step.min_confidence is not None else run.consent_min_confidence
    if intent.confidence >= needed:
        return None
    return (
        f"intent {intent.label!r} at {intent.confidence:.2f} is below the {needed:.2f} needed to change "
        "consent without a person"
    )


async def update_profile(step: UpdateProfileStep, run: Run) -> Outcome:
    if (why := consent_guard(step, run)) and workflow.patched(CONSENT_GUARD_PATCH):
        if step.on_low_confidence is None:
            raise LowConfidenceError(f"{why}; add on_low_confidence to the step")
        return Outcome({"applied": False, "why": why}, goto=step.on_low_confidence.goto)
    context = run.context()
    attributes = {
        key: render(value, context) if isinstance(value, str) else value
        for key, value in step.attributes.items()
    }
    request = UpdateProfileRequest(
        idempotency_key=run.effect_key(step.id),
        customer_id=run.customer.id,
        add_tags=step.add_tags,
        remove_tags=step.remove_tags,
        attributes=attributes,
        consent=dict(step.consent),
    )
    result = await run.effect(UPDATE_PROFILE, request, UpdateProfileResult)
    run.customer = result.customer
    return Outcome({"tags": result.customer.tags, "consent": result.customer.consent})


async def notify(step: NotifyStep, run: Run) -> Outcome:
    context = run.context()
    request = NotifyRequest(
        idempotency_key=run.effect_key(step.id),
        workflow_id=run.workflow_id,
        customer_id=run.customer.id,
        target=step.target,
        message=render(step.message, context),
        payload={"journey": run.spec.id, "customer_id": run.customer.id, "path": run.path},
    )
    result = await run.effect(NOTIFY, request, NotifyResult)
    return Outcome(result.model_dump(mode="json"))
