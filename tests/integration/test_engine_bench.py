"""`journeys bench engine --json` runs end to end and reports its figures (tiny run: no speed claims)."""

from __future__ import annotations

import json

import pytest

from tests.cli import journeys

pytestmark = pytest.mark.slow


def test_bench_engine_reports_the_interpreter_against_hand_written_and_the_ceiling() -> None:
    done = journeys("bench", "engine", "--runs", "6", "--concurrency", "3", "--rounds", "2", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["rounds"] == 2
    for system in ("interpreter", "hand_written", "noop_three_activities"):
        figures = report[system]
        assert figures["runs"] == 12 and len(figures["rounds_runs_per_s"]) == 2
        assert figures["runs_per_s"] == pytest.approx(12 / figures["seconds"], rel=0.01)
    assert report["throughput_ratio"] == round(
        report["interpreter"]["runs_per_s"] / report["hand_written"]["runs_per_s"], 3
    )
    assert report["ceiling_ratio"] == round(
        report["interpreter"]["runs_per_s"] / report["noop_three_activities"]["runs_per_s"], 3
    )
