"""The bulk-enrolment activity: start one page of a segment's journeys, a bounded number at a time,
and record the page's runs in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from temporalio import activity

from activities.contracts import ENROLL_PAGE, EnrollPageRequest, EnrollPageResult, RecordRunRequest
from journeys_app.service.journey_service import EntryKeyError, JourneyService
from journeys_app.store import queries
from journeys_app.store.schema import EnrollmentMember
from workflows.models import CustomerEvent


def enrollment_event(journey_trigger: str, enrollment_id: str, customer_id: str) -> CustomerEvent:
    """The trigger event of an enrolled run; its message id makes the start idempotent per enrolment."""
    return CustomerEvent(
        name=journey_trigger,
        properties={"enrollment_id": enrollment_id},
        message_id=f"{enrollment_id}:{customer_id}",
    )


class EnrollmentActivities:
    def __init__(self, service: JourneyService) -> None:
        self.service = service

    def all(self) -> list[Callable[..., Any]]:
        return [self.enroll_page]

    @activity.defn(name=ENROLL_PAGE)
    async def enroll_page(self, req: EnrollPageRequest) -> EnrollPageResult:
        async with self.service.sessionmaker() as session:
            members = list(
                await session.scalars(
                    select(EnrollmentMember.customer_id)
                    .where(
                        EnrollmentMember.enrollment_id == req.enrollment_id,
                        EnrollmentMember.position >= req.start,
                        EnrollmentMember.position < req.start + req.size,
                    )
                    .order_by(EnrollmentMember.position)
                )
            )
        trigger = self.service.journey(req.journey_id).spec.trigger.event
        window = asyncio.Semaphore(req.window)
        result = EnrollPageResult(members=len(members), started=0, existing=0)

        records: list[RecordRunRequest] = []

        async def start(customer_id: str) -> None:
            async with window:
                event = enrollment_event(trigger, req.enrollment_id, customer_id)
                try:
                    started, record = await self.service.start(req.journey_id, customer_id, event)
                except (
                    EntryKeyError,
                    ValueError,
                ) as exc:  # this customer only; Temporal errors retry the page
                    result.failed.append(f"{customer_id}: {exc}")
                    return
                records.append(record)
                if started.started:
                    result.started += 1
                else:
                    result.existing += 1
                activity.heartbeat(result.started + result.existing)

        await asyncio.gather(*(start(c) for c in members))
        # The page's run rows in one transaction; a page retried after a crash writes the rest.
        await queries.insert_runs_if_absent(self.service.sessionmaker, records)
        return result
