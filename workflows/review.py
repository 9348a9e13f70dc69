"""The review protocol: what a reviewer sends, what a run holds while it waits, and the rules a
decision must pass before it reaches history (the workflow's update validator runs them)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_TEXT = 8000
MAX_REGENERATIONS = 3  # per review step visit; then the reviewer approves, edits or rejects


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReviewDecision(_Model):
    """A reviewer's answer, as the submit_review update carries it."""

    review_id: str
    decision: Literal["approve", "edit", "reject", "regenerate"]
    reviewer: str = Field(min_length=1, max_length=200)
    variant: int = 0
    body: str | None = Field(default=None, max_length=MAX_TEXT)  # the edited text, for "edit"
    subject: str | None = Field(default=None, max_length=300)
    # Why it was rejected, or the note for the model when asking it to regenerate.
    reason: str | None = Field(default=None, max_length=2000)
    # The reviewer's groups, as the service checked them; when given, the review's group must be one.
    groups: list[str] = Field(default_factory=list)


class ReviewAck(_Model):
    review_id: str
    accepted: bool
    decision: str


class PendingReview(_Model):
    review_id: str
    step_id: str
    group: str
    deadline: datetime
    escalated: bool = False
    variants: list[dict[str, Any]]
    regenerations: int = 0  # how often reviewers already had these variants regenerated


def review_id_for(workflow_id: str, step_id: str, visit: int, round_: int = 0) -> str:
    """Stable per review round: a regeneration opens a new review with a new id."""
    key = f"{workflow_id}:{step_id}:{visit}" + (f":{round_}" if round_ else "")
    return "rv-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def validate_decision(pending: PendingReview | None, decision: ReviewDecision, decided: bool) -> None:
    """Rejects stale, duplicate or malformed decisions before they reach history."""
    if decided:
        raise ValueError(f"review {decision.review_id} was already decided")
    if pending is None or pending.review_id != decision.review_id:
        raise ValueError(f"review {decision.review_id} is not pending in this run")
    if pending.variants and not 0 <= decision.variant < len(pending.variants):
        raise ValueError(f"variant {decision.variant} does not exist (0..{len(pending.variants) - 1})")
    if decision.decision == "edit" and not (decision.body or "").strip():
        raise ValueError("an edit needs the new body text")
    if decision.decision == "reject" and not (decision.reason or "").strip():
        raise ValueError("a rejection needs a reason")
    if decision.decision == "regenerate" and not (decision.reason or "").strip():
        raise ValueError("a regeneration needs a note for the model, e.g. 'shorter, no exclamation marks'")
    if decision.decision == "regenerate" and pending.regenerations >= MAX_REGENERATIONS:
        raise ValueError(f"already regenerated {MAX_REGENERATIONS} times: approve, edit or reject")
    if decision.groups and pending.group not in decision.groups:
        raise ValueError(f"{decision.reviewer} does not review for group {pending.group}")
