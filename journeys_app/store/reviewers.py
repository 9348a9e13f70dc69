"""Reviewer accounts: names, groups, argon2 password hashes. Passwords are generated, shown once."""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict
from sqlalchemy import delete, select

from journeys_app.store.engine import SessionMaker
from journeys_app.store.schema import ConsoleSession, Reviewer

_HASHER = PasswordHasher()
_NAME = re.compile(r"^[\w .@'()-]{1,100}$")
_GROUP = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# A hash of a random password: verifying an unknown name costs as much as a known one.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


class ReviewerError(ValueError):
    """A reviewer account cannot be created or used as asked; the message says why."""


# What an account may do besides deciding reviews of its groups.
ROLES = {"reports": "read journey reports in the console"}


class ReviewerAccount(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    groups: list[str]
    roles: list[str] = []

    @property
    def reads_reports(self) -> bool:
        return "reports" in self.roles


async def add_reviewer(
    sessionmaker: SessionMaker, name: str, groups: list[str], roles: list[str] | None = None
) -> str:
    """Create an account and return its generated password (stored only as a hash). An account
    needs a review group, a role, or both."""
    name = name.strip()
    roles = roles or []
    if not _NAME.match(name):
        raise ReviewerError(f"reviewer name {name!r}: use 1-100 letters, digits, spaces or . @ ' ( ) - _")
    if not groups and not roles:
        raise ReviewerError(
            "an account needs a review group (--group vip-care), the reports role (--role reports), or both"
        )
    bad = [g for g in groups if not _GROUP.match(g)]
    if bad:
        raise ReviewerError(f"groups {bad}: lowercase letters, digits, - and _ (e.g. vip-care)")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        known = "; ".join(f"{role}: {what}" for role, what in ROLES.items())
        raise ReviewerError(f"unknown role {', '.join(unknown)}; the roles are {known}")
    password = secrets.token_urlsafe(12)
    async with sessionmaker() as session, session.begin():
        if await session.get(Reviewer, name) is not None:
            raise ReviewerError(f"reviewer {name!r} already exists")
        session.add(
            Reviewer(
                name=name,
                groups=sorted(set(groups)),
                roles=sorted(set(roles)),
                password_hash=_HASHER.hash(password),
            )
        )
    return password


async def ensure_reviewer(
    sessionmaker: SessionMaker, name: str, groups: list[str], roles: list[str] | None = None
) -> str:
    """An account with at least these groups and roles for an automated reviewer (the demo's),
    and a fresh password for it to sign in with; any earlier password stops working."""
    async with sessionmaker() as session, session.begin():
        row = await session.get(Reviewer, name)
        if row is not None:
            password = secrets.token_urlsafe(12)
            row.groups = sorted(set(row.groups) | set(groups))
            row.roles = sorted(set(row.roles) | set(roles or []))
            row.password_hash = _HASHER.hash(password)
            return password
    return await add_reviewer(sessionmaker, name, groups, roles)


async def get_reviewer(sessionmaker: SessionMaker, name: str) -> ReviewerAccount | None:
    async with sessionmaker() as session:
        row = await session.get(Reviewer, name)
    return None if row is None else ReviewerAccount.model_validate(row)


async def list_reviewers(sessionmaker: SessionMaker) -> list[ReviewerAccount]:
    async with sessionmaker() as session:
        rows = (await session.scalars(select(Reviewer).order_by(Reviewer.name))).all()
    return [ReviewerAccount.model_validate(r) for r in rows]


async def remove_reviewer(sessionmaker: SessionMaker, name: str) -> bool:
    """Delete the account and end its console sessions."""
    async with sessionmaker() as session, session.begin():
        row = await session.get(Reviewer, name)
        if row is None:
            return False
        await session.delete(row)
        await session.execute(delete(ConsoleSession).where(ConsoleSession.reviewer == name))
    return True


async def authenticate(sessionmaker: SessionMaker, name: str, password: str) -> ReviewerAccount | None:
    """The account if the password matches; None otherwise (same cost for unknown names)."""
    async with sessionmaker() as session:
        row = await session.get(Reviewer, name.strip())
    try:
        _HASHER.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return None if row is None else ReviewerAccount.model_validate(row)
