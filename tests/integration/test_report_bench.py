"""`journeys bench report --json` runs on SQLite and PostgreSQL and reports its figures (a small
store here: the 100,000-run figure is the benchmark's, not a test's)."""

from __future__ import annotations

import json

import pytest

from tests.cli import journeys
from tests.integration.test_enrollment_bench import BENCH_DATABASES, bench_databases
from tests.store.conftest import PG_DSN

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@BENCH_DATABASES
def test_bench_report_on_both_stores_leaves_no_database_behind() -> None:
    before = bench_databases()
    done = journeys("bench", "report", "--runs", "2000", "--postgres", PG_DSN, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    for store in ("sqlite", "postgresql"):
        figures = report[store]
        assert figures["runs"] == 2000 and len(figures["seconds"]) == 5  # it fails unless all were counted
        assert figures["median_s"] > 0 and isinstance(figures["within_target"], bool)
    assert bench_databases() == before


def test_bench_report_refuses_a_store_too_small_to_measure() -> None:
    done = journeys("bench", "report", "--runs", "5")
    assert done.returncode != 0 and "--runs" in done.stderr
