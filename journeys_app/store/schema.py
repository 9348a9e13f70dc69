"""Tables of the journey store, portable across SQLite and PostgreSQL.

Conventions that keep the schema portable and migration-friendly:
- every datetime is timezone-aware and stored in UTC (`UtcDateTime`), whatever the database;
- JSON columns are JSONB on PostgreSQL and JSON (text) on SQLite;
- constraints and indexes get deterministic names (`NAMING_CONVENTION`) so Alembic can diff them;
- no foreign keys between runs, steps, messages and customers: a journey may run for a customer
  the store has never imported, and activities may be retried in any order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the only kind of datetime the store holds)."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC.

    SQLite has no time zone type and PostgreSQL returns values in the session's zone; this type
    normalises both to aware UTC. Naive values are taken to be UTC already.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite stores the wall-clock text; drop the offset so it is always UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JsonType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UtcDateTime(),
        dict[str, Any]: JsonType,
        dict[str, bool]: JsonType,
        list[str]: JsonType,
        list[dict[str, Any]]: JsonType,
    }


class Customer(Base):
    """A customer as imported from the MA system; contact details never leave the store."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    first_name: Mapped[str] = mapped_column(default="")
    email: Mapped[str | None]
    phone: Mapped[str | None]
    tier: Mapped[str] = mapped_column(default="standard")
    timezone: Mapped[str] = mapped_column(default="UTC")
    locale: Mapped[str] = mapped_column(default="en")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    consent: Mapped[dict[str, bool]] = mapped_column(default=dict)
    tags: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JourneyRun(Base):
    """One workflow run of a journey for a customer; the workflow id is the natural key."""

    __tablename__ = "journey_runs"
    __table_args__ = (
        Index("ix_journey_runs_customer_status", "customer_id", "status"),
        Index("ix_journey_runs_journey_started", "journey_id", "started_at"),
    )

    workflow_id: Mapped[str] = mapped_column(String, primary_key=True)
    journey_id: Mapped[str] = mapped_column(index=True)
    journey_version: Mapped[int]
    spec_hash: Mapped[str]
    customer_id: Mapped[str]
    entry_key: Mapped[str] = mapped_column(default="")
    trigger_event: Mapped[str] = mapped_column(default="")
    status: Mapped[str] = mapped_column(default="running", index=True)
    outcome: Mapped[str | None]
    path: Mapped[list[str]] = mapped_column(default=list)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    current_step: Mapped[str | None]  # where a running run waits, as of its last store write
    # The journey's goal: the run converts if this event arrives before goal_until (GoalEvent).
    goal_event: Mapped[str | None]
    goal_until: Mapped[datetime | None]


class StepResult(Base):
    """The result of one visit of one step (a step inside a loop is visited more than once)."""

    __tablename__ = "step_results"
    __table_args__ = (UniqueConstraint("workflow_id", "step_id", "visit"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    workflow_id: Mapped[str] = mapped_column(index=True)
    step_id: Mapped[str]
    visit: Mapped[int]
    step_type: Mapped[str]
    status: Mapped[str]
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]


class Message(Base):
    """The outbox: one row per message effect; the unique key makes a retried send a no-op."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(unique=True)
    workflow_id: Mapped[str] = mapped_column(index=True)
    step_id: Mapped[str]
    customer_id: Mapped[str] = mapped_column(index=True)
    channel: Mapped[str]
    category: Mapped[str]
    subject: Mapped[str | None]
    body: Mapped[str] = mapped_column(Text)
    source: Mapped[str]
    # queued → sending → sent | failed | unconfirmed; or suppressed (no consent)
    status: Mapped[str]
    reason: Mapped[str | None]
    provider_response: Mapped[str | None]  # what the channel's server answered
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Review(Base):
    """A human review request and its decision (who, when, what was edited)."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_status_group", "status", "group"),)

    review_id: Mapped[str] = mapped_column(String, primary_key=True)
    workflow_id: Mapped[str] = mapped_column(index=True)
    step_id: Mapped[str]
    customer_id: Mapped[str]
    group: Mapped[str]
    deadline: Mapped[datetime]
    status: Mapped[str]
    variants: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    reviewer: Mapped[str | None]
    chosen_variant: Mapped[int | None]
    edited_body: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    # What the queue shows: the journey, why this run is reviewed, the start of the customer's words.
    journey_id: Mapped[str] = mapped_column(default="", server_default=text("''"))
    why: Mapped[str] = mapped_column(default="", server_default=text("''"))
    snippet: Mapped[str] = mapped_column(default="", server_default=text("''"))


