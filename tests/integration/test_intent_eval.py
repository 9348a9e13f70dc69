"""`journeys eval intents` on our own held-out messages, English and Chinese: the CPU default must
reach 0.92 on English and 0.85 on Chinese."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from inference_worker.taxonomy import load_taxonomy
from journeys_app.core.settings import PROJECT_ROOT
from tests.cli import journeys

pytestmark = pytest.mark.models
SAMPLES = PROJECT_ROOT / "journeys" / "samples"
TAXONOMY = PROJECT_ROOT / "journeys" / "intents.yaml"


@pytest.mark.parametrize("name", ["intent_eval.csv", "intent_eval_zh.csv"])
def test_eval_messages_are_held_out_and_balanced(name: str) -> None:
    taxonomy = load_taxonomy(TAXONOMY)
    examples = {" ".join(e.lower().split()) for spec in taxonomy.intents.values() for e in spec.examples}
    with (SAMPLES / name).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert not examples & {" ".join(r["text"].lower().split()) for r in rows}  # never trained on
    for label in taxonomy.intents:
        assert sum(r["label"] == label for r in rows) >= 20, label


def test_cpu_default_reads_english_and_chinese_held_out_messages() -> None:
    done = journeys("eval", "intents", "--taxonomy", str(TAXONOMY), "--json")  # the shipped sets
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rows"] == 240
    languages = report["per_language"]
    assert languages["zh"]["rows"] == 120 and languages["en"]["rows"] >= 115, languages
    assert languages["en"]["accuracy"] >= 0.92 and languages["zh"]["accuracy"] >= 0.85, languages
    assert report["macro_f1"] >= 0.90, report
    assert report["calibration_error"] <= 0.10, report  # temperature-scaled confidences
    assert set(report["per_label"]) == set(load_taxonomy(TAXONOMY).intents)
    assert sum(sum(row.values()) for row in report["confusion"].values()) == 240


def test_bad_csv_is_a_clear_error_with_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "labelled.csv"
    data.write_text("message,intent\nWhere is my parcel?,inquiry\n,complaint\n")
    done = journeys(
        "eval", "intents", "--data", str(data), "--text-column", "message", "--label-column", "intent"
    )
    assert done.returncode == 1 and f"{data}:3: empty message" in done.stderr + done.stdout
    done = journeys("eval", "intents", "--data", str(data))
    assert (
        done.returncode == 1
        and "no column 'text'; the header has message, intent" in done.stderr + done.stdout
    )
    data.write_text("text,label\nI want a refund for my lamp,refund_request\n")
    done = journeys("eval", "intents", "--data", str(data))
    assert done.returncode == 1 and "refund_request" in done.stderr + done.stdout
