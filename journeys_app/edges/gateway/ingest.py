"""What the gateway does with Segment messages: check them all, store them at once, then route.

1. Check: every message of a request is checked before anything is written: its shape, text the
   store can hold, the customer fields of an identify, and for a track the trigger filter and entry
   key of every journey it would start. One problem refuses the whole request, naming each message
   and field (`IngestError`, a 400).
2. Store: one transaction claims each messageId and upserts the identified customers; requests
   that arrive while one is written share the next (a group commit). Claims are scoped as Segment
   dedupes (per source, the API key's name, and per customer); a messageId already claimed, in an
   earlier request or earlier in this one, answers `duplicate`, atomically, however many copies
   arrive at once. A track that starts nothing and reaches no running journey (the same
   transaction reads the customers' active runs first) is claimed as done: it costs that one
   transaction and never reaches Temporal.
3. Route: each claimed track is signalled to the customer's running journeys that react to it
   (a wait for it, exit_on, goal; an event no run reacts to never reaches Temporal) and starts the
   journeys it triggers. When Temporal fails here, the claims of the messages not yet routed are
   released and the request answers 503, so the client's retry routes them; starts are idempotent
   (entry keys) and runs ignore event ids they have already seen, so nothing happens twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from journeys_app.core.batching import MicroBatcher
from journeys_app.edges.gateway.protocol import (
    IdentifyMessage,
    IngestProblem,
    Message,
    MessageOutcome,
    TrackMessage,
)
from journeys_app.service.journey_service import EntryKeyError, JourneyService, TriggerFilterError
from journeys_app.store import queries
from journeys_app.store.customers import CustomerRowError, validate_customer, write_customers
from journeys_app.store.engine import SessionMaker
from journeys_app.store.goal_events import record_goal_events
from journeys_app.store.schema import Customer, IngestedEvent, utcnow
from journeys_app.store.sql import insert_if_absent
from journeys_app.store.storable import storable_problems
from workflows.models import CustomerEvent
from workflows.validation import LoadedJourney

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
    "consent": "consent",
}
# A claim older than this whose routing never finished (its gateway died) may be taken over.
CLAIM_LEASE = timedelta(seconds=60)
_CLAIM_CHUNK = 500  # rows per INSERT, well inside SQLite's limit on bound parameters
_MESSAGE = TypeAdapter(Message)


class IngestError(ValueError):
    """Messages the gateway refuses, each problem naming the message and the field."""

    def __init__(self, problems: list[IngestProblem]):
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(shown + more)


class IngestUnavailable(RuntimeError):
    """Temporal failed while routing; the messages not yet routed were released for a retry."""


@dataclass(eq=False)
class _Checked:
    index: int
    message: Message
    row: dict[str, Any] | None = None  # identify: the customer fields to write
    event: CustomerEvent | None = None  # track: the event to route
    journeys: list[LoadedJourney] = field(default_factory=list)  # track: the journeys it starts
    inert: bool = False  # track: starts nothing and no run reacts to it, so it is done when stored

    @property
    def claim_key(self) -> tuple[str, str] | None:
        return (self.message.userId or "", self.message.messageId) if self.message.messageId else None


@dataclass
class _Request:
    """One request's messages, checked, on their way to the store."""

    source: str
    checked: list[_Checked]
    tracks: list[_Checked]


def customer_row(message: IdentifyMessage) -> tuple[dict[str, Any], dict[str, str]]:
    """The identify's customer fields, and each field's name in the message (for errors)."""
    assert message.userId is not None
    row: dict[str, Any] = {"id": message.userId}
    names = {"id": "userId"}
    attributes: dict[str, Any] = {}
    for trait, value in message.traits.items():
        if trait in _TRAIT_FIELDS:
            row[_TRAIT_FIELDS[trait]] = value
            names[_TRAIT_FIELDS[trait]] = f"traits.{trait}"
        else:
            attributes[trait] = value
    if attributes:
        row["attributes"] = attributes
        names["attributes"] = "traits"
    if "timezone" not in row and isinstance(message.context.get("timezone"), str):
        row["timezone"] = message.context["timezone"]
        names["timezone"] = "context.timezone"
    return row, names