class Reviewer(Base):
    """A person who decides reviews: the groups they decide for, and a password hash (argon2)."""

    __tablename__ = "reviewers"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    groups: Mapped[list[str]] = mapped_column(default=list)
    # "reports": may read journey reports in the console (with or without review groups).
    roles: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    password_hash: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleSession(Base):
    """A signed-in review console session; signing out deletes it, so an old cookie stops working."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String, primary_key=True)  # SHA-256 of the cookie's token
    reviewer: Mapped[str] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class ApiKey(Base):
    """A gateway API key: only a SHA-256 of its secret part is stored, with its scopes."""

    __tablename__ = "api_keys"

    key_id: Mapped[str] = mapped_column(String, primary_key=True)  # the public prefix, jk_<key_id>_…
    name: Mapped[str]
    secret_hash: Mapped[str]
    scopes: Mapped[list[str]] = mapped_column(default=list)
    # The reviewer account (a person or an integration) a key with the review scope decides as.
    reviewer: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class IngestedEvent(Base):
    """A Segment message the gateway has claimed: a resend is acknowledged, not acted on again.

    Scoped as Segment dedupes: by source (the API key's name) and, within it, by customer, so the
    same messageId from another integration or for another customer is a different message.
    """

    __tablename__ = "ingested_events"

    source: Mapped[str] = mapped_column(String, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String, primary_key=True)
    message_id: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str]  # track | identify
    status: Mapped[str]  # processing (claimed, being routed) | done
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)  # a stale claim may be taken over


class GoalEvent(Base):
    """An event that is some journey's goal: the report counts a run as converted when its
    customer's goal event arrives within the goal's window, even after the run has ended (a
    holdout arm's run ends at once, and its customers still buy)."""

    __tablename__ = "goal_events"
    __table_args__ = (
        UniqueConstraint("customer_id", "event", "message_id"),
        Index("ix_goal_events_customer_event_at", "customer_id", "event", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    customer_id: Mapped[str]
    event: Mapped[str]
    message_id: Mapped[str]  # the MA's id of the event (a resend is recorded once); or a fresh one
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Enrollment(Base):
    """A bulk enrolment: one journey started for every customer of a segment, by a batch workflow."""

    __tablename__ = "enrollments"

    enrollment_id: Mapped[str] = mapped_column(String, primary_key=True)
    journey_id: Mapped[str]
    segment: Mapped[str]  # the file or expression the members came from
    total: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EnrollmentMember(Base):
    """The customers of an enrolment, in a fixed order the batch workflow pages through."""

    __tablename__ = "enrollment_members"

    enrollment_id: Mapped[str] = mapped_column(String, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[str]


class Notification(Base):
    """An internal escalation (webhook) and whether it reached its target."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(unique=True)
    workflow_id: Mapped[str] = mapped_column(index=True)
    customer_id: Mapped[str]
    target: Mapped[str]
    message: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    delivered: Mapped[bool] = mapped_column(default=False)
    detail: Mapped[str] = mapped_column(default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class AppliedEffect(Base):
    """Keys of effects already applied (e.g. profile updates), so a retry applies nothing twice."""

    __tablename__ = "applied_effects"

    key: Mapped[str] = mapped_column(String, primary_key=True)
    kind: Mapped[str]
    customer_id: Mapped[str | None] = mapped_column(index=True)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who did what, when, to which input: model calls, review decisions, sends, consent changes,
    journey starts. Summaries and details are masked before they are written (no raw PII)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str]
    action: Mapped[str] = mapped_column(index=True)
    customer_id: Mapped[str | None] = mapped_column(index=True)
    workflow_id: Mapped[str | None]
    subject: Mapped[str | None]  # what it was about: a step id, a review id, a journey version
    input_sha256: Mapped[str] = mapped_column(String(64))
    output_summary: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class DeadLetterRow(Base):
    """A step that failed after its retries and on_error path; its run waits for an operator."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("workflow_id", "step_id", "visit"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    workflow_id: Mapped[str] = mapped_column(index=True)
    step_id: Mapped[str]
    visit: Mapped[int]
    customer_id: Mapped[str]
    journey_id: Mapped[str]
    error: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(index=True)  # open, retried, discarded
    operator: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
