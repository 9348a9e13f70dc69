"""branch, split, wait, wait_for_event and exit: control flow, no side effects."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from temporalio import workflow

from workflows.expressions import ExpressionError, evaluate
from workflows.spec import BranchStep, ExitStep, SplitStep, WaitForEventStep, WaitStep
from workflows.steps.base import Outcome, Run


async def branch(step: BranchStep, run: Run) -> Outcome:
    context = run.context()
    for index, case in enumerate(step.cases):
        if evaluate(case.when, context):
            return Outcome({"matched": index, "when": case.when, "goto": case.goto}, goto=case.goto)
    return Outcome({"matched": None, "goto": step.otherwise}, goto=step.otherwise)


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


def until_window(now: datetime, tz: str, start: str, end: str) -> timedelta:
    """Time from `now` until the customer's local clock is inside [start, end)."""
    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    s_h, s_m = map(int, start.split(":"))
    e_h, e_m = map(int, end.split(":"))
    minute = local.hour * 60 + local.minute
    s_min, e_min = s_h * 60 + s_m, e_h * 60 + e_m
    inside = s_min <= minute < e_min if s_min < e_min else (minute >= s_min or minute < e_min)
    if inside:
        return timedelta(0)
    target = local.replace(hour=s_h, minute=s_m, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return target.astimezone(ZoneInfo("UTC")) - now.astimezone(ZoneInfo("UTC"))


async def wait(step: WaitStep, run: Run) -> Outcome:
    waited = timedelta(0)
    if step.duration:
        await run.wait(lambda: False, step.duration)
        waited += step.duration
    if step.window:
        delay = until_window(run.now(), run.customer.timezone, step.window.start, step.window.end)
        if delay > timedelta(0):
            await run.wait(lambda: False, delay)
            waited += delay
    return Outcome({"waited_seconds": int(waited.total_seconds())})


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

    if await run.wait(match, step.timeout):
        event = run.inbox.pop(found[-1])
        goto = step.on_event.goto if step.on_event else None
        return Outcome({"received": True, "event": event.name, "properties": event.properties}, goto=goto)
    result = {"received": False, "timed_out_after": int(step.timeout.total_seconds())}
    if step.on_timeout == "exit":
        return Outcome(result, end="timed_out")
    if step.on_timeout == "next":
        return Outcome(result)
    return Outcome(result, goto=step.on_timeout.goto)


async def exit_step(step: ExitStep, run: Run) -> Outcome:
    return Outcome({"outcome": step.outcome}, end=step.outcome)
