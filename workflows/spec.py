"""The journey language: pydantic models of a journey file, one model per step type.

A marketer reads a journey top to bottom: each step runs after the previous one unless it says
`next:` (or, for branching steps, `goto:`). Graph rules (reachability, cycles, names in
expressions) live in `workflows.validation`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workflows.durations import Duration

STEP_ID = r"^[a-z][a-z0-9_]*$"
StepId = Annotated[str, Field(pattern=STEP_ID, max_length=64)]
Condition = Annotated[str, Field(min_length=1, max_length=2000)]
TextTemplate = Annotated[str, Field(max_length=4000)]
Channel = Literal["email", "sms", "push", "webhook"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Goto(_Model):
    goto: StepId


class StepBase(_Model):
    id: StepId
    description: str | None = None
    next: StepId | None = None  # default: the step below this one
    # What to do when the step fails after its retries: go to a step, skip to the next, or fail.
    on_error: Goto | Literal["skip", "fail"] = "fail"


class ClassifyIntentStep(StepBase):
    type: Literal["classify_intent"]
    text: TextTemplate = "{{ event.text }}"


class ScoreStep(StepBase):
    type: Literal["score"]
    model: Literal["customer_value", "churn", "lead"] = "customer_value"


class RetrieveStep(StepBase):
    """The knowledge base's approved answer to a question, and a product to suggest with it."""

    type: Literal["retrieve"]
    question: TextTemplate = "{{ event.text }}"
    # How sure retrieval must be of its best entry (default: the deployment's
    # JOURNEYS_KNOWLEDGE_MIN_SCORE); below it, or for a question left to a person, on_no_answer.
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    on_no_answer: Goto


class GenerateCopyStep(StepBase):
    type: Literal["generate_copy"]
    template: Annotated[str, Field(pattern=r"^[a-z_]+/[a-z0-9_]+$")]
    variants: int = Field(default=1, ge=1, le=5)
    brief: TextTemplate | None = None
    knowledge: StepId | None = None  # a retrieve step: the template reads its answer and product

    @property
    def channel(self) -> str:
        return self.template.split("/", 1)[0]


class ReviewTimeout(_Model):
    escalate_to: str | None = None  # another reviewer group, with a fresh deadline
    deadline: Duration | None = None
    # After the (escalated) deadline: send the first passing variant, send the template's own
    # human-written copy, end the run, or go to a step.
    then: Literal["approve", "template", "exit"] | Goto = "exit"

    @model_validator(mode="after")
    def _escalation_needs_deadline(self) -> ReviewTimeout:
        if self.escalate_to and self.deadline is None:
            raise ValueError("escalate_to needs a deadline for the escalated review, e.g. deadline: 1h")
        if self.deadline is not None and not self.escalate_to:
            raise ValueError("deadline here is the escalated review's; add escalate_to: <group> or remove it")
        return self


class HumanReviewStep(StepBase):
    type: Literal["human_review"]
    group: str = Field(min_length=1)
    copy_from: StepId | None = Field(default=None, alias="copy")  # default: latest generate_copy
    deadline: Duration
    on_timeout: ReviewTimeout = ReviewTimeout()
    on_reject: Goto | Literal["exit"] = "exit"
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    always_when: list[Condition] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SendStep(StepBase):
    type: Literal["send"]
    channel: Channel
    copy_from: StepId | None = Field(default=None, alias="copy")  # default: latest review or copy
    category: Literal["marketing", "transactional"] = "marketing"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Case(_Model):
    when: Condition
    goto: StepId


class BranchStep(StepBase):
    type: Literal["branch"]
    cases: list[Case] = Field(min_length=1)
    otherwise: StepId


class SplitPath(_Model):
    name: Annotated[str, Field(pattern=STEP_ID)]
    weight: float = Field(gt=0)
    goto: StepId


class SplitStep(StepBase):
    type: Literal["split"]
    paths: list[SplitPath] = Field(min_length=2)

    @field_validator("paths")
    @classmethod
    def _unique_names(cls, paths: list[SplitPath]) -> list[SplitPath]:
        names = [p.name for p in paths]
        if len(set(names)) != len(names):
            raise ValueError("split path names must be unique")
        return paths


class TimeWindow(_Model):
    start: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    end: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


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


class WaitForEventStep(StepBase):
    type: Literal["wait_for_event"]
    event: str = Field(min_length=1)
    where: Condition | None = None  # over `received` (the event's properties)
    timeout: Duration
    on_event: Goto | None = None  # default: next step
    on_timeout: Goto | Literal["next", "exit"] = "next"


class UpdateProfileStep(StepBase):
    type: Literal["update_profile"]
    add_tags: list[str] = Field(default_factory=list)
    remove_tags: list[str] = Field(default_factory=list)
    attributes: dict[str, TextTemplate | int | float | bool] = Field(default_factory=dict)
    consent: dict[Channel, bool] = Field(default_factory=dict)
    # A consent change decided by a model needs this confidence in the run's latest intent
    # (default: the deployment's JOURNEYS_CONSENT_MIN_CONFIDENCE); below it the run goes to
    # on_low_confidence, where a person confirms, and consent stays as it is.
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    on_low_confidence: Goto | None = None


class NotifyStep(StepBase):
    type: Literal["notify"]
    target: str = Field(min_length=1)
    message: TextTemplate


class ExitStep(StepBase):
    type: Literal["exit"]
    outcome: Annotated[str, Field(pattern=STEP_ID)] = "completed"


Step = Annotated[
    ClassifyIntentStep
    | ScoreStep
    | RetrieveStep
    | GenerateCopyStep
    | HumanReviewStep
    | SendStep
    | BranchStep
    | SplitStep
    | WaitStep
    | WaitForEventStep
    | UpdateProfileStep
    | NotifyStep
    | ExitStep,
    Field(discriminator="type"),
]

STEP_TYPES: tuple[str, ...] = (
    "classify_intent",
    "score",
    "retrieve",
    "generate_copy",
    "human_review",
    "send",
    "branch",
    "split",
    "wait",
    "wait_for_event",
    "update_profile",
    "notify",
    "exit",
)


class Trigger(_Model):
    event: str = Field(min_length=1)
    where: Condition | None = None  # over `event`


class Entry(_Model):
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


class Goal(_Model):
    event: str = Field(min_length=1)
    within: Duration


class Decision(_Model):
    after: StepId  # the synchronous decide call answers once this step has run


class JourneySpec(_Model):
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
        names = {step.event for step in self.steps if step.type == "wait_for_event"}
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


_STEP_FIELDS_ADDED_LATER = ("min_confidence", "on_low_confidence", "knowledge")
