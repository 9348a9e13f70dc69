"""update_profile: tags, attributes and consent on the customer record, exactly once."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from activities.contracts import UPDATE_PROFILE, UpdateProfileRequest, UpdateProfileResult
from workflows.expressions import render
from workflows.language import Channel, Goto, StepBase, TextTemplate
from workflows.patches import CONSENT_GUARD
from workflows.steps.base import CheckContext, Expression, Jump, Outcome, Problem, Run, StepKind
from workflows.steps.results import latest_intent


class UpdateProfileStep(StepBase):
    type: Literal["update_profile"]
    add_tags: list[str] = Field(default_factory=list)
    remove_tags: list[str] = Field(default_factory=list)
    attributes: dict[str, TextTemplate | int | float | bool] = Field(default_factory=dict)
    consent: dict[Channel, bool] = Field(default_factory=dict)
    # A consent change decided by a model needs this confidence in the run's latest intent
    # (default: the deployment's JOURNEYS_CONSENT_MIN_CONFIDENCE); below it the run goes to
    # on_low_confidence, where a person confirms, and consent stays as it is.
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    on_low_confidence: Goto | None = None


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
    if (why := consent_guard(step, run)) and run.has(CONSENT_GUARD):
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


def _targets(step: UpdateProfileStep) -> list[Jump]:
    return [("on_low_confidence", step.on_low_confidence.goto)] if step.on_low_confidence else []


def _expressions(step: UpdateProfileStep) -> list[Expression]:
    return [("attributes", value, False) for value in step.attributes.values() if isinstance(value, str)]


def _check(step: UpdateProfileStep, context: CheckContext) -> list[Problem]:
    classifies = any(other.type == "classify_intent" for other in context.steps.values())
    if step.consent and classifies and not step.on_low_confidence:
        return [
            (
                "consent",
                "changes consent in a journey that classifies messages: add on_low_confidence: "
                "{ goto: <a step where a person confirms> }, so a message the model is unsure of "
                "(or one written to trick it) never changes consent on its own",
            )
        ]
    return []


KIND = StepKind(
    model=UpdateProfileStep,
    handle=update_profile,
    targets=_targets,
    expressions=_expressions,
    check=_check,
)
