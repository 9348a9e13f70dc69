"""Bulk enrolment from the client side: pick the segment, store its members, start the batch workflow.

A segment is a file of customer ids (one per line, or a CSV with an `id` column) or a condition
in the journey expression language over each stored customer, e.g.
`customer.tier == 'vip' and customer.attributes.days_since_last_order > 60`.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from pathlib import Path

from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from journeys_app.service.bulk_enrollment_activity import enrollment_event
from journeys_app.service.journey_service import JourneyService
from journeys_app.store.customers import to_profile
from journeys_app.store.schema import Customer, Enrollment, EnrollmentMember
from workflows.bulk_enrollment import EnrollmentInput, EnrollmentProgress, EnrollmentWorkflow
from workflows.expressions import ExpressionError, evaluate

INSERT_CHUNK = 1000


class SegmentError(ValueError):
    """The segment cannot be read or evaluated; the message says where."""


def read_segment_file(path: Path) -> list[str]:
    """Customer ids from a file: a CSV with an `id` (or `customer_id`) column, or one id per line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SegmentError(f"{path}: cannot read ({exc.strerror})") from exc
    first = text.splitlines()[0] if text.strip() else ""
    if path.suffix == ".csv" or "," in first or first.strip() in ("id", "customer_id"):
        reader = csv.DictReader(io.StringIO(text))
        column = next((c for c in ("id", "customer_id") if c in (reader.fieldnames or [])), None)
        if column is None:
            raise SegmentError(f"{path}:1: a CSV segment needs an `id` or `customer_id` column")
        ids = [(row.get(column) or "").strip() for row in reader]
    else:
        ids = [line.strip() for line in text.splitlines()]
    ids = [i for i in ids if i and not i.startswith("#")]
    if not ids:
        raise SegmentError(f"{path}: no customer ids")
    return list(dict.fromkeys(ids))  # each customer once, in file order


async def select_customers(service: JourneyService, condition: str) -> list[str]:
    """Stored customers for whom `condition` holds (contact details are not visible to it)."""
    ids = []
    async with service.sessionmaker() as session:
        async for row in await session.stream_scalars(select(Customer).order_by(Customer.id)):
            try:
                if evaluate(condition, {"customer": to_profile(row).model_dump(mode="json")}):
                    ids.append(row.id)
            except ExpressionError as exc:
                raise SegmentError(f"segment condition {condition!r}: {exc}") from exc
    return ids


async def segment_ids(service: JourneyService, segment: str) -> list[str]:
    path = Path(segment)
    if path.suffix in (".csv", ".txt") or await asyncio.to_thread(path.exists):
        return await asyncio.to_thread(read_segment_file, path)
    return await select_customers(service, segment)


def enrollment_id_for(journey_id: str, segment: str, ids: list[str]) -> str:
    """Same journey and same members: the same enrolment (re-running the command resumes it)."""
    digest = hashlib.sha256("\n".join([journey_id, segment, *ids]).encode()).hexdigest()[:12]
    return f"enroll-{journey_id}-{digest}"


async def start_enrollment(
    service: JourneyService, journey_id: str, segment: str, *, window: int = 50, page_size: int = 500
) -> tuple[WorkflowHandle[EnrollmentWorkflow, EnrollmentProgress], int]:
    """Store the members and start (or find) the batch workflow; returns its handle and the size."""
    journey = service.journey(journey_id)
    ids = await segment_ids(service, segment)
    if not ids:
        raise SegmentError(f"segment {segment!r} holds no customers")
    # Fail before storing anything if this journey cannot be started without a real event.
    service.workflow_id(journey, ids[0], enrollment_event(journey.spec.trigger.event, "check", ids[0]))
    enrollment_id = enrollment_id_for(journey_id, segment, ids)
    async with service.sessionmaker() as session, session.begin():
        if await session.get(Enrollment, enrollment_id) is None:
            session.add(
                Enrollment(
                    enrollment_id=enrollment_id, journey_id=journey_id, segment=segment, total=len(ids)
                )
            )
            await session.flush()
            for start in range(0, len(ids), INSERT_CHUNK):
                session.add_all(
                    EnrollmentMember(enrollment_id=enrollment_id, position=start + i, customer_id=c)
                    for i, c in enumerate(ids[start : start + INSERT_CHUNK])
                )
                await session.flush()
    inp = EnrollmentInput(
        enrollment_id=enrollment_id, journey_id=journey_id, total=len(ids), page_size=page_size, window=window
    )
    try:
        handle = await service.client.start_workflow(
            EnrollmentWorkflow.run,
            inp,
            id=enrollment_id,
            task_queue=service.settings.journey_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:  # running or finished: follow that one
        handle = service.client.get_workflow_handle_for(EnrollmentWorkflow.run, enrollment_id)
    return handle, len(ids)
