"""retrieve: the knowledge base's approved answer to a question, and a product to suggest with it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from inference_worker.contracts import RETRIEVE_KNOWLEDGE, RetrieveRequest, RetrieveResult
from workflows.expressions import render
from workflows.language import Goto, StepBase, TextTemplate
from workflows.steps.base import MODEL_TIMEOUT, Expression, Jump, Outcome, Run, StepKind
from workflows.steps.results import latest_intent


class RetrieveStep(StepBase):
    type: Literal["retrieve"]
    question: TextTemplate = "{{ event.text }}"
    # How sure retrieval must be of its best entry (default: the deployment's
    # JOURNEYS_KNOWLEDGE_MIN_SCORE); below it, or for a question left to a person, on_no_answer.
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    on_no_answer: Goto


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


def _targets(step: RetrieveStep) -> list[Jump]:
    return [("on_no_answer", step.on_no_answer.goto)]


def _expressions(step: RetrieveStep) -> list[Expression]:
    return [("question", step.question, False)]


def _describe(result: dict[str, Any]) -> str:
    return f"{result.get('entry_id') or 'no answer'} {float(result.get('score') or 0):.2f}"


KIND = StepKind(
    model=RetrieveStep,
    handle=retrieve,
    targets=_targets,
    expressions=_expressions,
    describe=_describe,
)
