"""SIGKILL the journey worker mid-run; a new worker finishes the run with every effect once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from journeys_app.service.journey_service import JourneyService
from journeys_app.store import queries
from journeys_app.store.schema import Notification
from tests.e2e.test_sample_journeys import finish
from workflows.models import CustomerEvent
from workflows.review import ReviewDecision

pytestmark = [pytest.mark.models, pytest.mark.slow]


@contextmanager
def worker_process(stack, task_queue: str) -> Iterator[subprocess.Popen[bytes]]:
    """`journeys worker` in its own process, on its own queue, against the test's server and store."""
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": stack.client.service_client.config.target_host,
        "DATABASE_URL": stack.settings.resolved_database_url,
        "JOURNEYS_JOURNEY_TASK_QUEUE": task_queue,
        "JOURNEYS_INFERENCE_TASK_QUEUE": stack.settings.inference_task_queue,
        "JOURNEYS_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "journeys_app.edges.cli", "worker"], env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


async def test_kill_9_mid_run_then_resume_exactly_once(stack):
    task_queue = f"crash-{uuid.uuid4().hex[:8]}"
    settings = stack.settings.model_copy(update={"journey_task_queue": task_queue})
    service = JourneyService(stack.client, settings, stack.service.catalog, stack.sessionmaker)
    ticket = f"T-{uuid.uuid4().hex[:6]}"
    event = CustomerEvent(
        name="ticket_opened",
        properties={"ticket_id": ticket, "subject": "Broken zip", "text": "The zip on my new bag broke."},
    )
    with worker_process(stack, task_queue) as first:
        [run] = (await service.event("cust-emma", event)).triggered
        state = await stack.wait_for(run.workflow_id, lambda s: s.pending_review is not None, timeout=120)
        async with asyncio.timeout(60):  # the run records the review in the store right after
            while True:
                if await queries.get_review(stack.sessionmaker, state.pending_review.review_id):
                    break
                await asyncio.sleep(0.2)
        first.send_signal(signal.SIGKILL)  # mid-run: notify, tag and copy done, review pending
        first.wait()

    with worker_process(stack, task_queue) as second:
        decision = ReviewDecision(
            review_id=state.pending_review.review_id, decision="approve", reviewer="maria"
        )
        await service.review(decision)  # needs a live worker: the update's validator runs there
        second.send_signal(signal.SIGKILL)  # again, right as the send is being scheduled or run
        second.wait()

    with worker_process(stack, task_queue):
        await stack.wait_for(
            run.workflow_id, lambda s: s.current_step == "wait_resolution" and s.waiting_for, timeout=120
        )
        await service.event(
            "cust-emma", CustomerEvent(name="ticket_resolved", properties={"ticket_id": ticket})
        )
        result = await finish(stack, run.workflow_id)

    assert result.outcome == "vip_resolved"
    messages = await queries.messages_for_run(stack.sessionmaker, run.workflow_id)
    assert [m.step_id for m in messages] == ["send_acknowledgement"]  # sent exactly once
    async with stack.sessionmaker() as session:
        notified = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.workflow_id == run.workflow_id)
        )
    assert notified == 1  # the VIP desk heard once
    detail = await queries.get_run(stack.sessionmaker, run.workflow_id)
    assert detail.status == "completed"
