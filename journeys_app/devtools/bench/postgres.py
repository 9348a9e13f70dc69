"""A throwaway PostgreSQL database for a benchmark run, so the figures never touch a real store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from journeys_app.store.engine import normalize_url


def is_postgres(url: str) -> bool:
    return bool(url) and normalize_url(url).get_backend_name() == "postgresql"


@asynccontextmanager
async def throwaway_database(url: str) -> AsyncIterator[str]:
    """A new, empty database on the server of `url` (whose user may create databases); yields
    its URL and drops it afterwards."""
    server = normalize_url(url).set(drivername="postgresql")
    admin = server.render_as_string(hide_password=False)
    name = f"journeys_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@asynccontextmanager
async def bench_database(postgres: str | None) -> AsyncIterator[str | None]:
    """`throwaway_database(postgres)`, or None (the bench's temporary SQLite file) without one."""
    if postgres is None:
        yield None
        return
    async with throwaway_database(postgres) as url:
        yield url
