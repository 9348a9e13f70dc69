"""Gateway API keys: `jk_<id>_<secret>`, shown once; the store keeps the id, a SHA-256 of the secret
and the scopes. Keys are long random strings, so a fast hash is enough (no password stretching)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update

from journeys_app.store.engine import SessionMaker
from journeys_app.store.schema import ApiKey, Reviewer, utcnow

Scope = Literal["ingest", "decide", "read", "review", "codec"]
SCOPES: tuple[str, ...] = get_args(Scope)
_KEY = re.compile(r"^jk_([a-z0-9]{8})_([A-Za-z0-9_-]{20,})$")


class ApiKeyError(ValueError):
    """A key cannot be created or revoked as asked; the message says why."""


class KeyInfo(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key_id: str
    name: str
    scopes: list[str]
    reviewer: str | None = None  # who a review decision made with this key is made by


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_key(
    sessionmaker: SessionMaker, name: str, scopes: list[str], reviewer: str | None = None
) -> str:
    """A new key with these scopes; returns the whole key, which is never shown again.

    A key with the review scope is bound to a reviewer account: its decisions are that account's,
    whatever a request says, so a key cannot decide as anyone else.
    """
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise ApiKeyError(f"scopes {unknown or scopes}: choose from {', '.join(SCOPES)}")
    if not name.strip():
        raise ApiKeyError("a key needs a name that says who uses it, e.g. --name braze-prod")
    if "review" in scopes and not reviewer:
        raise ApiKeyError(
            "a key with the review scope decides as one reviewer account: add --reviewer NAME (make the "
            "account first with `journeys reviewers add NAME --group G`, for a person or an integration)"
        )
    if reviewer and "review" not in scopes:
        raise ApiKeyError("--reviewer is for keys with the review scope")
    key_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(24)
    async with sessionmaker() as session, session.begin():
        if reviewer and await session.get(Reviewer, reviewer) is None:
            raise ApiKeyError(f"no reviewer account {reviewer!r}: create it with `journeys reviewers add`")
        session.add(
            ApiKey(
                key_id=key_id,
                name=name.strip(),
                secret_hash=_digest(secret),
                scopes=sorted(set(scopes)),
                reviewer=reviewer,
            )
        )
    return f"jk_{key_id}_{secret}"


async def verify_key(sessionmaker: SessionMaker, key: str) -> KeyInfo | None:
    """The key's id, name and scopes if it is valid and not revoked."""
    match = _KEY.match(key.strip())
    if match is None:
        return None
    key_id, secret = match.groups()
    async with sessionmaker() as session:
        row = await session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
        return None
    return KeyInfo.model_validate(row)


async def revoke_key(sessionmaker: SessionMaker, key_or_id: str) -> bool:
    match = _KEY.match(key_or_id.strip())
    key_id = match.group(1) if match else key_or_id.strip().removeprefix("jk_")
    async with sessionmaker() as session, session.begin():
        result = await session.execute(
            update(ApiKey)
            .where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return result.rowcount == 1


async def list_keys(sessionmaker: SessionMaker) -> list[tuple[KeyInfo, bool]]:
    """Every key and whether it is still active."""
    async with sessionmaker() as session:
        rows = (await session.scalars(select(ApiKey).order_by(ApiKey.created_at))).all()
    return [(KeyInfo.model_validate(r), r.revoked_at is None) for r in rows]
