"""Exactly once across a crash: the send commits its outbox row, the worker dies before reporting,
Temporal retries the activity, and the store still holds one row (on SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from temporalio import activity
from temporalio.worker import Worker

from activities.contracts import SEND_MESSAGE, SendRequest, SendResult
from activities.journey_activities import JourneyActivities
from journeys_app.store.schema import Message
from tests.store.conftest import Store
from tests.store.test_store import seed
from tests.workflow.conftest import Fakes, env  # noqa: F401  (env: the time-skipping server fixture)
from tests.workflow.test_interpreter import PARKED
from workflows.journey import JourneyWorkflow
from workflows.models import CustomerEvent, JourneyInput
from workflows.sandbox import journey_workflow_runner
from workflows.validation import parse_journey


async def test_crash_after_commit_is_retried_into_one_row(env, store: Store, acts: JourneyActivities):  # noqa: F811
    await seed(store)
    attempts: list[SendResult] = []

    @activity.defn(name=SEND_MESSAGE)
    async def send_then_crash(req: SendRequest) -> SendResult:
        result = await acts.send_message(req)  # the outbox row is committed here
        attempts.append(result)
        if activity.info().attempt == 1:
            raise RuntimeError("the worker died after the commit, before reporting completion")
        return result

    queue = f"once-{uuid.uuid4()}"
    real = [a for a in acts.all() if a.__name__ != "send_message"]
    spec = parse_journey(PARKED)  # generate copy, then send it
    async with (
        Worker(
            env.client,
            task_queue=queue,
            workflows=[JourneyWorkflow],
            activities=[*real, send_then_crash],
            workflow_runner=journey_workflow_runner(),
        ),
        Worker(env.client, task_queue=f"{queue}-inference", activities=Fakes().inference_activities()),
    ):
        result = await env.client.execute_workflow(
            JourneyWorkflow.run,
            JourneyInput(
                spec=spec,
                spec_hash="h",
                customer_id="cust-ava",
                entry_key="",
                trigger=CustomerEvent(name="go"),
                inference_task_queue=f"{queue}-inference",
            ),
            id=f"once-{uuid.uuid4()}",
            task_queue=queue,
        )
    assert result.status == "completed"
    assert [a.duplicate for a in attempts] == [False, True]  # the retry found the first row
    async with store.sessionmaker() as session:
        rows = await session.scalar(
            select(func.count()).select_from(Message).where(Message.customer_id == "cust-ava")
        )
    assert rows == 1
