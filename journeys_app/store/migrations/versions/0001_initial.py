"""Initial schema: the tables `Base.metadata.create_all` made before migrations existed.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Types are spelled out here rather than imported from `journeys_app.store.schema`, so this revision
keeps creating the same schema however the models change later (`UtcDateTime` is a Python-side
wrapper over `DateTime(timezone=True)`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    """JSONB on PostgreSQL, JSON (text) on SQLite."""
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _id() -> sa.types.TypeEngine[int]:
    """64-bit ids on PostgreSQL; INTEGER on SQLite, the only type it auto-increments."""
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "applied_effects",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=True),
        sa.Column("applied_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_applied_effects"),
    )
    op.create_index("ix_applied_effects_customer_id", "applied_effects", ["customer_id"])

    op.create_table(
        "customers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("first_name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("phone", sa.String(), nullable=True),
        sa.Column("tier", sa.String(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("locale", sa.String(), nullable=False),
        sa.Column("attributes", _json(), nullable=False),
        sa.Column("consent", _json(), nullable=False),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("updated_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
    )

    op.create_table(
        "journey_runs",
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("journey_id", sa.String(), nullable=False),
        sa.Column("journey_version", sa.Integer(), nullable=False),
        sa.Column("spec_hash", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("entry_key", sa.String(), nullable=False),
        sa.Column("trigger_event", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("path", _json(), nullable=False),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("finished_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("workflow_id", name="pk_journey_runs"),
    )
    op.create_index("ix_journey_runs_customer_status", "journey_runs", ["customer_id", "status"])
    op.create_index("ix_journey_runs_journey_id", "journey_runs", ["journey_id"])
    op.create_index("ix_journey_runs_status", "journey_runs", ["status"])

    op.create_table(
        "messages",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("step_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("idempotency_key", name="uq_messages_idempotency_key"),
    )
    op.create_index("ix_messages_customer_id", "messages", ["customer_id"])
    op.create_index("ix_messages_workflow_id", "messages", ["workflow_id"])

    op.create_table(
        "notifications",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("delivered_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("idempotency_key", name="uq_notifications_idempotency_key"),
    )
    op.create_index("ix_notifications_workflow_id", "notifications", ["workflow_id"])

    op.create_table(
        "reviews",
        sa.Column("review_id", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("step_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("group", sa.String(), nullable=False),
        sa.Column("deadline", _ts(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("variants", _json(), nullable=False),
        sa.Column("reviewer", sa.String(), nullable=True),
        sa.Column("chosen_variant", sa.Integer(), nullable=True),
        sa.Column("edited_body", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("decided_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("review_id", name="pk_reviews"),
    )
    op.create_index("ix_reviews_status_group", "reviews", ["status", "group"])
    op.create_index("ix_reviews_workflow_id", "reviews", ["workflow_id"])

    op.create_table(
        "step_results",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("step_id", sa.String(), nullable=False),
        sa.Column("visit", sa.Integer(), nullable=False),
        sa.Column("step_type", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("result", _json(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", _ts(), nullable=False),
        sa.Column("finished_at", _ts(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_step_results"),
        sa.UniqueConstraint(
            "workflow_id", "step_id", "visit", name="uq_step_results_workflow_id_step_id_visit"
        ),
    )
    op.create_index("ix_step_results_workflow_id", "step_results", ["workflow_id"])


def downgrade() -> None:
    for table in (
        "step_results",
        "reviews",
        "notifications",
        "messages",
        "journey_runs",
        "customers",
        "applied_effects",
    ):
        op.drop_table(table)  # drops its indexes and constraints with it
