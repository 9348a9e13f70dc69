"""The journey language: the pydantic model of a journey file.

A marketer reads a journey top to bottom: each step runs after the previous one unless it says
`next:` (or, for branching steps, `goto:`). Each step type's model lives in its own module of
`workflows.steps`; graph rules (reachability, cycles, names in expressions) live in
`workflows.validation`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from workflows.durations import Duration
from workflows.language import STEP_ID, Condition, SpecModel, StepId, TextTemplate, TimeWindow
from workflows.steps import Step, kind_of


class Trigger(SpecModel):
    event: str = Field(min_length=1)
    where: Condition | None = None  # over `event`


class Entry(SpecModel):
    # One run per (journey, customer, key). `always`: every new key enters (the MA's message id
    # dedupes retries); `once`: a customer enters once ever; `if_not_running`: re-enter after the
    # previous run ended.
    key: TextTemplate | None = None
    reentry: Literal["always", "once", "if_not_running"] = "if_not_running"

    @model_validator(mode="after")
    def _always_needs_key(self) -> Entry:
        if self.reentry == "always" and not self.key:
            raise ValueError('reentry: always needs a key, e.g. key: "{{ event.message_id }}"')
        return self


class Goal(SpecModel):
    event: str = Field(min_length=1)
    within: Duration


class Decision(SpecModel):
    after: StepId  # the synchronous decide call answers once this step has run


class JourneySpec(SpecModel):
    id: Annotated[str, Field(pattern=STEP_ID, max_length=64)]
    version: int = Field(ge=1)
    description: str = Field(min_length=1)
    trigger: Trigger
    entry: Entry = Entry()
    exit_on: list[str] = Field(default_factory=list)
    goal: Goal | None = None
    decision: Decision | None = None
    # No marketing sends in this window of the customer's local time: they wait for its end.
    quiet_hours: TimeWindow | None = None
    steps: list[Step] = Field(min_length=1)

    def step_map(self) -> dict[str, Any]:
        return {step.id: step for step in self.steps}

    def listened_events(self) -> frozenset[str]:
        """The events a running run of this journey reacts to: its waits, exit_on and goal.

        Any other event changes nothing in the run, so the gateway need not signal it.
        """
        names = {event for step in self.steps for event in kind_of(step).listens(step)}
        names.update(self.exit_on)
        if self.goal is not None:
            names.add(self.goal.event)
        return frozenset(names)

    def content_hash(self) -> str:
        """Hash of the canonical content: formatting and comments don't change it."""
        # Unset optional fields added to the language later are left out, so old hashes stay.
        unset = {"quiet_hours"} if self.quiet_hours is None else set()
        content = self.model_dump(mode="json", by_alias=True, exclude=unset)
        for step in content["steps"]:
            for name in _STEP_FIELDS_ADDED_LATER:
                if step.get(name, 0) is None:
                    del step[name]
        canonical = json.dumps(content, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


_STEP_FIELDS_ADDED_LATER = ("min_confidence", "on_low_confidence", "knowledge", "control")
