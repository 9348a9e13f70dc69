"""Engine and session set-up for SQLite (default, aiosqlite) and PostgreSQL (asyncpg).

SQLite notes: the file is opened in WAL mode with a busy timeout so the worker, the CLI and the
gateway can share it. Each process keeps one connection: SQLite has one writer at a time anyway,
and a process's transactions then wait their turn in the pool's queue instead of in SQLite's busy
handler, which sleeps in steps of up to 100 ms and lets newcomers overtake (under load, a run's
start waited seconds for the lock that way). So store code never opens a second session while it
holds one. The sqlite3 driver's legacy transaction mode is kept (it only BEGINs on DML), so store
code that must read-modify-write starts its transaction with a write: that takes SQLite's write
lock up front and serialises concurrent writers instead of failing them.

PostgreSQL notes: a pooled connection is checked with a ping only when it has sat idle in the
pool (`PING_AFTER_IDLE_S`), not at every checkout as `pool_pre_ping` does. asyncpg's ping is three
round trips (BEGIN, `;`, ROLLBACK) before every transaction; a connection handed back moments ago
has just proven itself, and under load connections never idle. When the server drops connections
in the middle of the load, the failing statement invalidates the pool and the next checkout
connects anew.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from journeys_app.core.settings import Settings

SQLITE_BUSY_TIMEOUT_S = 30.0
PING_AFTER_IDLE_S = 1.0

SessionMaker = async_sessionmaker[AsyncSession]


def normalize_url(url: str | URL) -> URL:
    """Pick the async driver for plain `sqlite://` and `postgresql://` URLs, as operators write them."""
    if isinstance(url, str) and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    u = make_url(url)
    backend, driver = u.get_backend_name(), u.get_driver_name()
    if backend == "sqlite" and driver != "aiosqlite":
        return u.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql" and driver != "asyncpg":
        return u.set(drivername="postgresql+asyncpg")
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return u


def _is_sqlite_file(u: URL) -> bool:
    db = u.database or ""
    return bool(db) and db != ":memory:" and not db.startswith("file:")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def create_engine(
    url: str | URL, *, connect_args: dict[str, Any] | None = None, **kwargs: Any
) -> AsyncEngine:
    """An AsyncEngine for `url`; SQLite gets its folder created, WAL and a busy timeout."""
    u = normalize_url(url)
    if u.get_backend_name() == "sqlite":
        if _is_sqlite_file(u):
            Path(u.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
            if "poolclass" not in kwargs:
                kwargs = {"pool_size": 1, "max_overflow": 0, **kwargs}
        args = {"timeout": SQLITE_BUSY_TIMEOUT_S, **(connect_args or {})}
        engine = create_async_engine(u, connect_args=args, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    engine = create_async_engine(u, connect_args=connect_args or {}, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_after_idle(engine, PING_AFTER_IDLE_S)
    return engine


def _ping_after_idle(engine: AsyncEngine, idle_s: float) -> None:
    """Ping a pooled connection at checkout when it was idle at least `idle_s`; a dead one makes
    the pool start afresh (as `pool_pre_ping` does, without its round trips on a busy pool)."""
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _idle_since(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle_s:  # fresh, or in use moments ago
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.InvalidatePoolError(f"an idle connection failed its ping ({error})") from error


def session_factory(engine: AsyncEngine) -> SessionMaker:
    """Sessions that keep loaded values after commit, so results can be returned after it."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def init_db(engine: AsyncEngine) -> None:
    """Bring the store to the latest migration (a database made by `create_all` is stamped first)."""
    from journeys_app.store.migrate import upgrade_engine  # migrate imports this module

    await upgrade_engine(engine)


@asynccontextmanager
async def open_database(
    settings: Settings, *, create_schema: bool = True
) -> AsyncIterator[tuple[AsyncEngine, SessionMaker]]:
    """Open the configured database for one process's lifetime and dispose of it on exit."""
    engine = create_engine(settings.resolved_database_url)
    try:
        if create_schema:
            await init_db(engine)
        yield engine, session_factory(engine)
    finally:
        await engine.dispose()
