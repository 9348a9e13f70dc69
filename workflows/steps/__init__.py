"""The step types. Each lives in one module of this package: its spec model, its handler and what
validation and the interpreter need to know of it (a `StepKind`). Adding a step type is its
module, one line here, its section in docs/journeys.md and its tests."""

from __future__ import annotations

import functools
import operator
from typing import Annotated, Any

from pydantic import Field

from workflows.steps import (
    branch,
    classify_intent,
    exit,
    generate_copy,
    human_review,
    notify,
    retrieve,
    score,
    send,
    split,
    update_profile,
    wait,
    wait_for_event,
)
from workflows.steps.base import StepKind

KINDS: dict[str, StepKind[Any]] = {
    kind.type: kind
    for kind in (
        classify_intent.KIND,
        score.KIND,
        retrieve.KIND,
        generate_copy.KIND,
        human_review.KIND,
        send.KIND,
        branch.KIND,
        split.KIND,
        wait.KIND,
        wait_for_event.KIND,
        update_profile.KIND,
        notify.KIND,
        exit.KIND,
    )
}
STEP_TYPES: tuple[str, ...] = tuple(KINDS)
# Steps whose result is a model's answer (audited as model calls; counted by the journey report).
MODEL_STEP_TYPES: frozenset[str] = frozenset(name for name, kind in KINDS.items() if kind.describe)

# A journey's step: pydantic picks the model by `type`.
Step = Annotated[
    functools.reduce(operator.or_, (kind.model for kind in KINDS.values())), Field(discriminator="type")
]


def kind_of(step: Any) -> StepKind[Any]:
    return KINDS[step.type]
