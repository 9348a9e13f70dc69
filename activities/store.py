"""Activities that record what a journey did: runs, step results, reviews; and load customers.

Every write is one INSERT … ON CONFLICT statement, so a retried or duplicated activity converges
on the same row instead of failing or adding a second one.
"""

from __future__ import annotations

import logging

from sqlalchemy import case, func, literal, null, select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.base import StoreActivityBase
from activities.contracts import (
    FINISH_RUN,
    LOAD_CUSTOMER,
    RECORD_REVIEW,
    RECORD_RUN,
    RECORD_STEP,
    CustomerProfile,
    FinishRunRequest,
    LoadCustomerRequest,
    LoadCustomerResult,
    RecordReviewRequest,
    RecordRunRequest,
    RecordStepRequest,
)
from journeys_app.db.customers import to_profile
from journeys_app.db.schema import Customer, JourneyRun, Review, StepResult, UtcDateTime, utcnow
from journeys_app.db.sql import insert_for

log = logging.getLogger(__name__)

DECIDED_STATUSES = frozenset({"approved", "edited", "rejected", "timed_out"})
# For each new review status, the stored statuses it may replace (itself included, for retries).
# Anything else is a stale write (e.g. a late retry of "pending" after the decision) and is ignored.
REVIEW_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"pending"}),
    "escalated": frozenset({"pending", "escalated"}),
    **{s: frozenset({"pending", "escalated", s}) for s in DECIDED_STATUSES},
}


class StoreActivities(StoreActivityBase):
    @activity.defn(name=LOAD_CUSTOMER)
    async def load_customer(self, req: LoadCustomerRequest) -> LoadCustomerResult:
        """The customer's profile without contact details; unknown ids get a bare profile."""
        async with self.sessionmaker() as session:
            customer = await session.get(Customer, req.customer_id)
        if customer is None:
            return LoadCustomerResult(found=False, customer=CustomerProfile(id=req.customer_id))
        return LoadCustomerResult(found=True, customer=to_profile(customer))

    @activity.defn(name=RECORD_RUN)
    async def record_run(self, req: RecordRunRequest) -> None:
        """Upsert the run row. A row of a finished run means the workflow id was reused for a new
        run, so its status, outcome, path and times start over."""
        table = JourneyRun.__table__
        async with self.sessionmaker() as session, session.begin():
            stmt = insert_for(session, JourneyRun).values(
                **req.model_dump(), status="running", path=[], started_at=utcnow()
            )
            ex = stmt.excluded
            same_run = table.c.status == "running"
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["workflow_id"],
                    set_={
                        "journey_id": ex.journey_id,
                        "journey_version": ex.journey_version,
                        "spec_hash": ex.spec_hash,
                        "customer_id": ex.customer_id,
                        "entry_key": ex.entry_key,
                        "trigger_event": ex.trigger_event,
                        "status": "running",
                        "started_at": case((same_run, table.c.started_at), else_=ex.started_at),
                        "outcome": case((same_run, table.c.outcome), else_=null()),
                        "path": case((same_run, table.c.path), else_=ex.path),
                        "finished_at": case((same_run, table.c.finished_at), else_=null()),
                    },
                )
            )

    @activity.defn(name=RECORD_STEP)
    async def record_step(self, req: RecordStepRequest) -> None:
        """Upsert the result of one step visit, keyed by (workflow_id, step_id, visit)."""
        async with self.sessionmaker() as session, session.begin():
            stmt = insert_for(session, StepResult).values(**req.model_dump())
            ex = stmt.excluded
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["workflow_id", "step_id", "visit"],
                    set_={
                        name: ex[name]
                        for name in (
                            "step_type",
                            "status",
                            "result",
                            "error",
                            "started_at",
                            "finished_at",
                        )
                    },
                )
            )

    @activity.defn(name=FINISH_RUN)
    async def finish_run(self, req: FinishRunRequest) -> None:
        """Close the run; a retry keeps the first finish time."""
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(
                update(JourneyRun)
                .where(JourneyRun.workflow_id == req.workflow_id)
                .values(
                    status=req.status,
                    outcome=req.outcome,
                    path=req.path,
                    finished_at=func.coalesce(JourneyRun.finished_at, literal(utcnow(), UtcDateTime())),
                )
            )
        if result.rowcount == 0:
            # Retryable: the client records a run right after starting it and may still be late.
            raise ApplicationError(
                f"run {req.workflow_id!r} was never recorded; record_run must come first",
                type="RunNotRecorded",
            )

    @activity.defn(name=RECORD_REVIEW)
    async def record_review(self, req: RecordReviewRequest) -> None:
        """Upsert a review by id, moving its status only forward (pending → escalated → decided).

        A write that would move it backwards is a stale duplicate; it is logged and ignored rather
        than raised, because retrying it could never succeed.
        """
        table = Review.__table__
        now = utcnow()
        decided_at = now if req.status in DECIDED_STATUSES else None
        async with self.sessionmaker() as session, session.begin():
            stmt = insert_for(session, Review).values(
                **req.model_dump(), created_at=now, decided_at=decided_at
            )
            ex = stmt.excluded
            updates = {
                name: ex[name]
                for name in (
                    "status",
                    "group",
                    "deadline",
                    "reviewer",
                    "chosen_variant",
                    "edited_body",
                    "reason",
                )
            }
            if req.variants:
                updates["variants"] = ex.variants
            same_status = table.c.status == req.status
            updates["decided_at"] = case((same_status, table.c.decided_at), else_=ex.decided_at)
            result = await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["review_id"],
                    set_=updates,
                    where=table.c.status.in_(REVIEW_TRANSITIONS[req.status]),
                )
            )
            if result.rowcount == 0:
                current = await session.scalar(select(Review.status).where(Review.review_id == req.review_id))
                log.warning(
                    "review %s: ignored stale status %r (stored: %r)",
                    req.review_id,
                    req.status,
                    current,
                )
