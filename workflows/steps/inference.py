"""classify_intent, score and generate_copy: calls to the inference worker."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from inference_worker.contracts import (
    CLASSIFY_AND_SCORE,
    CLASSIFY_INTENT,
    GENERATE_COPY,
    SCORE_CUSTOMER,
    CopyRequest,
    CopyResult,
    IntentAndScoreRequest,
    IntentAndScoreResult,
    IntentRequest,
    IntentResult,
    ScoreRequest,
    ScoreResult,
)
from workflows.expressions import render
from workflows.spec import ClassifyIntentStep, GenerateCopyStep, ScoreStep
from workflows.steps.base import Outcome, Run

COPY_TIMEOUT = timedelta(minutes=3)
MODEL_TIMEOUT = timedelta(seconds=30)
# A classify step right before a score step asks for both in one inference round trip; runs begun
# before it ask one after the other.
CLASSIFY_WITH_SCORE_PATCH = "classify-with-next-score"


async def classify_intent(step: ClassifyIntentStep, run: Run) -> Outcome:
    text = render(step.text, run.context())[:8000]
    request = IntentRequest(text=text, customer_id=run.customer.id)
    following = run.step_after(step)
    if isinstance(following, ScoreStep) and workflow.patched(CLASSIFY_WITH_SCORE_PATCH):
        scoring = _score_request(following, run, None)
        both = await run.inference(
            CLASSIFY_AND_SCORE,
            IntentAndScoreRequest(intent=request, score=scoring),
            IntentAndScoreResult,
            MODEL_TIMEOUT,
        )
        if both.score is not None:
            run.prefetched[following.id] = (scoring.model_copy(update={"intent": both.intent}), both.score)
        return Outcome(both.intent.model_dump(mode="json"))
    result = await run.inference(CLASSIFY_INTENT, request, IntentResult, MODEL_TIMEOUT)
    return Outcome(result.model_dump(mode="json"))


def latest_intent(run: Run) -> IntentResult | None:
    for step_id in reversed(run.path):
        result = run.results.get(step_id)
        if isinstance(result, dict) and {"label", "confidence", "sentiment"} <= result.keys():
            return IntentResult.model_validate(result)
    return None


def _score_request(step: ScoreStep, run: Run, intent: IntentResult | None) -> ScoreRequest:
    return ScoreRequest(kind=step.model, customer=run.customer.model_dump(mode="json"), intent=intent)


async def score(step: ScoreStep, run: Run) -> Outcome:
    request = _score_request(step, run, latest_intent(run))
    prefetched = run.prefetched.pop(step.id, None)
    if prefetched is not None and prefetched[0] == request:  # asked for with the classification
        return Outcome(prefetched[1].model_dump(mode="json"))
    result = await run.inference(SCORE_CUSTOMER, request, ScoreResult, MODEL_TIMEOUT)
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
