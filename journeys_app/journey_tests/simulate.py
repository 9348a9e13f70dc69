"""`journeys simulate`: one dry run of a journey for one customer, printed as a timeline, with the
machinery of `journeys test` (the real engine, a private clock, a throwaway store, nothing sent)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from journeys_app.journey_tests.cases import Case, LoadedCase
from journeys_app.journey_tests.runner import CaseOutcome
from workflows.durations import format_duration
from workflows.spec import JourneySpec
from workflows.steps import kind_of


def dry_run_case(
    journey: str,
    customer: str,
    event: str,
    properties: dict[str, Any],
    at: str | None,
    inference: dict[str, Any],
) -> LoadedCase:
    case = Case.model_validate(
        {
            "customer": customer,
            "trigger": {"event": event, "properties": properties},
            "start_at": at,
            "inference": inference,
            "expect": {},
        }
    )
    return LoadedCase(file=Path("<simulate>"), name="simulation", journey=journey, case=case)


def what_happened(spec: JourneySpec, step_id: str, result: dict[str, Any], zone: tzinfo | None = None) -> str:
    """One line per step visit: the model's answer, the way a branch went, what was sent."""
    step = spec.step_map().get(step_id)
    if step is None:
        return ""
    if not result:
        return "the run ended here (an exit_on event, or the end of the simulation)"
    if "error" in result:
        return f"failed: {result['error']}"
    kind = kind_of(step)
    if kind.describe is not None:
        return kind.describe(result)
    match step.type:
        case "branch" | "split":
            return f"→ {result.get('goto')}" + (f" (arm {result['path']})" if "path" in result else "")
        case "wait":
            return f"waited {format_duration_s(result.get('waited_seconds', 0))}"
        case "wait_for_event":
            if result.get("received"):
                return f"{result.get('event')} arrived"
            return f"no event; gave up after {format_duration_s(result.get('timed_out_after', 0))}"
        case "send":
            held = ""
            if "deferred_until" in result:
                until = datetime.fromisoformat(result["deferred_until"]).astimezone(zone)
                held = f", held by quiet hours until {until:%H:%M}"
            return f"{step.channel}: {result.get('status')}{held}"
        case "notify":
            return f"alert to {step.target}"
        case "human_review":
            return f"{result.get('decision')}" + (
                f" by {result['reviewer']}" if result.get("reviewer") else ""
            )
        case "exit":
            return f"outcome {result.get('outcome')}"
    return json.dumps(result, default=str)[:100]


def format_duration_s(seconds: float) -> str:
    return format_duration(timedelta(seconds=float(seconds)))


def timeline_lines(outcome: CaseOutcome, spec: JourneySpec) -> list[str]:
    actual = outcome.actual
    if actual is None:
        return [f"the simulation could not run: {outcome.error}"]
    began: datetime = actual.began
    lines = [f"trigger at {began:%Y-%m-%d %H:%M} ({began.tzinfo}): {outcome.case.case.trigger.event}"]
    for (step_id, result), at in zip(actual.visits, actual.finished_at, strict=False):
        when = f"{at:%a %d %b %H:%M}" if at else "  …              "
        lines.append(f"  {when}  {step_id:<22} {what_happened(spec, step_id, result, began.tzinfo)}")
    for m in actual.messages:
        subject = f" '{m.subject}'" if m.subject else ""
        lines.append(f"  would send {m.channel}{subject} from step {m.step} ({m.status})")
    for target, text in actual.notifications:
        lines.append(f"  would alert {target}: {text[:100]}")
    end = f"{actual.status}" + (f" → {actual.outcome}" if actual.outcome else "")
    lines.append(f"the run {end}")
    return lines
