"""`journeys bench enrollment --json` runs end to end and reports its figure (tiny run: no speed claims)."""

from __future__ import annotations

import json

import pytest

from tests.cli import journeys

pytestmark = [pytest.mark.slow]


def test_bench_enrollment_reports_starts_per_second() -> None:
    done = journeys("bench", "enrollment", "--customers", "300", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["customers"] == 300 and report["journey"] == "dormant_reengagement"
    assert report["seconds"] > 0 and report["starts_per_s"] > 0  # it fails unless all 300 ran once


def test_bench_enrollment_refuses_a_segment_too_small_to_measure() -> None:
    done = journeys("bench", "enrollment", "--customers", "5")
    assert done.returncode == 2 and "--customers" in done.stderr
