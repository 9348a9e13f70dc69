"""Tracing is on from day one: the client built by `connect` carries Temporal's tracing interceptor."""

from __future__ import annotations

import uuid

from opentelemetry import trace
from temporalio.contrib.opentelemetry import TracingInterceptor

from journeys_app.core.settings import Settings
from journeys_app.core.temporal import connect
from workflows.journey import JourneyWorkflow
from workflows.models import CustomerEvent, JourneyInput
from workflows.validation import parse_journey

SPEC = """
id: traced
version: 1
description: one step
trigger: { event: go }
steps:
  - id: done
    type: exit
"""


async def test_console_tracing_exports_a_span_for_a_journey_start(env, capfd):
    settings = Settings(tracing="console")
    client = await connect(settings, env.client.service_client.config.target_host)
    assert any(isinstance(i, TracingInterceptor) for i in client.config()["interceptors"])
    spec = parse_journey(SPEC)
    handle = await client.start_workflow(
        JourneyWorkflow.run,
        JourneyInput(
            spec=spec, spec_hash="h", customer_id="c", entry_key="", trigger=CustomerEvent(name="go")
        ),
        id=f"traced-{uuid.uuid4()}",
        task_queue=f"nobody-polls-{uuid.uuid4()}",
    )
    await handle.terminate("test done")
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    assert "StartWorkflow:JourneyWorkflow" in capfd.readouterr().out


async def test_no_tracing_by_default(env):
    client = await connect(Settings(tracing="none"), env.client.service_client.config.target_host)
    assert not any(isinstance(i, TracingInterceptor) for i in client.config()["interceptors"])
