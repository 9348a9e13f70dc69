"""Store fixtures: every test runs against a SQLite file and against PostgreSQL.

PostgreSQL gets a fresh schema per test in database `test`; when the server is unreachable the
PostgreSQL variant skips, except under CI=true, where it fails.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.journey_activities import JourneyActivities
from journeys_app.core.settings import Settings
from journeys_app.store.engine import SessionMaker, create_engine, init_db, session_factory

PG_DSN = os.environ.get("JOURNEYS_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
SAMPLE_CUSTOMERS = Path(__file__).resolve().parents[2] / "journeys" / "samples" / "customers.yaml"


@dataclass
class Store:
    engine: AsyncEngine
    sessionmaker: SessionMaker
    dialect: str


_pg_unreachable: list[str | None] = []  # checked once per session


async def _pg_reachable() -> str | None:
    """None if PostgreSQL answers, else why not."""
    if not _pg_unreachable:
        try:
            conn = await asyncpg.connect(PG_DSN, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            _pg_unreachable.append(f"PostgreSQL at {PG_DSN} unreachable: {type(exc).__name__}: {exc}")
        else:
            await conn.close()
            _pg_unreachable.append(None)
    return _pg_unreachable[0]


async def _require_pg() -> None:
    why = await _pg_reachable()
    if why is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{why} (CI=true: PostgreSQL tests must run)")
        pytest.skip(why)


async def _pg_store() -> AsyncIterator[Store]:
    await _require_pg()
    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_DSN)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        # The application name lets a test find this store's own connections (to drop them).
        server_settings = {"search_path": schema, "application_name": schema}
        engine = create_engine(PG_DSN, connect_args={"server_settings": server_settings})
        try:
            await init_db(engine)
            yield Store(engine, session_factory(engine), "postgresql")
        finally:
            await engine.dispose()
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
async def postgres_dsn() -> str:
    """The test server's DSN, for tests of the connections themselves (no schema made)."""
    await _require_pg()
    return PG_DSN


async def _sqlite_store(folder: Path) -> AsyncIterator[Store]:
    # A nested, not yet existing folder: create_engine must make it.
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'state' / 'journeys.db'}")
    try:
        await init_db(engine)
        yield Store(engine, session_factory(engine), "sqlite")
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An empty, migrated store on each database."""
    gen = _sqlite_store(tmp_path) if request.param == "sqlite" else _pg_store()
    async for s in gen:
        yield s


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings isolated from the developer's environment and .env file."""
    return Settings(_env_file=None, state_dir=tmp_path / "state", notify_targets={})


@pytest.fixture
def acts(store: Store, settings: Settings) -> JourneyActivities:
    return JourneyActivities(store.sessionmaker, settings)


@dataclass
class Captured:
    path: str
    headers: dict[str, str]
    body: bytes


class TinyHttpServer:
    """A loopback HTTP/1.1 server answering each request with the next scripted status."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[Captured] = []
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}/hook"

    async def __aenter__(self) -> TinyHttpServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append(Captured(request_line.split(" ")[1], headers, body))
        status = self.statuses.pop(0) if self.statuses else 200
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode())
        await writer.drain()
        writer.close()
