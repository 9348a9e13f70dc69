"""classify_intent, score and generate_copy: calls to the inference worker."""

from __future__ import annotations

from datetime import timedelta

from inference_worker.contracts import (
    CLASSIFY_INTENT,
    GENERATE_COPY,
    SCORE_CUSTOMER,
    CopyRequest,
    CopyResult,
    IntentRequest,
    IntentResult,
    ScoreRequest,
    ScoreResult,
)
from workflows.expressions import render
from workflows.spec import ClassifyIntentStep, GenerateCopyStep, ScoreStep
from workflows.steps.base import Outcome, Run

COPY_TIMEOUT = timedelta(minutes=3)


async def classify_intent(step: ClassifyIntentStep, run: Run) -> Outcome:
    text = render(step.text, run.context())[:8000]
    request = IntentRequest(text=text, customer_id=run.customer.id)
    result = await run.inference(CLASSIFY_INTENT, request, IntentResult, timedelta(seconds=30))
    return Outcome(result.model_dump(mode="json"))


def latest_intent(run: Run) -> IntentResult | None:
    for step_id in reversed(run.path):
        result = run.results.get(step_id)
        if isinstance(result, dict) and {"label", "confidence", "sentiment"} <= result.keys():
            return IntentResult.model_validate(result)
    return None


async def score(step: ScoreStep, run: Run) -> Outcome:
    customer = run.customer.model_dump(mode="json")
    request = ScoreRequest(kind=step.model, customer=customer, intent=latest_intent(run))
    result = await run.inference(SCORE_CUSTOMER, request, ScoreResult, timedelta(seconds=30))
    return Outcome(result.model_dump(mode="json"))


def copy_request(step: GenerateCopyStep, run: Run, note: str | None = None) -> CopyRequest:
    """The step's request; a reviewer's `note` is added to the brief when they ask to regenerate."""
    context = run.context()
    brief = render(step.brief, context) if step.brief else None
    if note:
        brief = (
            f"{brief}\nA reviewer asked for changes: {note}"
            if brief
            else f"A reviewer asked for changes: {note}"
        )
    return CopyRequest(
        template=step.template,
        channel=step.channel,
        variants=step.variants,
        brief=brief,
        context={
            "customer": context["customer"],
            "event": context["event"],
            "steps": context["steps"],
        },
    )


async def generate_copy(step: GenerateCopyStep, run: Run) -> Outcome:
    request = copy_request(step, run)
    result = await run.inference(GENERATE_COPY, request, CopyResult, COPY_TIMEOUT)
    return Outcome(result.model_dump(mode="json"))
