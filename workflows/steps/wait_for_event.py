"""wait_for_event: wait for an event, with a timeout and a path for each outcome."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from temporalio import workflow

from workflows.durations import Duration
from workflows.expressions import ExpressionError, evaluate
from workflows.language import Condition, Goto, StepBase
from workflows.steps.base import Expression, Jump, Outcome, Run, StepKind


class WaitForEventStep(StepBase):
    type: Literal["wait_for_event"]
    event: str = Field(min_length=1)
    where: Condition | None = None  # over `received` (the event's properties)
    timeout: Duration
    on_event: Goto | None = None  # default: next step
    on_timeout: Goto | Literal["next", "exit"] = "next"


async def wait_for_event(step: WaitForEventStep, run: Run) -> Outcome:
    """Waits for an unconsumed event of the name (one that arrived earlier in the run counts)."""
    found: list[int] = []

    def match() -> bool:
        for index, event in enumerate(run.inbox):
            if event.name != step.event:
                continue
            if step.where:
                try:
                    if not evaluate(step.where, {**run.context(), "received": event.properties}):
                        continue
                except ExpressionError as exc:  # a bad event must not wedge the run: skip it
                    workflow.logger.warning("event %s ignored by step %s: %s", event.name, step.id, exc)
                    continue
            found.append(index)
            return True
        return False

    if await run.wait(match, step.timeout, what=f"event {step.event}"):
        event = run.inbox.pop(found[-1])
        goto = step.on_event.goto if step.on_event else None
        return Outcome({"received": True, "event": event.name, "properties": event.properties}, goto=goto)
    result = {"received": False, "timed_out_after": int(step.timeout.total_seconds())}
    if step.on_timeout == "exit":
        return Outcome(result, end="timed_out")
    if step.on_timeout == "next":
        return Outcome(result)
    return Outcome(result, goto=step.on_timeout.goto)


def _targets(step: WaitForEventStep) -> list[Jump]:
    out: list[Jump] = []
    if step.on_event:
        out.append(("on_event", step.on_event.goto))
    if isinstance(step.on_timeout, Goto):
        out.append(("on_timeout", step.on_timeout.goto))
    return out


def _expressions(step: WaitForEventStep) -> list[Expression]:
    return [("where", step.where, True)] if step.where else []


def _waits(step: WaitForEventStep) -> str | None:
    return None


def _listens(step: WaitForEventStep) -> list[str]:
    return [step.event]


KIND = StepKind(
    model=WaitForEventStep,
    handle=wait_for_event,
    targets=_targets,
    expressions=_expressions,
    waits=_waits,
    listens=_listens,
    sees_received=True,
)
