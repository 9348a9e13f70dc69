"""split: a random A/B(/C) split, stable per run."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from workflows.language import STEP_ID, SpecModel, StepBase, StepId
from workflows.steps.base import Jump, Outcome, Run, StepKind


class SplitPath(SpecModel):
    name: Annotated[str, Field(pattern=STEP_ID)]
    weight: float = Field(gt=0)
    goto: StepId


class SplitStep(StepBase):
    type: Literal["split"]
    paths: list[SplitPath] = Field(min_length=2)
    # The arm the others are compared with in the journey's report (control_path). An arm that
    # goes straight to an exit is a holdout, and the report shows the journey's uplift.
    control: str | None = None

    @field_validator("paths")
    @classmethod
    def _unique_names(cls, paths: list[SplitPath]) -> list[SplitPath]:
        names = [p.name for p in paths]
        if len(set(names)) != len(names):
            raise ValueError("split path names must be unique")
        return paths

    @model_validator(mode="after")
    def _control_is_a_path(self) -> SplitStep:
        names = [p.name for p in self.paths]
        if self.control is not None and self.control not in names:
            raise ValueError(f"control {self.control!r} is not one of this split's paths: {', '.join(names)}")
        return self

    @property
    def control_path(self) -> SplitPath:
        """The arm the others are compared with: `control`, else the first path."""
        return next(p for p in self.paths if p.name == self.control) if self.control else self.paths[0]


def bucket(*parts: str) -> float:
    """A stable number in [0, 1) for a run and step: the same on replay, re-runs and workers."""
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


async def split(step: SplitStep, run: Run) -> Outcome:
    point = bucket(run.workflow_id, step.id) * sum(p.weight for p in step.paths)
    for path in step.paths:
        point -= path.weight
        if point < 0:
            break
    return Outcome({"path": path.name, "goto": path.goto}, goto=path.goto)


def _targets(step: SplitStep) -> list[Jump]:
    return [("paths", path.goto) for path in step.paths]


KIND = StepKind(
    model=SplitStep,
    handle=split,
    targets=_targets,
    falls_through=False,
)
