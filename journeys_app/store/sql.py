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
    The rows go as parameters of one cached statement (SQLAlchemy sends a list as one multi-row
    INSERT): written into the statement with `.values()`, a list of rows made a statement that is
    compiled anew on every call, about 1.4 ms of the worker's CPU per write.
    """
    if not rows:
        return []
    table = getattr(table, "__table__", table)  # Core, not ORM bulk mode, for a mapped class
    stmt = (
        insert_for(session, table)
        .on_conflict_do_nothing(index_elements=list(key))
        .returning(*(table.c[column.key] for column in returning))
    )
    return list((await session.execute(stmt, rows)).all())
