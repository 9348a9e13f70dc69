"""Unsubscribe links: signed, per customer and channel, served by the gateway.

Every marketing email carries one (in its footer and as RFC 8058 one-click `List-Unsubscribe`).
Following it sets the channel's consent to false, sends an `unsubscribed` event to the customer's
running journeys (journeys list it in `exit_on` to end their marketing), and is audited.
"""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, URLSafeSerializer

from journeys_app.core.settings import Settings
from journeys_app.core.state_secrets import kept_secret

SALT = "journeys-unsubscribe"
UNSUBSCRIBED_EVENT = "unsubscribed"


class BadLink(ValueError):
    """The link was altered or signed with another key."""


def _secret(settings: Settings) -> str:
    """JOURNEYS_LINK_SECRET, or one made once and kept in the state folder (one host only)."""
    if settings.link_secret:
        return settings.link_secret
    return kept_secret(settings.state_dir / "link_secret", lambda: secrets.token_urlsafe(32))


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(_secret(settings), salt=SALT)


def unsubscribe_url(settings: Settings, customer_id: str, channel: str) -> str:
    token = _serializer(settings).dumps({"c": customer_id, "ch": channel})
    return f"{settings.public_url.rstrip('/')}/u/{token}"


def read_token(settings: Settings, token: str) -> tuple[str, str]:
    """(customer id, channel) from a token this deployment signed."""
    try:
        data = _serializer(settings).loads(token)
    except BadSignature as exc:
        raise BadLink("this unsubscribe link is not valid (it was changed or has expired keys)") from exc
    return str(data["c"]), str(data["ch"])
