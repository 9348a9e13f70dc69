"""Bulk enrolment of 10,000 customers through the batch workflow: exactly one run each, even when
the worker running it stops half-way and another one takes over."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from temporalio.worker import Worker

from journeys_app.service.bulk_enrollment import SegmentError, select_customers, start_enrollment
from journeys_app.service.bulk_enrollment_activity import EnrollmentActivities
from journeys_app.service.journey_service import JourneyService
from journeys_app.store.schema import JourneyRun
from workflows.bulk_enrollment import EnrollmentWorkflow

pytestmark = [pytest.mark.slow]
MEMBERS = 10_000


async def test_segment_condition_and_bad_segments(stack, tmp_path: Path) -> None:
    assert "cust-ava" in await select_customers(stack.service, "customer.tier == 'vip'")
    with pytest.raises(SegmentError, match="segment condition"):
        await select_customers(stack.service, "customer.tier ==")
    empty = tmp_path / "empty.csv"
    empty.write_text("name\nAva\n")
    with pytest.raises(SegmentError, match="needs an `id` or `customer_id` column"):
        await start_enrollment(stack.service, "dormant_reengagement", str(empty))
    with pytest.raises(Exception, match="vip_escalation"):  # keyed on ticket_id: cannot be bulk-started
        await start_enrollment(stack.service, "vip_escalation", "customer.tier == 'vip'")


async def test_ten_thousand_customers_get_exactly_one_run_each(stack, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    ids = [f"enr-{tag}-{i}" for i in range(MEMBERS)]
    segment = tmp_path / "segment.csv"
    segment.write_text("id\n" + "\n".join(ids) + "\n")
    # The batch workflow runs on its own queue; the journeys it starts wait on a queue no worker
    # polls, so this test measures enrolment, not 10,000 journeys running on two cores.
    batch_queue, parked_queue = f"enroll-{tag}", f"parked-{tag}"
    batch_service = JourneyService(
        stack.client,
        stack.settings.model_copy(update={"journey_task_queue": batch_queue}),
        stack.service.catalog,
        stack.sessionmaker,
    )
    journey_service = JourneyService(
        stack.client,
        stack.settings.model_copy(update={"journey_task_queue": parked_queue}),
        stack.service.catalog,
        stack.sessionmaker,
    )

    def batch_worker() -> Worker:
        return Worker(
            stack.client,
            task_queue=batch_queue,
            workflows=[EnrollmentWorkflow],
            activities=EnrollmentActivities(journey_service).all(),
        )

    handle, total = await start_enrollment(batch_service, "dormant_reengagement", str(segment), window=100)
    assert total == MEMBERS
    async with batch_worker():  # stops half-way: the workflow and its cursor survive
        for _ in range(3000):
            if (await handle.query(EnrollmentWorkflow.progress)).done >= MEMBERS // 4:
                break
            await asyncio.sleep(0.2)
    async with batch_worker():
        progress = await asyncio.wait_for(handle.result(), 600)

    assert progress.finished and progress.done == MEMBERS and progress.failed == 0
    assert progress.started + progress.existing == MEMBERS
    again, _ = await start_enrollment(batch_service, "dormant_reengagement", str(segment))
    assert again.id == handle.id  # the same command finds the same enrolment

    count = await stack.client.count_workflows(
        f'WorkflowType="JourneyWorkflow" AND TaskQueue="{parked_queue}"'
    )
    assert count.count == MEMBERS  # one run per customer in Temporal…
    async with stack.sessionmaker() as session:
        rows = await session.execute(
            select(func.count(), func.count(JourneyRun.customer_id.distinct())).where(
                JourneyRun.customer_id.like(f"enr-{tag}-%")
            )
        )
    assert tuple(rows.one()) == (MEMBERS, MEMBERS)  # …and in the store
