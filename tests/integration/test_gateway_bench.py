"""`journeys bench gateway --json` runs end to end and reports its figures (tiny run: no speed claims)."""

from __future__ import annotations

import json

import pytest

from tests.cli import journeys

pytestmark = [pytest.mark.models, pytest.mark.slow]


def test_bench_gateway_reports_ingest_decide_and_load_figures() -> None:
    done = journeys(
        "bench",
        "gateway",
        "--events",
        "100",
        "--decides",
        "5",
        "--load-rate",
        "2",
        "--load-seconds",
        "1",
        "--json",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["ingest_batched_events_per_s"] > 0 and report["ingest_single_events_per_s"] > 0
    decide = report["decide_light_load"]
    assert decide["calls"] == 5 and 0 < decide["p50_ms"] <= decide["p99_ms"]
    load = report["decide_under_load"]
    assert load["calls"] == 2 and load["rate_per_s"] > 0 and load["errors"] == 0
    assert 0 < load["p50_ms"] <= load["p99_ms"] and 0 <= load["timeouts"] <= 2
    assert load["backlog_drain_s"] >= 0
    for phases in (decide["phases"], load["phases"]):  # read from the runs' histories
        parts = [phases[k] for k in ("workflow_task_queue_ms", "workflow_task_run_ms", "activity_queue_ms")]
        assert all(p >= 0 for p in parts) and phases["activity_run_ms"] > 0
        assert sum(parts) + phases["activity_run_ms"] <= phases["total_ms"] + 1
