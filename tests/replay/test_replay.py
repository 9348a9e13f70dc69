"""Replay recorded histories of the sample journeys and of bulk enrolment against today's code.

A change that makes JourneyWorkflow or EnrollmentWorkflow non-deterministic for runs already in
flight fails here.
Re-record after an intended, patched change: rename the files to `<name>@<date>.json` first, so
runs started under each earlier version stay covered, then `RECORD_HISTORIES=1 pytest tests/e2e`
(`enrollment*.json`: an enrolment of three pages, recorded the same way by hand).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from journeys_app.core.settings import Settings
from journeys_app.core.temporal import data_converter
from workflows.bulk_enrollment import EnrollmentWorkflow
from workflows.journey import JourneyWorkflow
from workflows.sandbox import journey_workflow_runner

HISTORIES = {
    p.stem: json.loads(p.read_text()) for p in sorted((Path(__file__).parent / "histories").glob("*.json"))
}


def test_every_sample_journey_has_a_recorded_history():
    assert set(HISTORIES) >= {
        "complaint_routing",
        "complaint_routing_answer",  # an inquiry answered from the knowledge base
        "vip_escalation",
        "dormant_reengagement",
        "enrollment",
    }


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_replay(name: str):
    recorded = dict(HISTORIES[name])
    history = WorkflowHistory.from_json(recorded.pop("workflowId", name), recorded)
    replayer = Replayer(
        workflows=[EnrollmentWorkflow if name.startswith("enrollment") else JourneyWorkflow],
        data_converter=data_converter(Settings()),
        workflow_runner=journey_workflow_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name} no longer replays: {result.replay_failure}"
