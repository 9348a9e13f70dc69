"""Who may call: API keys with scopes (verified keys cached briefly) and per-key rate limits."""

from __future__ import annotations

from typing import Any

from cachetools import TTLCache
from fastapi import Depends, Request

from journeys_app.core.settings import Settings
from journeys_app.edges.gateway.errors import GatewayError
from journeys_app.edges.gateway.ingest import Ingest
from journeys_app.edges.gateway.ratelimit import RateLimiter
from journeys_app.edges.gateway.reading import key_from
from journeys_app.service.journey_service import JourneyService
from journeys_app.store.api_keys import KeyInfo, verify_key

CHALLENGE = {"WWW-Authenticate": 'Basic realm="journeys"'}


class Gate:
    """The checks every route makes before its work: the key's scope, then the key's rate."""

    def __init__(self, service: JourneyService, settings: Settings, ingest: Ingest) -> None:
        self.service, self.settings, self.ingest = service, settings, ingest
        self.limiter = RateLimiter(settings.gateway_rate_per_minute)
        self._verified: TTLCache[str, KeyInfo] | None = (
            TTLCache(maxsize=1024, ttl=settings.gateway_key_cache_s) if settings.gateway_key_cache_s else None
        )
        self.ingest_key, self.decide_key, self.read_key, self.review_key = (
            self.scope(s) for s in ("ingest", "decide", "read", "review")
        )

    async def _verified_key(self, key: str) -> KeyInfo | None:
        info = self._verified.get(key) if self._verified is not None else None
        if info is None:
            info = await verify_key(self.service.sessionmaker, key)
            if info is not None and self._verified is not None:
                self._verified[key] = info
        return info

    async def check(self, request: Request, scope: str) -> KeyInfo:
        """The request's key, which must hold this scope."""
        key = key_from(request)
        if not key:
            raise GatewayError(
                401, "missing API key", "send it as Basic auth user name or Bearer token", CHALLENGE
            )
        info = await self._verified_key(key)
        if info is None:
            raise GatewayError(401, "unknown or revoked API key", None, CHALLENGE)
        if scope not in info.scopes:
            raise GatewayError(403, f"this key lacks the {scope!r} scope", {"scopes": info.scopes})
        return info

    def scope(self, name: str) -> Any:
        """A route dependency: the request's key, which must hold this scope."""

        async def require(request: Request) -> KeyInfo:
            return await self.check(request, name)

        return Depends(require)

    async def limit(self, key: KeyInfo, customers: list[str | None]) -> None:
        vip = False
        # The reserve: only requests about VIPs alone (every message with a userId) may use it.
        if self.limiter.needs_vip(key.key_id) and customers and all(customers):
            ids = {c for c in customers if c}
            vip = await self.ingest.vip_customers(ids) == ids
        wait = self.limiter.take(key.key_id, vip=vip)
        if wait:
            rate = self.settings.gateway_rate_per_minute
            raise GatewayError(
                429,
                f"rate limit of {rate} requests per minute for key {key.name!r}",
                {"retry_after_s": round(wait, 1)},
                {"Retry-After": str(max(1, round(wait)))},
            )
