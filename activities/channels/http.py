"""SMS, push and webhook messages through HTTP providers, signed with HMAC-SHA256.

The request carries the message's idempotency key (`Idempotency-Key`), so a provider that
deduplicates by it never delivers twice, even when we resend after an unconfirmed attempt. The
signature covers the timestamp and the body: `X-Journeys-Signature: t=<unix>,v1=<hex>`, where hex is
HMAC-SHA256(secret, "<unix>.<body>"), the scheme Stripe and others use.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from activities.channels import NotSent, Refused


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


async def post_message(url: str, secret: str, payload: dict[str, Any], key: str, timeout_s: float) -> str:
    """POST the message; returns the provider's status and reply (first 500 characters)."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        "X-Journeys-Signature": signature(secret, int(time.time()), body),
    }
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.post(url, content=body, headers=headers)
    except httpx.TransportError as exc:
        raise NotSent(f"cannot reach {url}: {exc}") from exc
    reply = f"{response.status_code} {response.text[:500]}".strip()
    if response.status_code == 429 or response.status_code >= 500:
        raise NotSent(f"provider answered {reply}")
    if response.status_code >= 400:
        raise Refused(f"provider refused: {reply}")
    return reply
