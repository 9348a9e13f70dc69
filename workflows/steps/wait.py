"""wait: a fixed delay, and/or until a time window in the customer's time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import model_validator

from workflows.durations import Duration, format_duration
from workflows.language import StepBase, TimeWindow
from workflows.steps.base import Outcome, Run, StepKind


class WaitStep(StepBase):
    type: Literal["wait"]
    duration: Duration | None = None
    # Then (or only) wait until the customer's local time is inside this window.
    window: TimeWindow | None = None

    @model_validator(mode="after")
    def _something_to_wait_for(self) -> WaitStep:
        if self.duration is None and self.window is None:
            raise ValueError("a wait needs a duration (e.g. duration: 2d), a window, or both")
        return self


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
        await run.wait(lambda: False, step.duration, what=f"{format_duration(step.duration)} to pass")
        waited += step.duration
    if step.window:
        delay = until_window(run.now(), run.customer.timezone, step.window.start, step.window.end)
        if delay > timedelta(0):
            window = f"{step.window.start}-{step.window.end}"
            await run.wait(
                lambda: False, delay, what=f"the customer's window {window} ({run.customer.timezone})"
            )
            waited += delay
    return Outcome({"waited_seconds": int(waited.total_seconds())})


def _waits(step: WaitStep) -> str | None:
    if step.duration is not None:
        return None
    return f"wait '{step.id}' has only a window, so it does not wait when the customer is inside it"


KIND = StepKind(
    model=WaitStep,
    handle=wait,
    waits=_waits,
)
