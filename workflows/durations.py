"""Human durations in journey files: `90s`, `30m`, `1h`, `2d`, `1w`, or combinations like `1h30m`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_PART = re.compile(r"(\d+)\s*(w|d|h|m|s)")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


MAX_DURATION = timedelta(days=3653)


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not 0 < value <= MAX_DURATION.total_seconds():
            raise ValueError(f"{value!r} seconds: a duration is longer than zero and at most ten years")
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError("a duration is text like 30m, 1h, 2d or 1w")
    text = value.strip().lower().replace(" ", "")
    parts = _PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{value!r} is not a duration; write it like 30m, 1h, 2d, 1w or 1h30m")
    delta = timedelta(**{_UNITS[u]: 0 for u in _UNITS})
    try:
        for number, unit in parts:
            delta += timedelta(**{_UNITS[unit]: int(number)})
    except OverflowError:
        delta = MAX_DURATION * 2
    if delta <= timedelta(0):
        raise ValueError("a duration must be longer than zero")
    if delta > MAX_DURATION:
        raise ValueError(
            f"{value!r} is longer than {MAX_DURATION.days} days; journeys wait at most ten years"
        )
    return delta


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out or "0s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
