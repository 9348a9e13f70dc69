"""exit: end the run with an outcome."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from workflows.language import STEP_ID, StepBase
from workflows.steps.base import Outcome, Run, StepKind


class ExitStep(StepBase):
    type: Literal["exit"]
    outcome: Annotated[str, Field(pattern=STEP_ID)] = "completed"


async def exit_step(step: ExitStep, run: Run) -> Outcome:
    return Outcome({"outcome": step.outcome}, end=step.outcome)


KIND = StepKind(
    model=ExitStep,
    handle=exit_step,
    falls_through=False,
)
