"""Request/result models of the journey worker's activities (store, delivery, profile, notify).

The workflow imports only this module and calls activities by name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JOURNEY_TASK_QUEUE = "journeys"

LOAD_CUSTOMER = "load_customer"
RECORD_RUN = "record_run"
RECORD_STEP = "record_step"
FINISH_RUN = "finish_run"
# One transaction each instead of one per call: a run's start, and the step records of a stretch.
BEGIN_RUN = "begin_run"
RECORD_STEPS = "record_steps"
RECORD_REVIEW = "record_review"
CHECK_REVIEWER = "check_reviewer"
RECORD_DEAD_LETTER = "record_dead_letter"
SEND_MESSAGE = "send_message"
UPDATE_PROFILE = "update_profile"
NOTIFY = "notify"
ENROLL_PAGE = "enroll_page"

RunStatus = Literal["running", "completed", "exited", "failed"]


class _Contract(BaseModel):
    model_config = ConfigDict(protected_namespaces=(), extra="forbid")


class CustomerProfile(_Contract):
    """What a journey may know about a customer. Contact details stay in the store."""

    id: str
    first_name: str = ""
    tier: str = "standard"
    timezone: str = "UTC"
    locale: str = "en"
    attributes: dict[str, Any] = Field(default_factory=dict)
    consent: dict[str, bool] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)


class LoadCustomerRequest(_Contract):
    customer_id: str


class LoadCustomerResult(_Contract):
    found: bool
    customer: CustomerProfile


class RecordRunRequest(_Contract):
    workflow_id: str
    journey_id: str
    journey_version: int
    spec_hash: str
    customer_id: str
    entry_key: str
    trigger_event: str
    # The journey's goal, so the report can count conversions after the run has ended.
    goal_event: str | None = None
    goal_within_s: float | None = None


class RecordStepRequest(_Contract):
    workflow_id: str
    step_id: str
    step_type: str
    visit: int
    status: Literal["completed", "failed", "skipped"]
    result: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    started_at: datetime
    finished_at: datetime


class RecordStepsRequest(_Contract):
    steps: list[RecordStepRequest]
    # Where the run is now (it waits there, or goes on from there), for the journey report.
    workflow_id: str | None = None
    current_step: str | None = None


class FinishRunRequest(_Contract):
    workflow_id: str
    status: RunStatus
    outcome: str
    path: list[str]
    # Step records not yet written, written in the same transaction (runs that batch them).
    steps: list[RecordStepRequest] = Field(default_factory=list)


class RecordReviewRequest(_Contract):
    review_id: str
    workflow_id: str
    step_id: str
    customer_id: str
    group: str
    deadline: datetime
    status: Literal["pending", "approved", "edited", "rejected", "regenerated", "timed_out", "escalated"]
    variants: list[dict[str, Any]] = Field(default_factory=list)
    reviewer: str | None = None
    chosen_variant: int | None = None
    edited_body: str | None = None
    reason: str | None = None
    # For the queue: the journey, why this run is reviewed, the customer's words (or the draft's).
    journey_id: str = ""
    why: str = ""
    snippet: str = ""


class CheckReviewerRequest(_Contract):
    """May this reviewer decide this review? Asked by the run for every decision it receives."""

    review_id: str
    workflow_id: str
    customer_id: str
    reviewer: str
    group: str
    decision: str
    via: Literal["signal", "update"]


class CheckReviewerResult(_Contract):
    allowed: bool
    groups: list[str] = Field(default_factory=list)  # the account's groups, when allowed
    reason: str = ""  # why not, when refused


class RecordDeadLetterRequest(_Contract):
    """A step that failed for good and waits for an operator (retry or discard)."""

    workflow_id: str
    step_id: str
    visit: int
    customer_id: str
    journey_id: str
    error: str
    status: Literal["open", "retried", "discarded"]
    operator: str | None = None


class SendRequest(_Contract):
    idempotency_key: str  # workflow id + step id + visit: a retried send never sends twice
    workflow_id: str
    step_id: str
    customer_id: str
    channel: Literal["email", "sms", "push", "webhook"]
    category: Literal["marketing", "transactional"] = "marketing"
    subject: str | None = None
    body: str
    source: str = "model"


class SendResult(_Contract):
    message_id: int
    # queued: in the outbox (no provider configured for the channel); sent: the provider accepted
    # it; failed: refused for good; unconfirmed: an earlier attempt may have sent it, so it was
    # not sent again; suppressed: no consent.
    status: Literal["queued", "sent", "failed", "unconfirmed", "suppressed"]
    duplicate: bool = False
    reason: str | None = None


class UpdateProfileRequest(_Contract):
    idempotency_key: str
    customer_id: str
    add_tags: list[str] = Field(default_factory=list)
    remove_tags: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    consent: dict[str, bool] = Field(default_factory=dict)


class UpdateProfileResult(_Contract):
    customer: CustomerProfile


class NotifyRequest(_Contract):
    idempotency_key: str
    workflow_id: str
    customer_id: str
    target: str  # a named target from settings, e.g. "account-managers"
    message: str
    payload: dict[str, Any] = Field(default_factory=dict)


class NotifyResult(_Contract):
    notification_id: int
    delivered: bool
    duplicate: bool = False
    detail: str = ""


class EnrollPageRequest(_Contract):
    """Start the journey for the enrolment's members at positions [start, start + size)."""

    enrollment_id: str
    journey_id: str
    start: int = Field(ge=0)
    size: int = Field(ge=1, le=5000)
    window: int = Field(ge=1, le=1000)  # starts in flight at once


class EnrollPageResult(_Contract):
    members: int  # how many members this page held (fewer than size: the last page)
    started: int  # new runs
    existing: int  # a run with the same workflow id already existed (a resumed or repeated page)
    failed: list[str] = Field(default_factory=list)  # "customer: why", for the operator
