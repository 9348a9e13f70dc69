"""Masking of phone numbers and email addresses, alone, in free text, and in log records."""

from __future__ import annotations

import logging

import pytest

from journeys_app.core.masking import PiiMaskingFilter, mask_email, mask_phone, mask_text


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("+86 138 1234 5678", "+86138****5678"),
        ("+86-138-1234-5678", "+86138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+1 (415) 555-0134", "+1415****0134"),
        ("(415) 555-0134", "415****0134"),
        ("+44 20 7946 0958", "+44207****0958"),
    ],
)
def test_mask_phone_keeps_first_three_and_last_four_national_digits(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_mask_phone_hides_at_least_three_digits_of_short_numbers() -> None:
    for phone in ("5550134", "555013"):
        masked = mask_phone(phone)
        assert "****" in masked
        assert sum(c.isdigit() for c in masked) <= len(phone) - 3


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("jane.doe@example.com", "j***@example.com"),
        ("a@b.co", "a***@b.co"),
        ("Chen.Wei+promo@mail.example.cn", "C***@mail.example.cn"),
    ],
)
def test_mask_email_keeps_first_letter_and_domain(email: str, masked: str) -> None:
    assert mask_email(email) == masked


def test_mask_text_masks_every_email_and_phone() -> None:
    text = "Reach me at jane.doe@example.com or +86 138-1234-5678, backup 13987654321 / ops@corp.example.org."
    assert mask_text(text) == (
        "Reach me at j***@example.com or +86138****5678, backup 139****4321 / o***@corp.example.org."
    )


def test_mask_text_leaves_order_ids_dates_times_and_amounts_alone() -> None:
    text = (
        "Order ORD-20260517-0042 (#100234567) placed 2026-05-17 and shipped 17/05/2026 at 10:30, "
        "ref A1234567890, total 1,234.50, ip 192.168.1.100, qty 12"
    )
    assert mask_text(text) == text


def test_mask_text_is_idempotent_and_handles_empty() -> None:
    once = mask_text("jane@example.com 13812345678")
    assert mask_text(once) == once == "j***@example.com 138****5678"
    assert mask_text("") == ""


def test_logging_filter_masks_message_and_args(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.masking")
    handler = caplog.handler
    handler.addFilter(PiiMaskingFilter())
    try:
        with caplog.at_level(logging.INFO, logger="tests.masking"):
            logger.info("sent to %s and %s", "jane.doe@example.com", "+8613812345678")
            logger.info("customer wrote: call 138 1234 5678 about order ORD-20260517-0042")
    finally:
        handler.removeFilter(handler.filters[-1])
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "sent to j***@example.com and +86138****5678",
        "customer wrote: call 138****5678 about order ORD-20260517-0042",
    ]
    assert "jane.doe" not in caplog.text and "12345678" not in caplog.text


def test_setup_logging_installs_the_filter_on_root_handlers(tmp_path: object) -> None:
    from journeys_app.core.settings import Settings
    from journeys_app.core.telemetry import setup_logging

    root = logging.getLogger()
    added = logging.StreamHandler()
    root.addHandler(added)
    try:
        setup_logging(Settings(_env_file=None))
        setup_logging(Settings(_env_file=None))  # twice: still one filter
        assert sum(isinstance(f, PiiMaskingFilter) for f in added.filters) == 1
    finally:
        root.removeHandler(added)
