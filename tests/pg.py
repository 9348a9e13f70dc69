"""A fresh PostgreSQL database for a test that runs the product in subprocesses."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import pytest

from tests.store.conftest import PG_DSN


def _admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(PG_DSN, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@contextmanager
def fresh_database() -> Iterator[str]:
    """Create a database of its own on the test server, yield its URL, drop it afterwards.

    Skips when PostgreSQL is unreachable, except under CI=true, where that fails the test."""
    name = f"journeys_{uuid.uuid4().hex[:10]}"
    try:
        _admin(f'CREATE DATABASE "{name}"')
    except OSError as exc:
        why = f"PostgreSQL at {PG_DSN} unreachable: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{why} (CI=true: PostgreSQL tests must run)")
        pytest.skip(why)
    try:
        yield PG_DSN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
