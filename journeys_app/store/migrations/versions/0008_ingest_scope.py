"""Ingest: messageIds are claimed per source and customer, with a claim time a resend can take over.

The old table kept messageIds globally (the same id from another customer was dropped as a
duplicate). Its rows cannot be given a source, so they are not carried over: a resend of a message
ingested before the upgrade is routed again, which starts nothing twice (entry keys) and reaches no
run twice (runs ignore event ids they have seen).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("ingested_events")
    op.create_table(
        "ingested_events",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "customer_id", "message_id", name="pk_ingested_events"),
    )


def downgrade() -> None:
    op.drop_table("ingested_events")
    op.create_table(
        "ingested_events",
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="pk_ingested_events"),
    )
