"""Read customer files from the MA system (CSV or JSON Lines): bad rows are reported, good rows kept.

CSV columns: `id` (required), `first_name`, `email`, `phone`, `tier`, `timezone`, `locale`,
`consent_email`/`consent_sms`/`consent_push` (true/false, yes/no, 1/0, opted_in/opted_out), `tags`
(separated by `;`); any other column becomes an attribute (numbers are read as numbers). JSON Lines:
one object per line, shaped like `journeys/samples/customers.yaml`.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from journeys_app.store.customers import CONSENT_CHANNELS, parse_consent, validate_customer

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,20}$")


class CustomerRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    first_name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=32)
    tier: Literal["standard", "vip"] = "standard"
    timezone: str = "UTC"
    locale: str = Field(default="en", max_length=16)
    attributes: dict[str, Any] = Field(default_factory=dict)
    consent: dict[Literal["email", "sms", "push"], Annotated[bool, BeforeValidator(parse_consent)]] = Field(
        default_factory=dict
    )
    tags: list[str] = Field(default_factory=list)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value or None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value and not _PHONE.match(value):
            raise ValueError("not a phone number (digits, optional +, spaces, dashes)")
        return value or None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name like Europe/Paris") from None
        return value


@dataclass
class ImportReport:
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


def _number(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _from_csv(record: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {"attributes": {}, "consent": {}}
    for column, raw in record.items():
        if column is None:
            raise ValueError("more values than columns")
        value = (raw or "").strip()
        if column.startswith("consent_") and column.removeprefix("consent_") in CONSENT_CHANNELS:
            if value:
                try:
                    row["consent"][column.removeprefix("consent_")] = parse_consent(value)
                except ValueError as exc:
                    raise ValueError(f"{column}: {exc}") from None
        elif column == "tags":
            row["tags"] = [t.strip() for t in value.split(";") if t.strip()]
        elif column in CustomerRow.model_fields:
            if value:
                row[column] = value
        elif value:
            row["attributes"][column] = _number(value)
    return row


def _message(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


def read_customer_file(path: Path) -> ImportReport:
    """Parse and check every row; the report keeps the good rows and says what is wrong with the rest."""
    report = ImportReport()
    seen: dict[str, int] = {}
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or "id" not in reader.fieldnames:
            report.errors.append((1, "the header needs an `id` column"))
            return report
        items = ((reader.line_num, lambda r=r: _from_csv(r)) for r in reader)
    elif path.suffix.lower() in {".jsonl", ".ndjson"}:
        items = (
            (n, lambda line=line: json.loads(line))
            for n, line in enumerate(text.splitlines(), 1)
            if line.strip()
        )
    else:
        report.errors.append((0, f"{path.name}: use a .csv or .jsonl file"))
        return report
    for line, parse in items:
        try:
            row = validate_customer(CustomerRow.model_validate(parse()).model_dump())
        except (ValueError, TypeError, RecursionError) as exc:  # json, csv, pydantic and store errors
            report.errors.append((line, _message(exc) if isinstance(exc, ValidationError) else str(exc)))
            continue
        if row["id"] in seen:
            report.errors.append((line, f"customer {row['id']} already appears on line {seen[row['id']]}"))
            continue
        seen[row["id"]] = line
        report.rows.append(row)
    return report
