"""Journey reports: where running runs wait, each run's goal window, goal events, the review
queue's context, and the console role that reads reports.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("journey_runs") as batch:
        batch.add_column(sa.Column("current_step", sa.String(), nullable=True))
        batch.add_column(sa.Column("goal_event", sa.String(), nullable=True))
        batch.add_column(sa.Column("goal_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_journey_runs_journey_started", "journey_runs", ["journey_id", "started_at"])
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("journey_id", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("why", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("snippet", sa.String(), nullable=False, server_default=""))
    with op.batch_alter_table("reviewers") as batch:
        batch.add_column(sa.Column("roles", JSON, nullable=False, server_default="[]"))
    op.create_table(
        "goal_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_goal_events"),
        sa.UniqueConstraint(
            "customer_id", "event", "message_id", name="uq_goal_events_customer_id_event_message_id"
        ),
    )
    op.create_index(
        "ix_goal_events_customer_event_at", "goal_events", ["customer_id", "event", "occurred_at"]
    )


def downgrade() -> None:
    op.drop_table("goal_events")
    with op.batch_alter_table("reviewers") as batch:
        batch.drop_column("roles")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("snippet")
        batch.drop_column("why")
        batch.drop_column("journey_id")
    op.drop_index("ix_journey_runs_journey_started", "journey_runs")
    with op.batch_alter_table("journey_runs") as batch:
        batch.drop_column("goal_until")
        batch.drop_column("goal_event")
        batch.drop_column("current_step")
