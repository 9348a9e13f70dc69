"""branch: the first matching condition wins; `otherwise` is required."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from workflows.expressions import evaluate
from workflows.language import Condition, SpecModel, StepBase, StepId
from workflows.steps.base import Expression, Jump, Outcome, Run, StepKind


class Case(SpecModel):
    when: Condition
    goto: StepId


class BranchStep(StepBase):
    type: Literal["branch"]
    cases: list[Case] = Field(min_length=1)
    otherwise: StepId


async def branch(step: BranchStep, run: Run) -> Outcome:
    context = run.context()
    for index, case in enumerate(step.cases):
        if evaluate(case.when, context):
            return Outcome({"matched": index, "when": case.when, "goto": case.goto}, goto=case.goto)
    return Outcome({"matched": None, "goto": step.otherwise}, goto=step.otherwise)


def _targets(step: BranchStep) -> list[Jump]:
    return [("cases", case.goto) for case in step.cases] + [("otherwise", step.otherwise)]


def _expressions(step: BranchStep) -> list[Expression]:
    return [("cases", case.when, True) for case in step.cases]


KIND = StepKind(
    model=BranchStep,
    handle=branch,
    targets=_targets,
    expressions=_expressions,
    falls_through=False,
)
