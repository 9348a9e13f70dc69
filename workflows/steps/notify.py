"""notify: an internal alert (webhook) to a named team, exactly once."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from activities.contracts import NOTIFY, NotifyRequest, NotifyResult
from workflows.expressions import render
from workflows.language import StepBase, TextTemplate
from workflows.steps.base import Expression, Outcome, Run, StepKind


class NotifyStep(StepBase):
    type: Literal["notify"]
    target: str = Field(min_length=1)
    message: TextTemplate


async def notify(step: NotifyStep, run: Run) -> Outcome:
    context = run.context()
    request = NotifyRequest(
        idempotency_key=run.effect_key(step.id),
        workflow_id=run.workflow_id,
        customer_id=run.customer.id,
        target=step.target,
        message=render(step.message, context),
        payload={"journey": run.spec.id, "customer_id": run.customer.id, "path": run.path},
    )
    result = await run.effect(NOTIFY, request, NotifyResult)
    return Outcome(result.model_dump(mode="json"))


def _expressions(step: NotifyStep) -> list[Expression]:
    return [("message", step.message, False)]


KIND = StepKind(
    model=NotifyStep,
    handle=notify,
    expressions=_expressions,
)
