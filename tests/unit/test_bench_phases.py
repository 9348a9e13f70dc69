"""The decision phases are read from a recorded history: the complaint-routing run of the replay test."""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.client import WorkflowHistory

from journeys_app.devtools.bench.phases import PHASES, decision_phases

HISTORIES = Path(__file__).parents[1] / "replay" / "histories"


def _events(name: str) -> list:
    recorded = json.loads((HISTORIES / f"{name}.json").read_text())
    return WorkflowHistory.from_json(recorded.pop("workflowId"), recorded).events


def test_phases_add_up_to_at_most_the_time_to_the_decision():
    phases = decision_phases(_events("complaint_routing"))
    assert phases is not None
    assert phases["activity_run_ms"] > 0 and all(phases[p] >= 0 for p in PHASES)
    assert sum(phases[p] for p in PHASES) <= phases["total_ms"] + 0.001


def test_a_run_without_a_decide_call_has_no_phases():
    assert decision_phases(_events("dormant_reengagement")) is None
