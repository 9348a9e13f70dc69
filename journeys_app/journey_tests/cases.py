"""Test cases for journeys, as marketers write them: `journeys/tests/<journey>/<case>.yaml`.

A case gives the customer, the trigger, what happens later (events, reviewers' decisions) and
the model's answers to use; it expects a path, an outcome, messages, alerts and reviews. Files
are checked like journeys: every problem names the file, the line and how to fix it.
"""

from __future__ import annotations

import re
from datetime import datetime, time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workflows.durations import Duration
from workflows.validation import TESTS_DIR, SpecError, SpecProblem, line_finder
from workflows.validation_messages import friendly_messages


class _Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Customer(_Case):
    """A customer written into the case (else a sample id from journeys/samples/customers.yaml)."""

    id: str = Field(min_length=1)
    first_name: str = ""
    tier: str = "standard"
    timezone: str = "UTC"
    locale: str = "en"
    attributes: dict[str, Any] = Field(default_factory=dict)
    consent: dict[str, bool] = Field(default_factory=lambda: {"email": True, "sms": True, "push": True})
    tags: list[str] = Field(default_factory=list)
    email: str | None = None
    phone: str | None = None


class Event(_Case):
    event: str = Field(min_length=1)
    properties: dict[str, Any] = Field(default_factory=dict)


class Moment(_Case):
    """Something that happens a while after the trigger: an event, or a reviewer's decision."""

    after: Duration  # after the trigger
    event: str | None = None
    trigger_again: bool = False  # the MA sends the trigger event again (re-entry)
    properties: dict[str, Any] = Field(default_factory=dict)
    review: Literal["approve", "edit", "reject"] | None = None
    variant: int = Field(default=0, ge=0)
    body: str | None = None  # the edited text
    reason: str | None = None  # why it was rejected
    reviewer: str = "case-reviewer"

    @model_validator(mode="after")
    def _one_thing(self) -> Moment:
        if sum((self.event is not None, self.review is not None, self.trigger_again)) != 1:
            raise ValueError(
                "each timeline entry has one of 'event: <name>', 'review: approve|edit|reject' or "
                "'trigger_again: true'"
            )
        if self.review == "edit" and not self.body:
            raise ValueError("review: edit needs 'body:' (the text the reviewer sends)")
        if self.review == "reject" and not self.reason:
            raise ValueError("review: reject needs 'reason:' (reviewers say why they reject)")
        return self


class Intent(_Case):
    label: str
    confidence: float = Field(default=0.95, ge=0, le=1)
    sentiment: Literal["negative", "neutral", "positive"] = "neutral"
    urgency: Literal["low", "normal", "high"] = "normal"
    language: str | None = None


class Knowledge(_Case):
    found: bool = True
    entry_id: str | None = None
    answer: str | None = None


class Inference(_Case):
    """The model's answers for this case; what is left out is answered by the rules (as when the
    inference worker is down), and copy is the template's own text."""

    intent: Intent | None = None
    # One value for every score, or one per kind: { customer_value: 0.9, churn: 0.7, lead: 0.8 }.
    score: Annotated[float, Field(ge=0, le=1)] | dict[str, Annotated[float, Field(ge=0, le=1)]] | None = None
    knowledge: Knowledge | None = None

    def score_for(self, kind: str) -> float | None:
        return self.score.get(kind) if isinstance(self.score, dict) else self.score


class MessageExpectation(_Case):
    channel: Literal["email", "sms", "push", "webhook"] = "email"
    count: int = Field(default=1, ge=0)
    subject_contains: str | None = None
    body_contains: str | None = None
    subject_matches: str | None = None  # a regular expression, searched in the subject
    body_matches: str | None = None

    @field_validator("subject_matches", "body_matches")
    @classmethod
    def _a_pattern(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return pattern

    status: str | None = None  # queued (the default outbox status here), suppressed, …
    not_before: time | None = None  # sent at or after this time of day, in the customer's zone
    not_after: time | None = None  # and at or before this one


class NotificationExpectation(_Case):
    target: str
    contains: str | None = None


class ReviewExpectation(_Case):
    step: str
    group: str | None = None
    escalated: bool | None = None
    decision: str | None = None
    deadline_after_trigger: Duration | None = None  # the review's last deadline, from the trigger


class ProfileExpectation(_Case):
    """The customer's record after the run (what update_profile steps changed)."""

    tags_include: list[str] = Field(default_factory=list)
    tags_exclude: list[str] = Field(default_factory=list)
    consent: dict[str, bool] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)


class Expect(_Case):
    path: list[str] | None = None  # exactly these steps, in order
    passes_through: list[str] = Field(default_factory=list)
    never_visits: list[str] = Field(default_factory=list)
    status: Literal["completed", "exited", "failed", "running"] | None = None
    outcome: str | None = None
    goal_reached: bool | None = None
    runs: int | None = Field(default=None, ge=1)  # runs of this journey for the customer (re-entry)
    messages: list[MessageExpectation] | None = None  # None: not checked; []: nothing sent
    notifications: list[NotificationExpectation] | None = None
    reviews: list[ReviewExpectation] | None = None
    profile: ProfileExpectation | None = None
    # No two messages with the same channel and text; false for a journey that repeats one on purpose.
    sent_once: bool = True


class Case(_Case):
    name: str | None = None  # default: the file's name
    journey: str | None = None  # default: the folder's name
    customer: Annotated[str, Field(min_length=1)] | Customer
    start_at: time | datetime | None = None  # the trigger's time: local time of day, or a moment
    trigger: Event
    timeline: list[Moment] = Field(default_factory=list)
    # Fixed answers, or `real`: the CPU models answer (seconds per case, and their answers may
    # change with a model or taxonomy update; fixed answers keep a case about the journey).
    inference: Inference | Literal["real"] = Field(default_factory=Inference)
    expect: Expect


class LoadedCase(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    file: Path
    name: str
    journey: str
    case: Case


def case_files(paths: list[Path]) -> list[Path]:
    """The case files in these files and folders; a journeys folder's cases are in its tests/."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            root = path / TESTS_DIR if (path / TESTS_DIR).is_dir() else path
            found += sorted(p for p in root.rglob("*.yaml") if p.is_file())
        else:
            found.append(path)
    return found


def load_case(path: Path) -> LoadedCase:
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise SpecError([SpecProblem(str(path), line, None, f"not valid YAML: {exc}")]) from None
    if not isinstance(data, dict):
        raise SpecError(
            [SpecProblem(str(path), 1, None, "a test case is a mapping with customer, trigger and expect")]
        )
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        line = line_finder(text)
        raise SpecError(
            [
                SpecProblem(str(path), line(loc), None, message)
                for loc, message in friendly_messages(exc.errors(), data)
            ]
        ) from None
    journey = case.journey or path.parent.name
    return LoadedCase(file=path, name=case.name or path.stem.replace("_", " "), journey=journey, case=case)
