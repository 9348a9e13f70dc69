"""score: a customer score in [0, 1] with a band and reasons."""

from __future__ import annotations

from typing import Any, Literal

from inference_worker.contracts import SCORE_CUSTOMER, IntentResult, ScoreRequest, ScoreResult
from workflows.language import StepBase
from workflows.steps.base import MODEL_TIMEOUT, Outcome, Run, StepKind
from workflows.steps.results import latest_intent


class ScoreStep(StepBase):
    type: Literal["score"]
    model: Literal["customer_value", "churn", "lead"] = "customer_value"


def score_request(step: ScoreStep, run: Run, intent: IntentResult | None) -> ScoreRequest:
    return ScoreRequest(kind=step.model, customer=run.customer.model_dump(mode="json"), intent=intent)


async def score(step: ScoreStep, run: Run) -> Outcome:
    request = score_request(step, run, latest_intent(run))
    prefetched = run.prefetched.pop(step.id, None)
    if prefetched is not None and prefetched[0] == request:  # asked for with the classification
        return Outcome(prefetched[1].model_dump(mode="json"))
    result = await run.inference(SCORE_CUSTOMER, request, ScoreResult, MODEL_TIMEOUT)
    return Outcome(result.model_dump(mode="json"))


def _describe(result: dict[str, Any]) -> str:
    return f"{result.get('kind')} {result.get('band')} {float(result.get('value') or 0):.2f}"


KIND = StepKind(
    model=ScoreStep,
    handle=score,
    describe=_describe,
)