def _renamed(where: str, names: dict[str, str]) -> str:
    head, dot, rest = where.partition(".")
    if head == "attributes" and rest:
        return f"traits.{rest}"
    return names.get(head, head) + (dot + rest if head in names and rest else "")


class Ingest:
    def __init__(self, service: JourneyService) -> None:
        self.service = service
        # One transaction at a time per process, and the requests that arrive while it runs go
        # together in the next: a transaction costs about as much for eight requests as for one
        # (and SQLite has one writer at a time anyway). A request whose write fails is written
        # again alone, so it costs the others nothing.
        self._writes: MicroBatcher[_Request, tuple[set[int], dict[str, list[queries.ActiveRun]]]] = (
            MicroBatcher(self._store_together, max_batch=16, max_wait_ms=0, isolate_failures=True)
        )

    @property
    def sessionmaker(self) -> SessionMaker:
        return self.service.sessionmaker

    # ------------------------------------------------------------------ 1. check
    def parse(self, items: list[Any]) -> list[Message]:
        """Segment messages from raw JSON objects; every problem of every message, or none."""
        problems: list[IngestProblem] = []
        messages: list[Message] = []
        for i, item in enumerate(items):
            kind = str(item.get("type", "?")) if isinstance(item, dict) else "?"
            if not isinstance(item, dict):
                problems.append(IngestProblem(message=i, type=kind, at="", problem="must be a JSON object"))
                continue
            found = [
                IngestProblem(message=i, type=kind, at=at, problem=p) for at, p in storable_problems(item, "")
            ]
            if not found:
                try:
                    messages.append(_MESSAGE.validate_python(item))
                except ValidationError as exc:
                    found = [
                        IngestProblem(message=i, type=kind, at=_field(e["loc"]), problem=_plain(e))
                        for e in exc.errors(include_url=False)
                    ]
            problems += found
        if problems:
            raise IngestError(problems)
        return messages

    async def check(self, messages: list[Message]) -> list[_Checked]:
        """What each message will do; raises IngestError before anything is written."""
        problems: list[IngestProblem] = []
        checked: list[_Checked] = []
        identified: dict[str, dict[str, Any]] = {}  # customers identified earlier in this request
        known: dict[str, dict[str, Any]] = {}
        for i, message in enumerate(messages):
            item = _Checked(i, message)
            checked.append(item)

            def problem(at: str, text: str, i: int = i, message: Message = message) -> None:
                problems.append(IngestProblem(message=i, type=message.type, at=at, problem=text))

            if not isinstance(message, TrackMessage | IdentifyMessage):
                continue
            if not message.userId:
                problem("userId", "is required; journeys run for known customers, not anonymousId")
                continue
            if isinstance(message, IdentifyMessage):
                row, names = customer_row(message)
                try:
                    item.row = validate_customer(row)
                except CustomerRowError as exc:
                    for where, text in exc.problems:
                        problem(_renamed(where, names), text)
                    continue
                identified[message.userId] = {**identified.get(message.userId, {}), **item.row}
                continue
            item.event = CustomerEvent(
                name=message.event,
                properties=message.properties,
                message_id=message.messageId,
                timestamp=message.timestamp,
            )
            if not any(j.spec.trigger.event == message.event for j in self.service.catalog.values()):
                continue
            if message.userId not in known:
                known[message.userId] = await queries.customer_context(self.sessionmaker, message.userId)
            customer = _overlay(known[message.userId], identified.get(message.userId, {}))
            try:
                item.journeys = self.service.triggered_by(message.userId, item.event, customer)
            except (EntryKeyError, TriggerFilterError) as exc:
                problem(", ".join(exc.fields) or "event", str(exc))
        if problems:
            raise IngestError(problems)
        return checked

    # ------------------------------------------------------------------ 2. store
    async def _store(
        self, source: str, checked: list[_Checked], tracks: list[_Checked]
    ) -> tuple[set[int], dict[str, list[queries.ActiveRun]]]:
        """Claim every messageId and upsert identified customers, all or nothing.

        Returns the indexes of the messages this request acts on (claimed here, or without an id)
        and the active runs of the tracks' customers.
        """
        return await self._writes.submit(_Request(source, checked, tracks))

    async def _store_together(
        self, requests: Sequence[_Request]
    ) -> list[tuple[set[int], dict[str, list[queries.ActiveRun]]]]:
        """The stores of requests that arrived together, in one transaction (a group commit).

        A messageId is claimed by the first message that carries it, in this group or before:
        the copies answer `duplicate`, in another request or in the same one.
        """
        now = utcnow()
        async with self.sessionmaker() as session, session.begin():
            # One query for the active runs of every customer here, before the claims (on SQLite
            # it takes no write lock): a message that starts nothing and reaches no run is claimed
            # as done, so it costs this one transaction.
            runs = await queries.active_runs_in(
                session, {c.message.userId for r in requests for c in r.tracks if c.message.userId}
            )
            first: dict[tuple[str, str, str], _Checked] = {}
            for request in requests:
                self._mark_inert(request.tracks, runs)
                for c in request.checked:
                    if c.claim_key and isinstance(c.message, TrackMessage | IdentifyMessage):
                        first.setdefault((request.source, *c.claim_key), c)
            owned = await self._claim(session, first, now)
            # `owned` holds only first carriers, so a copy is never acting.
            acting = [{c.index for c in r.checked if c.claim_key is None or c in owned} for r in requests]
            goals = self.service.goal_events
            await record_goal_events(
                session,
                [
                    (c.message.userId, *c.event.occurrence())
                    for r, indexes in zip(requests, acting, strict=True)
                    for c in r.tracks
                    if c.index in indexes and c.event is not None and c.event.name in goals
                ],
            )
            await write_customers(
                session,
                [
                    c.row
                    for r, indexes in zip(requests, acting, strict=True)
                    for c in r.checked
                    if c.row is not None and c.index in indexes
                ],
            )
        # Each request its own lists: routing adds the runs it starts to them.
        return [
            (indexes, {c.message.userId: list(runs[c.message.userId]) for c in r.tracks if c.message.userId})
            for r, indexes in zip(requests, acting, strict=True)
        ]

    async def _claim(
        self, session: AsyncSession, first: dict[tuple[str, str, str], _Checked], now: datetime
    ) -> set[_Checked]:
        """Claim these messages' ids; the messages whose claim this transaction holds."""
        owned: set[_Checked] = set()
        keys = list(first)
        for start in range(0, len(keys), _CLAIM_CHUNK):
            chunk = keys[start : start + _CLAIM_CHUNK]
            rows = [
                {
                    "source": key[0],
                    "customer_id": key[1],
                    "message_id": key[2],
                    "kind": first[key].message.type,
                    "status": _claim_status(first[key]),
                    "received_at": now,
                    "claimed_at": now,
                }
                for key in chunk
            ]
            added = await insert_if_absent(
                session,
                IngestedEvent,
                rows,
                key=["source", "customer_id", "message_id"],
                returning=[IngestedEvent.source, IngestedEvent.customer_id, IngestedEvent.message_id],
            )
            new = {tuple(r) for r in added}
            owned |= {first[key] for key in chunk if key in new}
            for key in chunk:  # claimed before: take it over only if that claim is stale
                if key in new:
                    continue
                taken = await session.execute(
                    update(IngestedEvent)
                    .where(
                        IngestedEvent.source == key[0],
                        IngestedEvent.customer_id == key[1],
                        IngestedEvent.message_id == key[2],
                        IngestedEvent.status == "processing",
                        IngestedEvent.claimed_at < now - CLAIM_LEASE,
                    )
                    .values(claimed_at=now, status=_claim_status(first[key]))
                )
                if taken.rowcount == 1:
                    owned.add(first[key])
        return owned

    async def _release(self, source: str, keys: list[tuple[str, str]]) -> None:
        """Forget claims whose routing did not happen, so a resend acts on them."""
        if not keys:
            return
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                delete(IngestedEvent).where(
                    IngestedEvent.source == source,
                    tuple_(IngestedEvent.customer_id, IngestedEvent.message_id).in_(keys),
                )
            )

    async def _done(self, source: str, keys: list[tuple[str, str]]) -> None:
        if not keys:
            return
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(IngestedEvent)
                .where(
                    IngestedEvent.source == source,
                    tuple_(IngestedEvent.customer_id, IngestedEvent.message_id).in_(keys),
                )
                .values(status="done")
            )

    # ------------------------------------------------------------------ 3. route
    async def handle(self, source: str, messages: list[Message]) -> list[MessageOutcome]:
        """Check, store and route one request's messages (see the module docstring)."""
        checked = await self.check(messages)
        tracks = [c for c in checked if c.event is not None and c.message.userId]
        acting, runs = await self._store(source, checked, tracks)
        outcomes = [
            MessageOutcome(
                messageId=c.message.messageId,
                type=c.message.type,
                outcome="ignored"
                if not isinstance(c.message, TrackMessage | IdentifyMessage)
                else ("processed" if c.index in acting else "duplicate"),
            )
            for c in checked
        ]
        # Runs started below join `runs`, so a later message of the same request reaches a run an
        # earlier one started.
        to_route = [c for c in tracks if c.index in acting and not c.inert]
        routed: list[tuple[str, str]] = []
        for position, item in enumerate(to_route):
            assert item.event is not None and item.message.userId is not None
            customer_runs = runs[item.message.userId]
            try:
                result = await self.service.route(
                    item.message.userId, item.event, item.journeys, customer_runs
                )
            except Exception as exc:
                await self._done(source, routed)
                await self._release(source, [c.claim_key for c in to_route[position:] if c.claim_key])
                raise IngestUnavailable(
                    f"routing message {item.index} failed ({type(exc).__name__}: {exc}); "
                    f"{position} of {len(to_route)} events were routed, the rest not: send the request again"
                ) from exc
            if item.claim_key:
                routed.append(item.claim_key)
            customer_runs += [
                queries.ActiveRun(
                    workflow_id=t.workflow_id,
                    journey_id=t.journey_id,
                    spec_hash=self.service.catalog[t.journey_id].spec_hash,
                )
                for t in result.triggered
                if t.started
            ]
            outcome = outcomes[item.index]
            outcome.started = [t.workflow_id for t in result.triggered if t.started]
            outcome.signalled = result.signalled
        await self._done(source, routed)
        return outcomes

    def _mark_inert(self, tracks: list[_Checked], runs: dict[str, list[queries.ActiveRun]]) -> None:
        # A customer for whom this request starts a journey: the run may react to later messages.
        starting = {c.message.userId for c in tracks if c.journeys}
        for c in tracks:
            assert c.event is not None and c.message.userId is not None
            c.inert = c.message.userId not in starting and not any(
                self.service.listens(run, c.event.name) for run in runs[c.message.userId]
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


def _claim_status(item: _Checked) -> str:
    """An identify is applied in the claim's transaction, an inert track has nothing left to do."""
    return "done" if item.row is not None or item.inert else "processing"


_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})


def _field(loc: tuple[Any, ...]) -> str:
    """A pydantic location as the message names it (without the union's type tag)."""
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in _TYPES else loc)]
    return ".".join(parts) or "type"


def _plain(error: Any) -> str:
    if error["type"] == "union_tag_invalid":
        return f"unknown type; Segment's types are {', '.join(sorted(_TYPES))}"
    return str(error["msg"]).removeprefix("Value error, ")


def _overlay(customer: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """The customer as trigger filters see it once an identify earlier in the request is applied."""
    merged = {**customer, **{k: v for k, v in row.items() if k not in ("email", "phone", "attributes")}}
    if "attributes" in row:
        merged["attributes"] = {**customer.get("attributes", {}), **row["attributes"]}
    return merged
