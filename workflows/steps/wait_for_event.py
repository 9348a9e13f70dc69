"""wait_for_event: wait for one of some events, with a timeout and a path for each outcome."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator
from temporalio import workflow

from workflows.durations import Duration
from workflows.expressions import ExpressionError, evaluate
from workflows.language import Condition, EventName, Goto, StepBase
from workflows.steps.base import Expression, Jump, Outcome, Run, StepKind


class WaitForEventStep(StepBase):
    type: Literal["wait_for_event"]
    event: str | None = Field(default=None, min_length=1)  # one event, or:
    events: list[EventName] | None = Field(default=None, min_length=1)  # the first of several
    where: Condition | None = None  # over `received` (the event's properties)
    timeout: Duration
    # One path for any event, or a path per event name (names left out go on to the next step).
    on_event: Goto | dict[EventName, Goto] | None = None  # default: next step
    on_timeout: Goto | Literal["next", "exit"] = "next"

    @model_validator(mode="after")
    def _one_way_to_name_events(self) -> Self:
        if (self.event is None) == (self.events is None):
            raise ValueError(
                "give either 'event: <name>' or 'events: [<name>, <name>]' (the first to arrive wins)"
            )
        if isinstance(self.on_event, dict):
            unknown = sorted(set(self.on_event) - set(self.names))
            if unknown:
                raise ValueError(
                    f"on_event names {', '.join(unknown)}, which this step does not wait for "
                    f"({', '.join(self.names)})"
                )
        return self

    @property
    def names(self) -> list[str]:
        return [self.event] if self.event else list(dict.fromkeys(self.events or []))


async def wait_for_event(step: WaitForEventStep, run: Run) -> Outcome:
    """Waits for the first unconsumed event of one of the names (one that arrived earlier in the
    run counts)."""
    found: list[int] = []
    names = step.names

    def match() -> bool:
        for index, event in enumerate(run.inbox):
            if event.name not in names:
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

    if await run.wait(match, step.timeout, what=f"event {' or '.join(names)}"):
        event = run.inbox.pop(found[-1])
        path = step.on_event.get(event.name) if isinstance(step.on_event, dict) else step.on_event
        return Outcome(
            {"received": True, "event": event.name, "properties": event.properties},
            goto=path.goto if path else None,
        )
    result = {"received": False, "timed_out_after": int(step.timeout.total_seconds())}
    if step.on_timeout == "exit":
        return Outcome(result, end="timed_out")
    if step.on_timeout == "next":
        return Outcome(result)
    return Outcome(result, goto=step.on_timeout.goto)


def _targets(step: WaitForEventStep) -> list[Jump]:
    out: list[Jump] = []
    if isinstance(step.on_event, dict):
        out.extend(("on_event", path.goto) for path in step.on_event.values())
    elif step.on_event:
        out.append(("on_event", step.on_event.goto))
    if isinstance(step.on_timeout, Goto):
        out.append(("on_timeout", step.on_timeout.goto))
    return out


def _expressions(step: WaitForEventStep) -> list[Expression]:
    return [("where", step.where, True)] if step.where else []


def _waits(step: WaitForEventStep) -> str | None:
    return None


def _listens(step: WaitForEventStep) -> list[str]:
    return step.names


KIND = StepKind(
    model=WaitForEventStep,
    handle=wait_for_event,
    targets=_targets,
    expressions=_expressions,
    waits=_waits,
    listens=_listens,
    sees_received=True,
)
