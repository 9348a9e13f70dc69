"""Pooled PostgreSQL connections: pinged after sitting idle, not at every checkout."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from journeys_app.store import engine as store_engine

pytestmark = pytest.mark.postgres


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


def _count_pings(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    dialect = engine.sync_engine.dialect
    pings: list[int] = []
    real = dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


async def test_a_connection_the_server_dropped_while_idle_is_replaced(
    postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_engine, "PING_AFTER_IDLE_S", 0.05)
    engine = store_engine.create_engine(postgres_dsn, pool_size=1, max_overflow=0)
    try:
        first = await _backend_pid(engine)
        admin = await asyncpg.connect(postgres_dsn)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()
        await asyncio.sleep(0.1)
        assert await _backend_pid(engine) != first  # no error: the ping found it dead
    finally:
        await engine.dispose()


async def test_a_busy_pool_is_not_pinged_and_an_idle_one_is(
    postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_engine, "PING_AFTER_IDLE_S", 0.3)
    engine = store_engine.create_engine(postgres_dsn, pool_size=1, max_overflow=0)
    pings = _count_pings(engine, monkeypatch)
    try:
        pids = {await _backend_pid(engine) for _ in range(5)}
        assert (len(pids), len(pings)) == (1, 0)
        await asyncio.sleep(0.4)
        await _backend_pid(engine)
        assert len(pings) == 1
    finally:
        await engine.dispose()
