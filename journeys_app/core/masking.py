"""Masking of personal data (phone numbers, email addresses) for logs and the audit log.

`138****5678` for phone numbers (first 3 and last 4 digits of the national number kept),
`j***@example.com` for email addresses. `mask_text` finds both inside free text; dates
(`2026-05-17`, `17/05/2026`) and identifiers glued to letters or `#`/`-` (`ORD-20260517-0042`,
`#100234567`) are left alone. A bare run of 7 to 15 digits is taken for a phone number: over-masking
an order number is the safe side of that mistake.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Container
from typing import Any

# ITU-T E.164 country codes that are two digits long; 1 and 7 are one digit, the rest three.
_TWO_DIGIT_CC = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split()
)
MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 15

_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
# Dates come first in the alternation so that a date is consumed (and kept) before the phone
# pattern can see its digits.
_DATE = r"\b(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})\b"
# Optional +, then digits with single spaces, dashes or parentheses between them; not glued to a
# word, a `#`, `/`, `.`, `-` or `+` before it, nor to a word character after it.
_PHONE = r"(?<![\w#/.+\-])\+?\(?\d(?:[ \-]?\)?[ \-]?\(?\d)+\)?(?!\w)"
_PII = re.compile(f"(?P<date>{_DATE})|(?P<email>{_EMAIL})|(?P<phone>{_PHONE})")


def _country_code_length(digits: str) -> int:
    if digits[:1] in ("1", "7"):
        return 1
    return 2 if digits[:2] in _TWO_DIGIT_CC else 3


def _mask_national(national: str) -> str:
    """Keep the first 3 and last 4 digits of a long number; fewer of a short one (≥ 3 stay hidden)."""
    n = len(national)
    head = min(3, max(0, n - 7))
    tail = min(4, max(2, n - 5))
    if head + tail >= n:
        head, tail = 0, max(0, n - 3)
    return f"{national[:head]}****{national[len(national) - tail :] if tail else ''}"


def mask_phone(phone: str) -> str:
    """`+8613812345678` → `+86138****5678`; `138 1234 5678` → `138****5678`.

    With a leading `+` the country code is kept and the rest is the national number; separators
    are dropped. A value with too few digits to be a phone number is masked whole.
    """
    text = phone.strip()
    digits = re.sub(r"\D", "", text)
    if len(digits) < 3:
        return "****"
    if text.startswith("+") and len(digits) > MIN_PHONE_DIGITS:
        cc = digits[: _country_code_length(digits)]
        return f"+{cc}{_mask_national(digits[len(cc) :])}"
    return _mask_national(digits)


def mask_email(email: str) -> str:
    """`jane.doe@example.com` → `j***@example.com` (the domain is kept)."""
    local, at, domain = email.strip().rpartition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def _replace(match: re.Match[str]) -> str:
    if match.group("date"):
        return match.group(0)
    if match.group("email"):
        return mask_email(match.group(0))
    found = match.group(0)
    if not MIN_PHONE_DIGITS <= sum(c.isdigit() for c in found) <= MAX_PHONE_DIGITS:
        return found
    return mask_phone(found)


def mask_text(text: str) -> str:
    """Every email address and phone number in `text`, masked; the rest unchanged."""
    if not text:
        return text
    return _PII.sub(_replace, text)


def mask_values(value: Any, keep: Container[str] = ()) -> Any:
    """Every string in a JSON-like value masked, keys too; top-level keys in `keep` keep their value."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {mask_text(str(k)): v if k in keep else mask_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_values(v) for v in value]
    return value


class PiiMaskingFilter(logging.Filter):
    """Masks phone numbers and emails in a record's message, its format arguments included.

    Installed on the root handlers, so it sees every record that reaches them. It never drops a
    record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string: mask what is there and keep the args out
            message = f"{record.msg} {record.args}"
        masked = mask_text(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True
