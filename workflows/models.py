"""Inputs, outputs, signals, updates and queries of JourneyWorkflow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from activities.contracts import CustomerProfile, RecordRunRequest
from workflows.review import PendingReview
from workflows.spec import JourneySpec


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerEvent(_Model):
    """An event about one customer, as the MA system reports it."""

    name: str = Field(min_length=1, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)
    message_id: str | None = Field(default=None, max_length=200)
    timestamp: datetime | None = None

    def occurrence(self) -> tuple[str, str | None, datetime | None]:
        """Name, message id and time: what the store keeps of a goal event."""
        return self.name, self.message_id, self.timestamp

    def as_context(self) -> dict[str, Any]:
        """What expressions see as `event`; a missing message id stays undefined, never "None"."""
        ids = {"message_id": self.message_id} if self.message_id else {}
        return {"name": self.name, **ids, **self.properties}


class Carried(_Model):
    """Run state handed over on continue-as-new."""

    customer: CustomerProfile
    current: str | None
    results: dict[str, Any]
    path: list[str]
    visits: dict[str, int]
    inbox: list[CustomerEvent]
    decision_ready: bool
    goal_reached_at: datetime | None
    started_at: datetime
    retry_visit: int | None = None  # a dead-lettered step the operator asked to retry
    seen_events: list[str] = Field(default_factory=list)  # message ids already received
    steps_total: int = 0  # steps run since the run started, across continue-as-new
    step_budget: int | None = None  # the budget so far (an operator's retry adds to it)


class JourneyInput(_Model):
    spec: JourneySpec
    spec_hash: str
    customer_id: str
    entry_key: str
    trigger: CustomerEvent
    inference_task_queue: str = "inference"
    # Copy generation's own queue; None (runs started before it existed): inference_task_queue.
    inference_copy_task_queue: str | None = None
    # Seconds an inference step waits to be picked up before the journey worker answers with rules.
    inference_pickup_timeout_s: float = Field(default=15.0, gt=0)
    # The same for copy generation, which is throughput-bound: long enough for a restarted inference
    # worker to load its models and take over. None (runs started before it existed): as above.
    inference_copy_pickup_timeout_s: float | None = Field(default=None, gt=0)
    # Continue-as-new after this many steps even if the server has not suggested it yet.
    max_steps_per_run: int = Field(default=2000, ge=2)
    # A run that takes more steps than this in all is looping: it is parked as a dead letter.
    step_budget: int = Field(default=5000, ge=10)
    # The intent confidence an update_profile needs to change consent without a person.
    consent_min_confidence: float = Field(default=0.8, ge=0.0, le=1.0)
    # The run was started with its search attributes (the namespace has them): it keeps `Step` up
    # to date where it waits. False for runs started before them, which therefore replay unchanged.
    search_attributes: bool = False
    carried: Carried | None = None

    def run_record(self, workflow_id: str) -> RecordRunRequest:
        return RecordRunRequest(
            workflow_id=workflow_id,
            journey_id=self.spec.id,
            journey_version=self.spec.version,
            spec_hash=self.spec_hash,
            customer_id=self.customer_id,
            entry_key=self.entry_key,
            trigger_event=self.trigger.name,
            goal_event=self.spec.goal.event if self.spec.goal else None,
            goal_within_s=self.spec.goal.within.total_seconds() if self.spec.goal else None,
        )


class JourneyResult(_Model):
    status: Literal["completed", "exited", "failed"]
    outcome: str
    path: list[str]


class DeadLetter(_Model):
    """A step parked after its retries and on_error path were exhausted."""

    step_id: str
    visit: int
    error: str
    since: datetime


class DeadLetterAction(_Model):
    action: Literal["retry", "discard"]
    operator: str = Field(min_length=1, max_length=200)


class DecideRequest(_Model):
    """Asks a journey for its routing decision; the journey continues either way."""


class DecisionResult(_Model):
    workflow_id: str
    journey_id: str
    ready: bool
    route: str | None = None  # the step the decision step chose
    path: list[str]
    intent: dict[str, Any] | None = None
    score: dict[str, Any] | None = None


class RunState(_Model):
    workflow_id: str
    journey_id: str
    journey_version: int
    spec_hash: str
    customer_id: str
    status: Literal["running", "completed", "exited", "failed"]
    current_step: str | None
    waiting_for: str | None  # in words: "event order_placed", "review rv-… (vip-care)", "quiet hours to end"
    waiting_until: datetime | None = None  # when that wait times out (UTC); none for a wait without end
    deferred_until: datetime | None = None  # a marketing send held by quiet hours goes out then
    customer_timezone: str | None = None
    path: list[str]
    results: dict[str, Any]
    pending_review: PendingReview | None
    dead_letter: DeadLetter | None = None
    goal_reached_at: datetime | None
    outcome: str | None
    trigger: CustomerEvent | None = None  # what started the run (reviewers see the message)

    def wait_description(self) -> str | None:
        """ "waiting for event order_placed until 2026-12-07 08:00 Europe/Berlin (07:00 UTC)"."""
        if not self.waiting_for:
            return None
        if self.waiting_until is None:
            return f"waiting for {self.waiting_for}"
        utc = self.waiting_until.astimezone(UTC)
        try:
            zone = ZoneInfo(self.customer_timezone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        local = self.waiting_until.astimezone(zone)
        if zone.key == "UTC":
            return f"waiting for {self.waiting_for} until {utc:%Y-%m-%d %H:%M} UTC"
        return (
            f"waiting for {self.waiting_for} until {local:%Y-%m-%d %H:%M} {zone.key} "
            f"({utc:%Y-%m-%d %H:%M} UTC)"
        )
