"""Request and response models of the gateway: the Segment HTTP Tracking API, and our decide call.

Segment's own fields keep their camelCase names (`userId`, `messageId`), exactly as the Segment
and RudderStack libraries send them; unknown fields (`context`, `integrations`, `sentAt`…) are
accepted and ignored, as Segment does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_MESSAGE_ID = 200
MAX_BATCH_MESSAGES = 10_000


class _Segment(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    userId: str | None = Field(default=None, max_length=200)
    anonymousId: str | None = Field(default=None, max_length=200)
    messageId: str | None = Field(default=None, max_length=MAX_MESSAGE_ID)
    timestamp: datetime | None = None
    context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("userId", mode="before")
    @classmethod
    def _number_ids(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class TrackMessage(_Segment):
    type: Literal["track"] = "track"
    event: str = Field(min_length=1, max_length=200)
    properties: dict[str, Any] = Field(default_factory=dict)


class IdentifyMessage(_Segment):
    type: Literal["identify"] = "identify"
    traits: dict[str, Any] = Field(default_factory=dict)


class OtherMessage(_Segment):
    """page, screen, group, alias: accepted so whole batches go through, but not acted on."""

    type: Literal["page", "screen", "group", "alias"]


Message = Annotated[TrackMessage | IdentifyMessage | OtherMessage, Field(discriminator="type")]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    batch: list[Message] = Field(min_length=1, max_length=MAX_BATCH_MESSAGES)


class IngestProblem(BaseModel):
    """Why one message of a request was refused: its index in the request and the field."""

    message: int  # 0 for /v1/track and /v1/identify
    type: str
    at: str  # the field, as the message names it: "traits.firstName", "properties.order_id"
    problem: str

    def __str__(self) -> str:
        return f"message {self.message} ({self.type}): {self.at}: {self.problem}"


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer: a code, a sentence, and details (for 400, the problems)."""

    code: str
    message: str
    detail: Any = None


class MessageOutcome(BaseModel):
    messageId: str | None
    type: str
    outcome: Literal["processed", "duplicate", "ignored"]
    started: list[str] = Field(default_factory=list)  # workflow ids of journeys this event started
    signalled: list[str] = Field(default_factory=list)  # running journeys it was delivered to


class IngestResponse(BaseModel):
    success: bool = True
    results: list[MessageOutcome]


class TriggerRequest(BaseModel):
    userId: str = Field(min_length=1, max_length=200)
    event: str | None = Field(
        default=None, max_length=200, description="Default: the journey's trigger event."
    )
    properties: dict[str, Any] = Field(default_factory=dict)
    messageId: str | None = Field(default=None, max_length=MAX_MESSAGE_ID)


class TriggerResponse(BaseModel):
    journey_id: str
    workflow_id: str
    started: bool  # False: a run with this entry key exists already (a duplicate trigger)


class DecideRequest(TriggerRequest):
    timeoutMs: int = Field(default=300, ge=10, le=30_000, description="How long to wait for the decision.")


class DecideResponse(BaseModel):
    workflow_id: str
    journey_id: str
    ready: bool
    timed_out: bool = False  # the deadline passed first; the journey goes on and decides anyway
    route: str | None = None
    path: list[str] = Field(default_factory=list)
    intent: dict[str, Any] | None = None
    score: dict[str, Any] | None = None


class ReviewRequest(BaseModel):
    decision: Literal["approve", "edit", "reject", "regenerate"]
    reviewer: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Optional: decisions are made as the key's reviewer account; another name is refused.",
    )
    variant: int = 0
    body: str | None = None
    subject: str | None = None
    reason: str | None = Field(default=None, description="Why rejected, or the note for regenerate.")
