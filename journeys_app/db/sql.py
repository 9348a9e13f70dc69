"""Dialect-aware INSERT … ON CONFLICT, the building block of every idempotent write."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

Insert = postgresql.Insert | sqlite.Insert


def insert_for(session: AsyncSession, table: Any) -> Insert:
    """An INSERT for the session's dialect, so `.on_conflict_do_*` and `.excluded` are available.

    PostgreSQL and SQLite spell ON CONFLICT the same way (index_elements, set_, where), so
    callers write one statement for both.
    """
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no ON CONFLICT support for dialect {name!r}")
