"""Unsubscribe links: signed, per customer and channel, served by the gateway.

Every marketing email carries one (in its footer and as RFC 8058 one-click `List-Unsubscribe`).
Following it sets the channel's consent to false, sends an `unsubscribed` event to the customer's
running journeys (journeys list it in `exit_on` to end their marketing), and is audited.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from journeys_app.db.audit import audit_entry, write_audit
from journeys_app.db.schema import Customer
from journeys_app.settings import Settings

if TYPE_CHECKING:
    from journeys_app.service import JourneyService

SALT = "journeys-unsubscribe"
UNSUBSCRIBED_EVENT = "unsubscribed"


class BadLink(ValueError):
    """The link was altered or signed with another key."""


def _secret(settings: Settings) -> str:
    """JOURNEYS_LINK_SECRET, or one made once and kept in the state folder (one host only)."""
    if settings.link_secret:
        return settings.link_secret
    path = settings.state_dir / "link_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


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


async def unsubscribe(service: JourneyService, token: str) -> tuple[str, str, list[str]]:
    """Withdraw consent and tell running journeys; returns (customer, channel, journeys told)."""
    from workflows.models import CustomerEvent

    settings = service.settings
    customer_id, channel = read_token(settings, token)
    async with service.sessionmaker() as session, session.begin():
        row = (await session.scalars(select(Customer).where(Customer.id == customer_id))).one_or_none()
        if row is not None:
            row.consent = {**(row.consent or {}), channel: False}
        await write_audit(
            session,
            **audit_entry(
                "customer",
                "unsubscribed",
                input={"customer_id": customer_id, "channel": channel},
                output_summary=f"{channel} marketing consent withdrawn through the unsubscribe link",
                customer_id=customer_id,
                details={"channel": channel, "known_customer": row is not None},
            ),
        )
    told = await service.event(
        customer_id, CustomerEvent(name=UNSUBSCRIBED_EVENT, properties={"channel": channel})
    )
    return customer_id, channel, told.signalled
