"""classify_intent: intent, confidence, sentiment, urgency and language of a text."""

from __future__ import annotations

from typing import Any, Literal

from inference_worker.contracts import (
    CLASSIFY_AND_SCORE,
    CLASSIFY_INTENT,
    IntentAndScoreRequest,
    IntentAndScoreResult,
    IntentRequest,
    IntentResult,
)
from workflows.expressions import render
from workflows.language import StepBase, TextTemplate
from workflows.patches import CLASSIFY_WITH_SCORE
from workflows.steps.base import MODEL_TIMEOUT, Expression, Outcome, Run, StepKind
from workflows.steps.score import ScoreStep, score_request


class ClassifyIntentStep(StepBase):
    type: Literal["classify_intent"]
    text: TextTemplate = "{{ event.text }}"


async def classify_intent(step: ClassifyIntentStep, run: Run) -> Outcome:
    text = render(step.text, run.context())[:8000]
    request = IntentRequest(text=text, customer_id=run.customer.id)
    following = run.step_after(step)
    if isinstance(following, ScoreStep) and run.has(CLASSIFY_WITH_SCORE):
        scoring = score_request(following, run, None)
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


def _expressions(step: ClassifyIntentStep) -> list[Expression]:
    return [("text", step.text, False)]


def _describe(result: dict[str, Any]) -> str:
    return (
        f"{result.get('label')} {float(result.get('confidence') or 0):.2f} "
        f"{result.get('sentiment')}/{result.get('urgency')}"
    )


KIND = StepKind(
    model=ClassifyIntentStep,
    handle=classify_intent,
    expressions=_expressions,
    describe=_describe,
)
