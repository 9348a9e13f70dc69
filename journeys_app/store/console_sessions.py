"""Review console sessions in the store: the cookie carries a random token, the store its hash.

A signed cookie alone cannot be withdrawn: one copied before sign-out would keep working until it
expires. Here signing out deletes the row, and so does removing the reviewer's account.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete

from journeys_app.store.engine import SessionMaker
from journeys_app.store.schema import ConsoleSession, utcnow


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(sessionmaker: SessionMaker, reviewer: str, lasts: timedelta) -> str:
    """A new session for the reviewer; returns the token for the cookie (never stored as is)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
        session.add(
            ConsoleSession(token_hash=_hash(token), reviewer=reviewer, created_at=now, expires_at=now + lasts)
        )
    return token


async def session_reviewer(sessionmaker: SessionMaker, token: str) -> str | None:
    """The reviewer of a live session, or None (signed out, expired or unknown)."""
    async with sessionmaker() as session:
        row = await session.get(ConsoleSession, _hash(token))
    return row.reviewer if row is not None and row.expires_at > utcnow() else None


async def close_session(sessionmaker: SessionMaker, token: str) -> None:
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == _hash(token)))
