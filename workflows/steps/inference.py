"""classify_intent, score, retrieve and generate_copy: calls to the inference worker."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from inference_worker.contracts import (
    CLASSIFY_AND_SCORE,
    CLASSIFY_INTENT,
    GENERATE_COPY,
    RETRIEVE_KNOWLEDGE,
    SCORE_CUSTOMER,
    CopyRequest,
    CopyResult,
    IntentAndScoreRequest,
    IntentAndScoreResult,
    IntentRequest,
    IntentResult,
    RetrieveRequest,
    RetrieveResult,
    ScoreRequest,
    ScoreResult,
)
from inference_worker.language import locale_language
from workflows.expressions import render
from workflows.spec import ClassifyIntentStep, GenerateCopyStep, RetrieveStep, ScoreStep
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


def _language(run: Run) -> str | None:
    """The language to write to the customer in: their message's, else their locale's."""
    intent = latest_intent(run)
    if intent is not None and intent.language:
        return intent.language
    return locale_language(run.customer.locale)


def _interests(run: Run) -> list[str]:
    """The profile's `interests` attribute (a list, or words separated by `,` or `;`) as categories."""
    value = run.customer.attributes.get("interests")
    items = (
        value.replace(";", ",").split(",")
        if isinstance(value, str)
        else value
        if isinstance(value, list)
        else []
    )
    return [str(item).strip().lower() for item in items if str(item).strip()][:20]


async def retrieve(step: RetrieveStep, run: Run) -> Outcome:
    intent = latest_intent(run)
    request = RetrieveRequest(
        question=render(step.question, run.context())[:8000],
        language=intent.language if intent is not None else None,  # else told from the question
        locale=run.customer.locale,
        interests=_interests(run),
        min_score=step.min_score,
    )
    result = await run.inference(RETRIEVE_KNOWLEDGE, request, RetrieveResult, MODEL_TIMEOUT)
    goto = None if result.found else step.on_no_answer.goto
    return Outcome(result.model_dump(mode="json"), goto=goto)


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
    render_context = {"customer": context["customer"], "event": context["event"], "steps": context["steps"]}
    if step.knowledge:  # a retrieve step this run skipped leaves nothing to answer with
        render_context["knowledge"] = run.results.get(step.knowledge) or {"found": False, "product": None}
    return CopyRequest(
        template=step.template,
        channel=step.channel,
        variants=step.variants,
        brief=brief,
        context=render_context,
        language=_language(run),
    )


async def generate_copy(step: GenerateCopyStep, run: Run) -> Outcome:
    request = copy_request(step, run)
    result = await run.inference(GENERATE_COPY, request, CopyResult, COPY_TIMEOUT)
    return Outcome(result.model_dump(mode="json"))
