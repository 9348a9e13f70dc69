"""Sandboxed expressions: what journeys can compute, and what they cannot reach."""

from __future__ import annotations

from datetime import timedelta

import pytest

from workflows.durations import format_duration, parse_duration
from workflows.expressions import ExpressionError, condition_names, evaluate, render
from workflows.steps.split import bucket
from workflows.steps.wait import until_window

CONTEXT = {
    "intent": {"label": "complaint", "confidence": 0.8},
    "customer": {"tier": "vip", "first_name": "Ava"},
}


def test_conditions_and_templates():
    assert evaluate("intent.label == 'complaint' and customer.tier == 'vip'", CONTEXT) is True
    assert evaluate("intent.confidence < 0.5", CONTEXT) is False
    assert render("Hi {{ customer.first_name | upper }}", CONTEXT) == "Hi AVA"
    assert condition_names("intent.label == value.band") == {"intent", "value"}


def test_undefined_names_fail_clearly_at_run_time():
    with pytest.raises(ExpressionError, match="score"):
        evaluate("score.value > 0.5", CONTEXT)


@pytest.mark.parametrize(
    "attack",
    [
        "''.__class__.__mro__[1].__subclasses__()",
        "customer.__class__",
        "customer['__init__']",
        "lipsum.__globals__",
        "cycler.__init__.__globals__.os",
    ],
)
def test_sandbox_escapes_are_rejected(attack):
    with pytest.raises(ExpressionError):
        evaluate(attack, {**CONTEXT, "lipsum": None, "cycler": None})


def test_hostile_template_methods_are_blocked_at_run_time():
    with pytest.raises(ExpressionError):
        render("{{ customer.clear() }}", {"customer": {"a": 1}})  # immutable sandbox: no mutation


def test_durations():
    assert parse_duration("1h30m") == timedelta(hours=1, minutes=30)
    assert parse_duration("2d") == timedelta(days=2)
    assert format_duration(timedelta(days=1, hours=2)) == "1d2h"
    for bad in ("", "4 hours", "0s", "-1h", "1x"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_split_buckets_are_stable_and_spread():
    assert bucket("wf-1", "ab") == bucket("wf-1", "ab")
    share = sum(bucket(f"wf-{i}", "ab") < 0.5 for i in range(2000)) / 2000
    assert 0.45 < share < 0.55


def test_until_window_in_the_customer_time_zone():
    from datetime import UTC, datetime

    now = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
    assert until_window(now, "Europe/Berlin", "09:00", "18:00") == timedelta(hours=2)
    assert until_window(now, "Asia/Kolkata", "09:00", "18:00") == timedelta(0)  # 11:30 there
    late = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)  # 21:00 in Berlin -> 09:00 tomorrow
    assert until_window(late, "Europe/Berlin", "09:00", "18:00") == timedelta(hours=12)
