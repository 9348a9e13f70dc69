"""The audit log: building masked entries, writing them in the caller's transaction, reading, purging.

An entry holds the SHA-256 of the canonical JSON of its input (never the input itself), a short
summary and small details; every string in the summary, the details, the actor and the subject
passes through `mask_text`, so no raw phone number or email address is stored.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from journeys_app.core.masking import mask_text, mask_values
from journeys_app.store.engine import SessionMaker
from journeys_app.store.schema import AuditEntry, utcnow

SUMMARY_MAX = 500


class AuditRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    at: datetime
    actor: str
    action: str
    customer_id: str | None
    workflow_id: str | None
    subject: str | None
    input_sha256: str
    output_summary: str
    details: dict[str, Any]


def input_digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of `value`: sorted keys, no whitespace, UTF-8."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _truncate(text: str, limit: int = SUMMARY_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mask_opt(value: str | None) -> str | None:
    return None if value is None else mask_text(value)


def audit_ref(value: str | None) -> str | None:
    """An id as the audit log keeps it: as is, unless it holds an email or phone number (an MA that
    uses the email as userId); then masked, with a short hash that keeps it distinct and findable.
    `j***@example.com#3f9a1c2b7d` stands for jane@example.com and nobody else."""
    if value is None or mask_text(value) == value:
        return value
    return f"{mask_text(value)}#{hashlib.sha256(value.encode()).hexdigest()[:10]}"


def audit_entry(
    actor: str,
    action: str,
    *,
    input: Any,
    output_summary: str,
    customer_id: str | None = None,
    workflow_id: str | None = None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values of one audit row: input digested, text masked, summary ≤ 500 characters."""
    return {
        "at": utcnow(),
        "actor": mask_text(actor),
        "action": action,
        "customer_id": audit_ref(customer_id),
        "workflow_id": audit_ref(workflow_id),
        "subject": _mask_opt(subject),
        "input_sha256": input_digest(input),
        "output_summary": _truncate(mask_text(output_summary)),
        "details": mask_values(details or {}),
    }


async def write_audit(session: AsyncSession, **entry: Any) -> None:
    """Insert one row built by `audit_entry`, inside the caller's transaction (commits with its effect)."""
    await write_audit_rows(session, [entry])


async def write_audit_rows(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Insert rows built by `audit_entry` in one cached statement, inside the caller's transaction."""
    if entries:
        await session.execute(insert(AuditEntry.__table__), entries)


async def audit_for_customer(
    sessionmaker: SessionMaker, customer_id: str, limit: int = 200
) -> list[AuditRecord]:
    """The customer's audit entries, newest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.customer_id == audit_ref(customer_id))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    async with sessionmaker() as session:
        rows = (await session.scalars(stmt)).all()
    return [AuditRecord.model_validate(r) for r in rows]


async def audit_for_subject(sessionmaker: SessionMaker, subject: str, action: str) -> list[AuditRecord]:
    """Entries of one action about one subject (a review id, say), oldest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.subject == subject, AuditEntry.action == action)
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    async with sessionmaker() as session:
        rows = (await session.scalars(stmt)).all()
    return [AuditRecord.model_validate(r) for r in rows]


async def purge_audit(sessionmaker: SessionMaker, older_than: timedelta) -> int:
    """Delete entries older than `older_than`; the number deleted."""
    cutoff = utcnow() - older_than
    async with sessionmaker() as session, session.begin():
        result = await session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff))
    return int(result.rowcount or 0)
