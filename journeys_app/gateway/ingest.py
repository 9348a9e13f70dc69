"""What the gateway does with Segment messages: identify upserts the customer, track feeds journeys.

A messageId is handled once: the first delivery is recorded as `processing`, then `done`; a
resend of a `done` message is acknowledged as a duplicate without acting again. A message whose
first delivery failed half-way is processed again on the resend; starts are idempotent anyway
(entry keys), so at worst a running journey sees the event twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from journeys_app.db.customers import upsert_customers
from journeys_app.db.engine import SessionMaker
from journeys_app.db.schema import Customer, IngestedEvent
from journeys_app.db.sql import insert_for
from journeys_app.gateway.protocol import IdentifyMessage, Message, MessageOutcome, TrackMessage
from journeys_app.service import JourneyService
from workflows.models import CustomerEvent

# Segment trait names (and common spellings) → our customer fields; other traits become attributes.
_TRAIT_FIELDS = {
    "first_name": "first_name",
    "firstName": "first_name",
    "email": "email",
    "phone": "phone",
    "tier": "tier",
    "timezone": "timezone",
    "locale": "locale",
    "tags": "tags",
}


class IngestError(ValueError):
    """A message the gateway cannot act on (the message says which and why)."""


def customer_row(message: IdentifyMessage) -> dict[str, Any]:
    assert message.userId is not None
    row: dict[str, Any] = {"id": message.userId}
    attributes: dict[str, Any] = {}
    for trait, value in message.traits.items():
        if trait in _TRAIT_FIELDS:
            row[_TRAIT_FIELDS[trait]] = value
        elif trait in ("consent",) and isinstance(value, dict):
            row["consent"] = value
        else:
            attributes[trait] = value
    if attributes:
        row["attributes"] = attributes
    if not row.get("timezone") and isinstance(message.context.get("timezone"), str):
        row["timezone"] = message.context["timezone"]
    return row


def check(messages: list[Message]) -> None:
    """Refuse the whole request before acting on any message (no half-processed batches)."""
    problems = [
        f"message {i} ({m.type}): userId is required; journeys run for known customers, not anonymousId"
        for i, m in enumerate(messages)
        if isinstance(m, TrackMessage | IdentifyMessage) and not m.userId
    ]
    if problems:
        raise IngestError("; ".join(problems[:20]))


class Ingest:
    def __init__(self, service: JourneyService) -> None:
        self.service = service

    @property
    def sessionmaker(self) -> SessionMaker:
        return self.service.sessionmaker

    async def handle(self, messages: list[Message]) -> list[MessageOutcome]:
        check(messages)
        return [await self._one(m) for m in messages]

    async def _one(self, message: Message) -> MessageOutcome:
        outcome = MessageOutcome(messageId=message.messageId, type=message.type, outcome="processed")
        if not isinstance(message, TrackMessage | IdentifyMessage):
            outcome.outcome = "ignored"
            return outcome
        assert message.userId is not None
        if message.messageId and not await self._claim(message.messageId, message.type, message.userId):
            outcome.outcome = "duplicate"
            return outcome
        if isinstance(message, IdentifyMessage):
            await upsert_customers(self.sessionmaker, [customer_row(message)])
        else:
            event = CustomerEvent(
                name=message.event,
                properties=message.properties,
                message_id=message.messageId,
                timestamp=message.timestamp,
            )
            result = await self.service.event(message.userId, event)
            outcome.started = [t.workflow_id for t in result.triggered if t.started]
            outcome.signalled = result.signalled
        if message.messageId:
            await self._done(message.messageId)
        return outcome

    async def _claim(self, message_id: str, kind: str, customer_id: str) -> bool:
        """True unless this messageId was already processed to the end."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                insert_for(session, IngestedEvent)
                .values(message_id=message_id, kind=kind, customer_id=customer_id, status="processing")
                .on_conflict_do_nothing(index_elements=["message_id"])
            )
            status = await session.scalar(
                select(IngestedEvent.status).where(IngestedEvent.message_id == message_id)
            )
        return status != "done"

    async def _done(self, message_id: str) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(IngestedEvent).where(IngestedEvent.message_id == message_id).values(status="done")
            )

    async def vip_customers(self, customer_ids: set[str]) -> set[str]:
        """Which of these customers are VIP (they keep being served when a key is rate limited)."""
        if not customer_ids:
            return set()
        async with self.sessionmaker() as session:
            rows = await session.scalars(
                select(Customer.id).where(Customer.id.in_(customer_ids), Customer.tier == "vip")
            )
            return set(rows)
