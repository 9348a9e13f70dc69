"""Schema migrations (Alembic) for the journey store, configured in code: no alembic.ini needed.

The migration scripts live in `journeys_app/store/migrations` and ship with the package. Every entry
point here runs Alembic on a connection of the store's own async engine (`connection.run_sync`,
Alembic's documented asyncio pattern), so SQLite (aiosqlite) and PostgreSQL (asyncpg) take the same
path and the engine's connect settings (SQLite pragmas, a PostgreSQL `search_path`) apply.

Databases made before migrations existed (tables created by `create_all`, no `alembic_version`)
are stamped at the initial revision and then upgraded, instead of failing on "table exists".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from journeys_app.store.engine import create_engine, normalize_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
INITIAL_REVISION = "0001"
VERSION_TABLE = "alembic_version"
MIGRATION_LOCK_ID = 0x6A6F75726E657973  # "journeys": the advisory lock key on PostgreSQL
# The tables of the initial revision, as `create_all` made them before migrations existed.
INITIAL_TABLES = frozenset(
    {"customers", "journey_runs", "step_results", "messages", "reviews", "notifications", "applied_effects"}
)

T = TypeVar("T")


def alembic_config(url: str | URL | None = None, connection: Connection | None = None) -> Config:
    """An Alembic Config for the packaged migrations; `connection` makes env.py run on it."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        rendered = normalize_url(url).render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision of the packaged migrations."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _adopt_legacy(connection: Connection) -> None:
    """Stamp a database made by `create_all` (tables present, no version table) at 0001."""
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE in tables or not tables & INITIAL_TABLES:
        return
    missing = INITIAL_TABLES - tables
    if missing:
        raise RuntimeError(
            f"database has some journey tables but not {sorted(missing)} and no {VERSION_TABLE} "
            "table: it was not made by this application; refusing to migrate it"
        )
    command.stamp(alembic_config(connection=connection), INITIAL_REVISION)


def _lock(connection: Connection) -> None:
    """Serialise concurrent upgrades (worker, CLI and gateway starting together) for the transaction.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: take the write lock up front
    (`BEGIN IMMEDIATE`; the driver's legacy mode would not BEGIN before DDL at all), which also
    makes the migration transactional there. Must run first on a fresh `engine.begin()` connection.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade(connection: Connection, revision: str) -> None:
    _lock(connection)
    _adopt_legacy(connection)
    command.upgrade(alembic_config(connection=connection), revision)


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database behind `engine` to `revision` (default: the newest), in one transaction."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


async def engine_revision(engine: AsyncEngine) -> str | None:
    """The revision the database behind `engine` is at; None if it was never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def _with_engine(url: str | URL, action: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    engine = create_engine(url)
    try:
        return await action(engine)
    finally:
        await engine.dispose()


def upgrade_database(url: str | URL, revision: str = "head") -> None:
    """Upgrade the database at `url` (sqlite or postgresql, any driver spelling) to `revision`.

    Synchronous, for the command line; from async code use `upgrade_engine`.
    """
    asyncio.run(_with_engine(url, lambda engine: upgrade_engine(engine, revision)))


def current_revision(url: str | URL) -> str | None:
    """The revision the database at `url` is at; None if it was never migrated."""
    return asyncio.run(_with_engine(url, engine_revision))
