"""Copy in flight when the inference worker dies waits for the restarted worker, not preset copy.

Before, the retry's 15 s pickup timeout ran out while the new worker was still loading its models
(about 30 s), so the run sent the template's preset copy although a model was about to answer.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.worker import Worker

from activities.inference_fallback import InferenceFallbackActivities
from inference_worker import contracts as ic
from journeys_app.core.settings import Settings
from tests.workflow.conftest import Fakes
from workflows.journey import JourneyWorkflow
from workflows.models import CustomerEvent, JourneyInput
from workflows.sandbox import journey_workflow_runner
from workflows.validation import parse_journey

COPY = """
id: copy_only
version: 1
description: one generated email
trigger: { event: go }
steps:
  - id: draft
    type: generate_copy
    template: email/answer
"""


@pytest.mark.slow
async def test_copy_in_flight_waits_for_the_restarted_inference_worker(dev_server):
    """On the dev server in real time: the time-skipping server does not skip past an activity
    that waits for a worker, and what is tested here is exactly that wait."""
    env = dev_server
    fakes = Fakes()
    queue = f"tq-{uuid.uuid4()}"
    started = asyncio.Event()

    @activity.defn(name=ic.GENERATE_COPY)
    async def dies_mid_generation(req: ic.CopyRequest) -> ic.CopyResult:
        # What the server sees of a killed worker, sooner: the attempt fails, a retry is scheduled.
        started.set()
        raise RuntimeError("inference worker killed")

    spec = parse_journey(COPY, "copy_only.yaml")
    settings = Settings(_env_file=None)
    inp = JourneyInput(
        spec=spec,
        spec_hash=spec.content_hash(),
        customer_id="c1",
        entry_key="",
        trigger=CustomerEvent(name="go"),
        inference_task_queue=f"{queue}-inference",
        inference_pickup_timeout_s=settings.inference_pickup_timeout_s,
        inference_copy_pickup_timeout_s=settings.inference_copy_pickup_timeout_s,
    )
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[JourneyWorkflow],
        activities=[*fakes.journey_activities(), *InferenceFallbackActivities(settings).all()],
        workflow_runner=journey_workflow_runner(),
    ):
        handle = await env.client.start_workflow(
            JourneyWorkflow.run, inp, id=f"wf-{uuid.uuid4()}", task_queue=queue
        )
        async with Worker(env.client, task_queue=f"{queue}-inference", activities=[dies_mid_generation]):
            await asyncio.wait_for(started.wait(), 30)
        # The worker is gone; its replacement loads models for longer than the decision path's
        # 15 s pickup timeout before it polls.
        await asyncio.sleep(settings.inference_pickup_timeout_s + 5)
        async with Worker(
            env.client, task_queue=f"{queue}-inference", activities=fakes.inference_activities()
        ):
            result = await handle.result()
    assert result.status == "completed"
    [record] = [c for c in fakes.calls["record_step"] if c.step_id == "draft"]
    assert record.result["backend"] == "fake", "the restarted worker wrote the copy, not the preset"


class SlowLoadingBackend:
    """Stands in for a backend whose models take a while to load; answers nothing."""

    name = "slow-loading"

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def load(self) -> None:
        await self.release.wait()

    async def aclose(self) -> None:
        pass


@pytest.mark.slow
async def test_the_inference_worker_reports_ready_only_once_its_models_are_loaded(dev_server, tmp_path):
    from inference_worker.worker import inference_worker

    ready = tmp_path / "inference.ready"
    settings = Settings(_env_file=None, inference_task_queue=f"ready-{uuid.uuid4()}", ready_file=ready)
    backend = SlowLoadingBackend()
    running = asyncio.Event()

    async def serve() -> None:
        async with inference_worker(dev_server.client, settings, backend=backend):  # type: ignore[arg-type]
            running.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(serve())
    await asyncio.sleep(0.5)
    assert not ready.exists() and not running.is_set()  # still loading: not ready, not polling
    backend.release.set()
    await asyncio.wait_for(running.wait(), 10)
    assert ready.read_text().strip() == settings.inference_task_queue
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not ready.exists()  # stopped: no longer ready
