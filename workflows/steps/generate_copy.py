"""generate_copy: message variants from a template whose slots a model fills, with guardrails."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from inference_worker.contracts import GENERATE_COPY, CopyRequest, CopyResult, locale_language
from workflows.expressions import render
from workflows.language import StepBase, StepId, TextTemplate
from workflows.steps.base import COPY_TIMEOUT, CheckContext, Expression, Outcome, Problem, Run, StepKind
from workflows.steps.results import latest_intent


class GenerateCopyStep(StepBase):
    type: Literal["generate_copy"]
    template: Annotated[str, Field(pattern=r"^[a-z_]+/[a-z0-9_]+$")]
    variants: int = Field(default=1, ge=1, le=5)
    brief: TextTemplate | None = None
    knowledge: StepId | None = None  # a retrieve step: the template reads its answer and product

    @property
    def channel(self) -> str:
        return self.template.split("/", 1)[0]


def _language(run: Run) -> str | None:
    """The language to write to the customer in: their message's, else their locale's."""
    intent = latest_intent(run)
    if intent is not None and intent.language:
        return intent.language
    return locale_language(run.customer.locale)


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


def _expressions(step: GenerateCopyStep) -> list[Expression]:
    return [("brief", step.brief, False)] if step.brief else []


def _check(step: GenerateCopyStep, context: CheckContext) -> list[Problem]:
    problems: list[Problem] = []
    if context.template_problems:
        found = (
            context.template_problems(step.template, knowledge=True)
            if step.knowledge
            else context.template_problems(step.template)
        )
        problems += [("template", problem) for problem in found]
    knowledge = context.steps.get(step.knowledge) if step.knowledge else None
    if step.knowledge and (knowledge is None or knowledge.type != "retrieve"):
        problems.append(("knowledge", f"knowledge: '{step.knowledge}' must name a retrieve step"))
    return problems


def _describe(result: dict[str, Any]) -> str:
    variants = result.get("variants") or []
    sources = ", ".join(str(v.get("source")) for v in variants if isinstance(v, dict))
    return f"{len(variants)} variant{'' if len(variants) == 1 else 's'} ({sources})"


KIND = StepKind(
    model=GenerateCopyStep,
    handle=generate_copy,
    expressions=_expressions,
    check=_check,
    describe=_describe,
)
