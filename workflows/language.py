"""The journey language's building blocks, shared by the journey file and every step type."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

STEP_ID = r"^[a-z][a-z0-9_]*$"
StepId = Annotated[str, Field(pattern=STEP_ID, max_length=64)]
Condition = Annotated[str, Field(min_length=1, max_length=2000)]
EventName = Annotated[str, Field(min_length=1, max_length=200)]
TextTemplate = Annotated[str, Field(max_length=4000)]
Channel = Literal["email", "sms", "push", "webhook"]


class SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Goto(SpecModel):
    goto: StepId


class StepBase(SpecModel):
    id: StepId
    description: str | None = None
    next: StepId | None = None  # default: the step below this one
    # What to do when the step fails after its retries: go to a step, skip to the next, or fail.
    on_error: Goto | Literal["skip", "fail"] = "fail"


class TimeWindow(SpecModel):
    start: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    end: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
