"""Schema migrations: an empty store, a store made by `create_all` and a migrated one, on both databases."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from journeys_app.store.engine import create_engine, init_db
from journeys_app.store.migrate import (
    INITIAL_REVISION,
    INITIAL_TABLES,
    VERSION_TABLE,
    alembic_config,
    current_revision,
    engine_revision,
    head_revision,
    upgrade_database,
    upgrade_engine,
)
from journeys_app.store.schema import Base
from tests.store.conftest import PG_DSN, Store, _pg_reachable

MODEL_TABLES = set(Base.metadata.tables)
# Tables added by revisions after the initial one.
# Columns later revisions added to the initial tables: a legacy database lacks them.
LATER_COLUMNS = {
    "messages": ("provider_response", "sent_at"),
    "journey_runs": ("current_step", "goal_event", "goal_until"),
    "reviews": ("journey_id", "why", "snippet"),
}
LATER_INDEXES = ("ix_journey_runs_journey_started",)
LATER_TABLES = {
    "audit_log",
    "dead_letters",
    "reviewers",
    "api_keys",
    "ingested_events",
    "goal_events",
    "enrollments",
    "enrollment_members",
    "console_sessions",
}


class Blank:
    """An empty database (no tables at all) and a way to open more engines on it."""

    def __init__(self, dialect: str, url: str, schema: str | None) -> None:
        self.dialect, self.url, self.schema = dialect, url, schema
        self.engines: list[AsyncEngine] = []

    def engine(self) -> AsyncEngine:
        args = {"server_settings": {"search_path": self.schema}} if self.schema else None
        engine = create_engine(self.url, connect_args=args)
        self.engines.append(engine)
        return engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def blank(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Blank]:
    if request.param == "sqlite":
        b = Blank("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'state' / 'journeys.db'}", None)
        try:
            yield b
        finally:
            for e in b.engines:
                await e.dispose()
        return
    why = await _pg_reachable()
    if why is not None:
        pytest.skip(why)  # the store fixture's CI=true rule makes the suite fail in that case
    schema = f"migr_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_DSN)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        b = Blank("postgresql", PG_DSN, schema)
        try:
            yield b
        finally:
            for e in b.engines:
                await e.dispose()
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


def _diff(conn: Connection) -> list[object]:
    ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
    return list(compare_metadata(ctx, Base.metadata))


async def _count_customers(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM customers"))).scalar_one()


async def _add_customer(engine: AsyncEngine, cid: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO customers (id, first_name, tier, timezone, locale, attributes, consent, tags,"
                " created_at, updated_at) VALUES (:id, '', 'standard', 'UTC', 'en', '{}', '{}', '[]',"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"id": cid},
        )


def test_head_revision_and_initial_tables() -> None:
    assert head_revision() == "0011"  # update when 0012 lands
    assert INITIAL_TABLES == MODEL_TABLES - LATER_TABLES


async def test_upgrade_on_empty_database_creates_every_table_at_head(blank: Blank) -> None:
    engine = blank.engine()
    assert await engine_revision(engine) is None
    await upgrade_engine(engine)
    assert await _tables(engine) == MODEL_TABLES | {VERSION_TABLE}
    assert await engine_revision(engine) == head_revision()
    if blank.schema is not None:  # the version table lives in the test's schema, beside the tables
        async with engine.connect() as conn:
            schemas = (
                await conn.execute(
                    text("SELECT table_schema FROM information_schema.tables WHERE table_name = :t"),
                    {"t": VERSION_TABLE},
                )
            ).scalars()
            assert blank.schema in set(schemas)


async def test_upgrading_twice_is_a_no_op(blank: Blank) -> None:
    engine = blank.engine()
    await init_db(engine)
    await _add_customer(engine, "c1")
    await init_db(engine)
    await upgrade_engine(engine, "head")
    assert await engine_revision(engine) == head_revision()
    assert await _count_customers(engine) == 1
    async with engine.connect() as conn:
        versions = (await conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))).scalars().all()
    assert versions == [head_revision()]


async def test_database_made_by_create_all_is_stamped_not_recreated(blank: Blank) -> None:
    engine = blank.engine()
    # A database from before migrations: `create_all` of the models of that time (the 0001 tables).
    legacy = [Base.metadata.tables[name] for name in sorted(INITIAL_TABLES)]
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: Base.metadata.create_all(c, tables=legacy))
        for index in LATER_INDEXES:
            await conn.execute(text(f"DROP INDEX {index}"))
        for table, columns in LATER_COLUMNS.items():
            for column in columns:
                await conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    await _add_customer(engine, "legacy")
    assert await engine_revision(engine) is None
    await init_db(engine)
    assert await engine_revision(engine) == head_revision()
    assert await _count_customers(engine) == 1
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


async def test_partial_unversioned_schema_is_refused(blank: Blank) -> None:
    engine = blank.engine()
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: Base.metadata.tables["customers"].create(c))
    with pytest.raises(RuntimeError, match="refusing to migrate"):
        await init_db(engine)
    assert await engine_revision(engine) is None


async def test_concurrent_upgrades_of_one_database_both_succeed(blank: Blank) -> None:
    first, second = blank.engine(), blank.engine()
    await asyncio.gather(init_db(first), init_db(second))
    assert await engine_revision(first) == head_revision()
    assert await _tables(second) == MODEL_TABLES | {VERSION_TABLE}


async def test_downgrade_to_base_and_back(blank: Blank) -> None:
    engine = blank.engine()
    await upgrade_engine(engine)
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(connection=c), "base"))
    assert await _tables(engine) == {VERSION_TABLE}
    assert await engine_revision(engine) is None
    await upgrade_engine(engine)
    assert await engine_revision(engine) == head_revision()


async def test_migrated_schema_matches_the_models(store: Store) -> None:
    """The conftest store is migrated by init_db; autogenerate must find nothing to change."""
    async with store.engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
    assert await engine_revision(store.engine) == head_revision()


def test_upgrade_database_and_current_revision_by_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'journeys.db'}"  # plain sqlite:// is normalised
    assert current_revision(url) is None
    upgrade_database(url)
    assert current_revision(url) == head_revision()
    upgrade_database(url, INITIAL_REVISION)  # already past it: nothing to do
    assert current_revision(f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'journeys.db'}") == head_revision()
