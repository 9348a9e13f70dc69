"""`journeys bench --readme`: the figures section is rebuilt from a report, and nothing else moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeys_app.devtools.bench.suite import (
    BEGIN,
    END,
    ReadmeError,
    figures_markdown,
    machine,
    update_readme,
)
from tests.cli import journeys

REPORT = {
    "date": "2026-11-30",
    "machine": "Test CPU, 2 cores, 24 GiB, Linux, no GPU in use",
    "engine": {
        "concurrency": 50,
        "rounds": 3,
        "interpreter": {"runs": 200, "runs_per_s": 5.51, "decision_p50_ms": 4202.4},
        "hand_written": {"runs": 200, "runs_per_s": 6.83, "decision_p50_ms": 3660.0},
        "noop_three_activities": {"runs": 200, "runs_per_s": 23.4, "decision_p50_ms": 1400.0},
        "throughput_ratio": 0.807,
        "ceiling_ratio": 0.235,
    },
    "inference": {
        "concurrency": 64,
        "batch_max_size": 32,
        "batch_max_wait_ms": 5,
        "raw_batched_per_s": 287.2,
        "raw_unbatched_per_s": 77.4,
        "noop_activity": {"runs_per_s": 59.4},
        "classify_batching_on": {"runs": 400, "runs_per_s": 41.8, "p50_ms": 1395.2, "p99_ms": 2924.0},
        "classify_batching_off": {"runs": 400, "runs_per_s": 28.8, "p50_ms": 2155.0, "p99_ms": 2846.0},
        "limit_per_s": 49.2,
        "on_vs_limit": 0.85,
        "on_vs_off": 1.451,
        "copy_tokens_per_s": 346.3,
    },
    "gateway": {
        "ingest_batched_events_per_s": 1770.4,
        "ingest_single_events_per_s": 75.0,
        "decide_light_load": {"calls": 40, "p50_ms": 165.2, "p99_ms": 248.9},
        "decide_under_load": {
            "calls": 600,
            "rate_per_s": 9.98,
            "timeout_ms": 300,
            "p50_ms": 1200.4,
            "p99_ms": 4800.0,
            "timeouts": 420,
            "errors": 0,
            "backlog_drain_s": 120.3,
        },
    },
    "enrollment": {"customers": 10000, "starts_per_s": 301.2},
    "intent_eval": {
        "en": {"rows": 120, "accuracy": 0.975, "macro_f1": 0.97, "calibration_error": 0.013},
        "zh": {"rows": 120, "accuracy": 0.942, "macro_f1": 0.94, "calibration_error": 0.031},
    },
}


def test_figures_come_from_the_report() -> None:
    text = figures_markdown(REPORT)
    assert "on 2026-11-30: Test CPU, 2 cores" in text
    assert "| 200 × 50 | 5.5 | 6.8 | 23.4 | 0.81 | 0.23 | 4202 / 3660 ms |" in text
    assert "| 287 | 77 | 59.4 | 41.8 (1395 / 2924) | 28.8 (2155 / 2846) | 49.2 | 0.85 | 1.45 | 346 |" in text
    assert (
        "| SQLite | 1,770 events/s | 75 events/s | 165 / 249 ms | 9.98/s for 600 calls, 1,200 / 4,800 ms, "
        "420 past 300 ms, 0 | 120 s | 10,000 customers, 301 starts/s |"
    ) in text
    assert "| PostgreSQL |" not in text


def test_postgres_figures_get_their_own_row() -> None:
    on_postgres = {
        "gateway": {**REPORT["gateway"], "ingest_single_events_per_s": 410.0},
        "enrollment": {"customers": 10000, "starts_per_s": 333.0, "bare_starts_per_s": 350.4},
    }
    text = figures_markdown({**REPORT, "postgres": on_postgres})
    assert "| PostgreSQL | 1,770 events/s | 410 events/s |" in text
    assert "333 starts/s (bare starts on the same server 350/s) |" in text
    assert "Sentiment accuracy" not in text  # a report from before it was measured


def test_intent_accuracy_per_language() -> None:
    text = figures_markdown(REPORT)
    assert "en 0.97 (macro-F1 0.97, calibration error 0.01, 120 messages), zh 0.94 (" in text
    older = {
        **REPORT,
        "intent_eval": {"rows": 120, "accuracy": 0.933, "macro_f1": 0.94, "calibration_error": 0.03},
    }
    assert "en 0.93 (macro-F1 0.94, calibration error 0.03, 120 messages)." in figures_markdown(older)


def test_sentiment_accuracy_per_language_when_measured() -> None:
    sentiment = {"en": {"rows": 60, "accuracy": 0.917}, "zh": {"rows": 60, "accuracy": 0.017}}
    text = figures_markdown({**REPORT, "sentiment_eval": sentiment})
    assert "en 0.92 (60 messages), zh 0.02 (60 messages)." in text


def test_answer_figures_when_measured() -> None:
    answers = {
        "rows": 134,
        "top1": 0.865,
        "top3": 0.981,
        "wrong_answer_rate": 0.019,
        "routed_to_person": 0.567,
        "product_accuracy": 0.978,
    }
    text = figures_markdown({**REPORT, "answer_eval": answers})
    assert "answers to 134 held-out questions" in text and "right entry 0.86 (top three 0.98)" in text
    assert "routed to a person 0.57, product suggested 0.98." in text
    assert "held-out questions" not in figures_markdown(REPORT)  # older reports: no line
    copy = {"model": "smollm2-135m-instruct-q4_1", "per_language": {"en": 0.6923, "zh": 0.0}}
    text = figures_markdown({**REPORT, "copy_eval": copy})
    assert "(`journeys eval copy`, smollm2-135m-instruct-q4_1): en 0.69, zh 0.00." in text


def test_readme_between_markers_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{BEGIN}\nold figures\n{END}\n\nAfter.\n")
    update_readme(readme, REPORT)
    text = readme.read_text()
    assert text.startswith(f"# Title\n\n{BEGIN}\nMeasured by") and text.endswith(f"{END}\n\nAfter.\n")
    assert "old figures" not in text
    update_readme(readme, REPORT)  # again: the same file, not a second copy
    assert readme.read_text() == text


def test_a_readme_without_markers_is_refused_and_left_alone(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    with pytest.raises(ReadmeError, match="no <!-- bench:begin -->"):
        update_readme(readme, REPORT)
    assert readme.read_text() == "# Title\n"


def test_machine_names_cores_and_memory() -> None:
    assert " cores, " in machine() and " GiB, " in machine()


def test_the_command_refuses_such_a_readme_before_benchmarking(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    done = journeys("bench", "--readme", str(readme), timeout=60)
    assert done.returncode == 1 and "has no <!-- bench:begin -->" in done.stderr
    assert "bench engine" not in done.stdout + done.stderr  # nothing ran


def test_the_journey_report_line_when_measured() -> None:
    assert "Journey report" not in figures_markdown(REPORT)  # a report from before it was measured
    timed = {
        "target_s": 2.0,
        "sqlite": {"runs": 100000, "median_s": 1.145},
        "postgresql": {"runs": 100000, "median_s": 1.416},
    }
    text = figures_markdown({**REPORT, "report": timed})
    assert (
        "over 100,000 runs of abandoned_cart (median of five): "
        "SQLite 1.15 s, PostgreSQL 1.42 s (target < 2 s)" in text
    )
