"""`journeys bench inference --json` runs end to end and reports every figure (tiny run: no speed claims)."""

from __future__ import annotations

import json

import pytest

from tests.cli import journeys

pytestmark = [pytest.mark.models, pytest.mark.slow]


def test_bench_inference_reports_the_five_figures_and_the_limit() -> None:
    done = journeys("bench", "inference", "--runs", "24", "--concurrency", "8", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    for key in ("raw_batched_per_s", "raw_unbatched_per_s", "copy_tokens_per_s", "limit_per_s"):
        assert report[key] > 0, key
    for path in ("noop_activity", "classify_batching_on", "classify_batching_off"):
        figures = report[path]
        assert figures["runs"] == 24 and figures["runs_per_s"] > 0
        assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    expected_limit = 1 / (1 / report["noop_activity"]["runs_per_s"] + 1 / report["raw_batched_per_s"])
    assert report["limit_per_s"] == pytest.approx(expected_limit, abs=0.1)
    assert report["on_vs_limit"] == pytest.approx(
        report["classify_batching_on"]["runs_per_s"] / expected_limit, abs=0.01
    )
