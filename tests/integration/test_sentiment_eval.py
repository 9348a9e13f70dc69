"""`journeys eval sentiment` on our own held-out messages: plainly negative is negative."""

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


@pytest.mark.parametrize("name", ["sentiment_eval.csv", "sentiment_eval_zh.csv"])
def test_eval_messages_are_held_out_and_balanced(name: str) -> None:
    taxonomy = load_taxonomy(TAXONOMY)
    examples = {" ".join(e.lower().split()) for spec in taxonomy.sentiment.values() for e in spec.examples}
    with (SAMPLES / name).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert not examples & {" ".join(r["text"].lower().split()) for r in rows}  # never trained on
    assert sum(r["label"] == "negative" for r in rows) == sum(r["label"] == "positive" for r in rows) >= 30


@pytest.mark.parametrize("name", ["sentiment_eval.csv", "sentiment_eval_zh.csv"])
def test_cpu_default_reads_clearly_negative_and_positive_messages(name: str) -> None:
    data = SAMPLES / name
    done = journeys("eval", "sentiment", "--taxonomy", str(TAXONOMY), "--data", str(data), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["rows"] == 60 and report["accuracy"] >= 0.90, report
    assert report["per_label"]["negative"]["recall"] >= 0.90, report  # a complaint is not "positive"
    assert sum(sum(row.values()) for row in report["confusion"].values()) == 60


def test_labels_that_are_not_sentiments_are_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "labelled.csv"
    data.write_text("text,label\nThe lamp is broken,angry\n")
    done = journeys("eval", "sentiment", "--data", str(data))
    assert done.returncode == 1
    assert "labels angry are not sentiments (negative, neutral, positive)" in done.stderr + done.stdout
    data.write_text("message,label\nThe lamp is broken,negative\n")
    done = journeys("eval", "sentiment", "--data", str(data))
    assert done.returncode == 1 and "no column 'text'" in done.stderr + done.stdout
