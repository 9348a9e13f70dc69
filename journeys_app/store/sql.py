"""Dialect-aware INSERT … ON CONFLICT, the building block of every idempotent write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row
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


async def insert_if_absent(
    session: AsyncSession,
    table: Any,
    rows: dict[str, Any] | list[dict[str, Any]],
    *,
    key: Sequence[str],
    returning: Sequence[Any],
) -> list[Row[Any]]:
    """INSERT … ON CONFLICT (key) DO NOTHING RETURNING …: the rows this write added.

    A row that was there already (a retry, a duplicate) comes back as nothing, so the caller tells
    a first write from a repeat without a second query; on SQLite it also takes the write lock.
    """
    stmt = (
        insert_for(session, table)
        .values(rows)
        .on_conflict_do_nothing(index_elements=list(key))
        .returning(*returning)
    )
    return list((await session.execute(stmt)).all())
