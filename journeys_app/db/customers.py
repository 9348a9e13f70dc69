"""Import customers (the YAML samples, or rows from the MA system) into the store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from activities.contracts import CustomerProfile
from journeys_app.db.engine import SessionMaker
from journeys_app.db.schema import Customer, utcnow
from journeys_app.db.sql import insert_for

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
# re-import of the same file), so a re-import only sets them on new customers.
JOURNEY_OWNED_FIELDS = frozenset({"consent", "tags"})


def _validate(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(row, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(row).__name__}")
    if not row.get("id"):
        raise ValueError(f"{where}: customer without an id")
    unknown = set(row) - {"id", *CUSTOMER_FIELDS}
    if unknown:
        raise ValueError(
            f"{where} ({row['id']}): unknown field(s) {sorted(unknown)}; "
            f"allowed: id, {', '.join(CUSTOMER_FIELDS)}"
        )
    for name in ("attributes", "consent"):
        if name in row and not isinstance(row[name], Mapping):
            raise ValueError(f"{where} ({row['id']}): {name} must be a mapping")
    if "tags" in row and not isinstance(row["tags"], list):
        raise ValueError(f"{where} ({row['id']}): tags must be a list")
    out = dict(row)
    out["id"] = str(out["id"])
    if "consent" in out:
        out["consent"] = {str(k): bool(v) for k, v in out["consent"].items()}
    if "phone" in out and out["phone"] is not None:
        out["phone"] = str(out["phone"])
    return out


def load_customers_file(path: str | Path) -> list[dict[str, Any]]:
    """Read a YAML list of customers, failing early with the file and entry on bad rows."""
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of customers")
    return [_validate(row, f"{path}[{i}]") for i, row in enumerate(data)]


async def upsert_customers(sessionmaker: SessionMaker, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert new customers and refresh existing ones; importing the same rows twice is a no-op.

    Returns the number of rows written. Consent and tags of existing customers are kept.
    """
    count = 0
    async with sessionmaker() as session, session.begin():
        for i, raw in enumerate(rows):
            row = _validate(raw, f"row {i}")
            now = utcnow()
            stmt = insert_for(session, Customer).values(**row, created_at=now, updated_at=now)
            updates = {
                name: stmt.excluded[name]
                for name in CUSTOMER_FIELDS
                if name in row and name not in JOURNEY_OWNED_FIELDS
            }
            updates["updated_at"] = stmt.excluded.updated_at
            await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=updates))
            count += 1
    return count


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
