"""Import customers (the YAML samples, or rows from the MA system) into the store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from activities.contracts import CustomerProfile
from journeys_app.store.engine import SessionMaker
from journeys_app.store.schema import Customer, utcnow
from journeys_app.store.sql import insert_for
from journeys_app.store.storable import storable_problems

# Fields an import may set; `id` is the key.
CUSTOMER_FIELDS = (
    "first_name",
    "email",
    "phone",
    "tier",
    "timezone",
    "locale",
    "attributes",
    "consent",
    "tags",
)
# Owned by journeys once the customer exists (an opt-out or a tag set by a journey must survive a
# re-import of the same file), so a re-import sets them on new customers only; of consent, an
# existing customer's withdrawals are applied too (see `write_customers`).
JOURNEY_OWNED_FIELDS = frozenset({"consent", "tags"})
CONSENT_CHANNELS = ("email", "sms", "push")
_CONSENT_YES = frozenset({"true", "yes", "y", "1", "opted_in", "opt_in", "granted"})
_CONSENT_NO = frozenset({"false", "no", "n", "0", "opted_out", "opt_out", "revoked", "denied"})


def parse_consent(value: Any) -> bool:
    """A consent answer read strictly: a customer's "no" must never become True by truthiness."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _CONSENT_YES | _CONSENT_NO:
        return value.strip().lower() in _CONSENT_YES
    raise ValueError(f"{value!r} is not a consent answer; use true/false, yes/no, 1/0 or opted_in/opted_out")


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Paris") from None
    return value


def _consent(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value  # pydantic says "should be a valid dictionary"
    unknown = sorted(str(k) for k in value if k not in CONSENT_CHANNELS)
    if unknown:
        raise ValueError(f"unknown channel(s) {unknown}; consent is given per {', '.join(CONSENT_CHANNELS)}")
    return value


def _phone(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Text = Annotated[str, Field(max_length=200)]


class CustomerFields(BaseModel):
    """The fields of a customer as imported or identified; only the fields given are written."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=200)]
    first_name: Text = ""
    email: Annotated[str, Field(max_length=320)] | None = None
    phone: Annotated[str, BeforeValidator(_phone), Field(max_length=32)] | None = None
    tier: Annotated[str, Field(min_length=1, max_length=50)] = "standard"
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    locale: Annotated[str, Field(max_length=35)] = "en"
    attributes: dict[str, Any] = Field(default_factory=dict)
    consent: Annotated[
        dict[str, Annotated[bool, BeforeValidator(parse_consent)]], BeforeValidator(_consent)
    ] = Field(default_factory=dict)
    tags: list[Text] = Field(default_factory=list)


class CustomerRowError(ValueError):
    """A customer row that cannot be stored: (field, problem) pairs, the field as the row names it."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in problems))


_KINDS = {
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "an object",
    "bool_type": "true or false",
}


def _friendly(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return f"unknown field; allowed: id, {', '.join(CUSTOMER_FIELDS)}"
    if error["type"] in _KINDS:
        given = "null" if error["input"] is None else type(error["input"]).__name__
        return f"must be {_KINDS[error['type']]}, not {given}"
    return str(error["msg"]).removeprefix("Value error, ")


def validate_customer(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row's fields, checked and normalised (only those given); raises CustomerRowError."""
    if not isinstance(row, Mapping):
        raise CustomerRowError([("row", f"expected a mapping, got {type(row).__name__}")])
    if problems := storable_problems(dict(row), ""):
        raise CustomerRowError(problems)
    row = {**row, "id": str(row["id"])} if isinstance(row.get("id"), int | str) else row
    try:
        fields = CustomerFields.model_validate(row)
    except ValidationError as exc:
        raise CustomerRowError(
            [(".".join(str(p) for p in e["loc"]) or "row", _friendly(e)) for e in exc.errors()]
        ) from None
    return fields.model_dump(exclude_unset=True) | {"id": fields.id}


def _validate(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    try:
        return validate_customer(row)
    except CustomerRowError as exc:
        named = f"{where} ({row['id']})" if isinstance(row, Mapping) and row.get("id") else where
        raise ValueError(f"{named}: {exc}") from None


def load_customers_file(path: str | Path) -> list[dict[str, Any]]:
    """Read a YAML list of customers, failing early with the file and entry on bad rows."""
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of customers")
    return [_validate(row, f"{path}[{i}]") for i, row in enumerate(data)]


async def upsert_customers(sessionmaker: SessionMaker, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert new customers and refresh existing ones; importing the same rows twice is a no-op.

    Returns the number of rows written. Consent and tags of existing customers are kept. Every row
    is checked first, so one bad row writes nothing.
    """
    checked = [_validate(raw, f"row {i}") for i, raw in enumerate(rows)]
    async with sessionmaker() as session, session.begin():
        await write_customers(session, checked)
    return len(checked)


async def write_customers(session: AsyncSession, rows: Iterable[dict[str, Any]]) -> None:
    """Upsert rows already checked by `validate_customer`, inside the caller's transaction.

    For an existing customer, a withdrawal of consent (False) always applies, while a grant
    applies only to a channel the customer has no answer for yet: an opt-out made through a
    journey or an unsubscribe link is never undone by a stale import or identify.
    """
    rows = list(rows)
    with_consent = [row["id"] for row in rows if row.get("consent")]
    current: dict[str, dict[str, bool]] = {}
    if with_consent:
        found = await session.execute(
            select(Customer.id, Customer.consent).where(Customer.id.in_(with_consent))
        )
        current = {cid: dict(consent or {}) for cid, consent in found.all()}
    for row in rows:
        now = utcnow()
        if row["id"] in current:
            before = current[row["id"]]
            row = {
                **row,
                "consent": before | {ch: v for ch, v in row["consent"].items() if not v or ch not in before},
            }
        stmt = insert_for(session, Customer).values(**row, created_at=now, updated_at=now)
        updates = {
            name: stmt.excluded[name]
            for name in CUSTOMER_FIELDS
            if name in row
            and (name not in JOURNEY_OWNED_FIELDS or (name == "consent" and row["id"] in current))
        }
        updates["updated_at"] = stmt.excluded.updated_at
        await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=updates))


def to_profile(customer: Customer) -> CustomerProfile:
    """The journey's view of a customer: everything but contact details (email, phone)."""
    return CustomerProfile(
        id=customer.id,
        first_name=customer.first_name or "",
        tier=customer.tier,
        timezone=customer.timezone,
        locale=customer.locale,
        attributes=dict(customer.attributes or {}),
        consent=dict(customer.consent or {}),
        tags=list(customer.tags or []),
    )
