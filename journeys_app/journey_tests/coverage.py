"""Which steps and branches of a journey no test case takes: every step, every branch case and
`otherwise`, every split arm, and both ends of a wait for an event (it came, or the wait timed out)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from workflows.spec import JourneySpec


@dataclass
class Coverage:
    journey: str
    steps: list[str]
    branches: list[str]
    missing_steps: list[str]
    missing_branches: list[str]

    @property
    def complete(self) -> bool:
        return not self.missing_steps and not self.missing_branches


def _arms(spec: JourneySpec) -> dict[str, list[str]]:
    """Each branching step's ways out, as the report names them."""
    arms: dict[str, list[str]] = {}
    for step in spec.steps:
        if step.type == "branch":
            arms[step.id] = [f"case {i + 1} ({case.when})" for i, case in enumerate(step.cases)] + [
                "otherwise"
            ]
        elif step.type == "split":
            arms[step.id] = [path.name for path in step.paths]
        elif step.type == "wait_for_event":
            names = step.names
            arms[step.id] = [f"event {n}" if len(names) > 1 else "event" for n in names] + ["timeout"]
    return arms


def _arm_taken(spec: JourneySpec, step_id: str, result: dict[str, Any]) -> str | None:
    step = spec.step_map().get(step_id)
    if step is None or not result or "error" in result:  # no result: the run ended while it waited
        return None
    if step.type == "branch":
        matched = result.get("matched")
        return "otherwise" if matched is None else f"case {matched + 1} ({step.cases[matched].when})"
    if step.type == "split":
        return result.get("path")
    if step.type == "wait_for_event":
        if not result.get("received"):
            return "timeout"
        return f"event {result.get('event')}" if len(step.names) > 1 else "event"
    return None


def coverage_of(spec: JourneySpec, runs: Iterable[list[tuple[str, dict[str, Any]]]]) -> Coverage:
    """`runs`: each case's step visits, (step id, result), in order."""
    arms = _arms(spec)
    visited: set[str] = set()
    taken: set[str] = set()
    for visits in runs:
        for step_id, result in visits:
            visited.add(step_id)
            arm = _arm_taken(spec, step_id, result)
            if arm is not None:
                taken.add(f"{step_id} → {arm}")
    everything = [f"{step_id} → {arm}" for step_id, ways in arms.items() for arm in ways]
    return Coverage(
        journey=spec.id,
        steps=[s.id for s in spec.steps],
        branches=everything,
        missing_steps=[s.id for s in spec.steps if s.id not in visited],
        missing_branches=[b for b in everything if b not in taken],
    )
