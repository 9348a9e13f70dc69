"""Stop the inference worker in the middle of journeys: they go on with rules, marked degraded, and finish."""

from __future__ import annotations

import asyncio
import shutil
import socket
import uuid

import httpx
import pytest
from sqlalchemy import select

from journeys_app.core.temporal import connect
from journeys_app.runtime import journey_worker
from journeys_app.service.catalog import load_catalog
from journeys_app.service.journey_service import JourneyService
from journeys_app.store.customers import load_customers_file, upsert_customers
from journeys_app.store.engine import open_database
from journeys_app.store.schema import AuditEntry
from tests.e2e.conftest import stack_settings
from workflows.journey import JourneyWorkflow
from workflows.models import CustomerEvent

pytestmark = [pytest.mark.models, pytest.mark.slow]

# Classify, then hold until told to go on: the inference worker stops while the runs hold.
PROBE_JOURNEY = """\
id: outage_probe
version: 1
description: Read the message, hold, then score the customer and write an answer.
trigger: { event: message_received }
entry: { key: "{{ event.message_id }}", reentry: always }
steps:
  - id: intent
    type: classify_intent
    text: "{{ event.text }}"
  - id: hold
    type: wait_for_event
    event: go_on
    timeout: 1h
  - id: value
    type: score
    model: customer_value
  - id: lookup
    type: retrieve
    on_no_answer: { goto: answer }  # without the encoder: the template's "we will follow up"
  - id: answer
    type: generate_copy
    template: email/answer
    knowledge: lookup
  - id: send_answer
    type: send
    channel: email
    category: transactional
  - id: done
    type: exit
    outcome: answered
"""

MESSAGES = {
    "cust-ben": "Do you ship to Canada, and how long does delivery take?",
    "cust-chloe": "Can I change the delivery address on my order?",
    "cust-farid": "What sizes does the linen shirt come in?",
}


async def test_runs_finish_degraded_when_the_inference_worker_stops(dev_server, local_backend, tmp_path):
    from inference_worker.worker import inference_worker

    journeys_dir = tmp_path / "journeys"
    shutil.copytree(stack_settings(tmp_path).journeys_dir, journeys_dir)
    (journeys_dir / "outage_probe.yaml").write_text(PROBE_JOURNEY)
    settings = stack_settings(tmp_path).model_copy(
        update={
            "journeys_dir": journeys_dir,
            "inference_pickup_timeout_s": 2.0,
            "inference_copy_pickup_timeout_s": 2.0,
        }
    )
    metrics_bind = f"127.0.0.1:{_free_port()}"
    # Both workers on a client whose runtime serves Prometheus metrics, as `JOURNEYS_METRICS_BIND` does.
    client = await connect(
        settings.model_copy(update={"metrics_bind": metrics_bind}),
        dev_server.client.service_client.config.target_host,
    )
    async with open_database(settings) as (_, sessionmaker):
        await upsert_customers(sessionmaker, load_customers_file(journeys_dir / "samples" / "customers.yaml"))
        service = JourneyService(client, settings, load_catalog(settings), sessionmaker)
        async with journey_worker(client, settings, sessionmaker):
            runs = []
            async with inference_worker(client, settings, backend=local_backend):
                for customer, text in MESSAGES.items():
                    event = CustomerEvent(
                        name="message_received", message_id=f"m-{uuid.uuid4()}", properties={"text": text}
                    )
                    runs.append((await service.trigger("outage_probe", customer, event)).workflow_id)
                for workflow_id in runs:
                    await _until_holding(service, workflow_id)
            # The inference worker is gone; the runs go on.
            for customer in MESSAGES:
                await service.event(customer, CustomerEvent(name="go_on"))
            for workflow_id in runs:
                async with asyncio.timeout(60):
                    result = await client.get_workflow_handle_for(JourneyWorkflow.run, workflow_id).result()
                assert result.outcome == "answered"
                state = await service.state(workflow_id)
                intent, value, lookup, answer = (
                    state.results[s] for s in ("intent", "value", "lookup", "answer")
                )
                assert (intent["backend"], intent["degraded"]) == ("local", False)
                assert (value["backend"], value["model"], value["degraded"]) == (
                    "rules",
                    "scoring.yaml@" + value["model"].split("@")[1],
                    True,
                )
                assert (lookup["found"], lookup["backend"], lookup["degraded"]) == (False, "rules", True)
                assert (answer["backend"], answer["degraded"]) == ("preset", True)
                assert "will follow up within one business day" in answer["variants"][0]["body"]
                assert answer["variants"][0]["source"] == "template_default"
        async with sessionmaker() as session:
            summaries = (
                await session.scalars(
                    select(AuditEntry.output_summary).where(
                        AuditEntry.action == "model_call", AuditEntry.workflow_id.in_(runs)
                    )
                )
            ).all()
    assert sum(s.endswith("(degraded)") for s in summaries) == 3 * len(runs)  # score, lookup, copy
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"http://{metrics_bind}/metrics")).text
    assert _counter(metrics, activity="classify_intent", backend="local", degraded="false") == len(runs)
    assert _counter(metrics, activity="score_customer", backend="rules", degraded="true") == len(runs)
    assert _counter(metrics, activity="generate_copy", backend="preset", degraded="true") == len(runs)
    assert _counter(metrics, activity="retrieve_knowledge", backend="rules", degraded="true") == len(runs)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _counter(metrics: str, **labels: str) -> float:
    """The value of journeys_inference_results with these labels in a Prometheus text page."""
    for line in metrics.splitlines():
        if line.startswith("journeys_inference_results") and all(
            f'{k}="{v}"' in line for k, v in labels.items()
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def _until_holding(service: JourneyService, workflow_id: str) -> None:
    async with asyncio.timeout(60):
        while True:
            state = await service.state(workflow_id)
            if state.current_step == "hold" and state.waiting_for:
                return
            await asyncio.sleep(0.2)
