"""Activities that record what a journey did: runs, step results, reviews; and load customers.

Every write is INSERT … ON CONFLICT, so a retried or duplicated activity converges on the same row
instead of failing or adding a second one. An insert-if-absent comes first: it tells a first write
from a repeat, and only a first write (or a real status change) adds its audit entry.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import case, func, literal, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.base import StoreActivityBase
from activities.contracts import (
    BEGIN_RUN,
    FINISH_RUN,
    LOAD_CUSTOMER,
    RECORD_REVIEW,
    RECORD_RUN,
    RECORD_STEP,
    RECORD_STEPS,
    CustomerProfile,
    FinishRunRequest,
    LoadCustomerRequest,
    LoadCustomerResult,
    RecordReviewRequest,
    RecordRunRequest,
    RecordStepRequest,
    RecordStepsRequest,
)
from journeys_app.store.audit import audit_entry, write_audit, write_audit_rows
from journeys_app.store.customers import to_profile
from journeys_app.store.queries import run_row
from journeys_app.store.schema import Customer, JourneyRun, Review, StepResult, UtcDateTime, utcnow
from journeys_app.store.sql import insert_for, insert_if_absent
from workflows.steps import KINDS, MODEL_STEP_TYPES

log = logging.getLogger(__name__)

DECIDED_STATUSES = frozenset({"approved", "edited", "rejected", "regenerated", "timed_out"})
AUDITED_REVIEW_STATUSES = DECIDED_STATUSES | {"escalated"}
# For each new review status, the stored statuses it may replace (itself included, for retries).
# Anything else is a stale write (e.g. a late retry of "pending" after the decision) and is ignored.
REVIEW_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"pending"}),
    "escalated": frozenset({"pending", "escalated"}),
    **{s: frozenset({"pending", "escalated", s}) for s in DECIDED_STATUSES},
}


def model_call_summary(step_type: str, result: dict[str, Any]) -> str:
    """One line about a model step's output: `complaint 0.87 negative/high`, `customer_value vip 0.98`,
    `2 variants (model, template_default)`."""
    describe = KINDS[step_type].describe if step_type in KINDS else None
    text = describe(result) if describe else step_type
    return text + (" (degraded)" if result.get("degraded") else "")


def _is_model_call(step: RecordStepRequest) -> bool:
    result = step.result
    return step.step_type in MODEL_STEP_TYPES and bool(result.get("backend")) and bool(result.get("model"))


def _model_call_entry(step: RecordStepRequest, customer_id: str | None) -> dict[str, Any]:
    result = step.result
    return audit_entry(
        f"inference:{result['backend']}/{result['model']}",
        "model_call",
        input={
            "workflow_id": step.workflow_id,
            "step_id": step.step_id,
            "visit": step.visit,
            "step_type": step.step_type,
            "result": result,
        },
        output_summary=model_call_summary(step.step_type, result),
        customer_id=customer_id,
        workflow_id=step.workflow_id,
        subject=step.step_id,
        details={
            "step_type": step.step_type,
            "visit": step.visit,
            "degraded": bool(result.get("degraded", False)),
            "requested_at": step.started_at.isoformat(),
        },
    )


def review_summary(req: RecordReviewRequest) -> str:
    by = req.reviewer or "system"
    text = f"review {req.review_id} {req.status} by {by}"
    if req.chosen_variant is not None:
        text += f", variant {req.chosen_variant}"
    if req.edited_body:
        text += f"; edited: {req.edited_body[:200]}"
    if req.reason:
        text += f"; reason: {req.reason}"
    return text


class StoreActivities(StoreActivityBase):
    @activity.defn(name=LOAD_CUSTOMER)
    async def load_customer(self, req: LoadCustomerRequest) -> LoadCustomerResult:
        """The customer's profile without contact details; unknown ids get a bare profile."""
        async with self.sessionmaker() as session:
            return await self._load_customer(session, req.customer_id)

    @staticmethod
    async def _load_customer(session: AsyncSession, customer_id: str) -> LoadCustomerResult:
        customer = await session.get(Customer, customer_id)
        if customer is None:
            return LoadCustomerResult(found=False, customer=CustomerProfile(id=customer_id))
        return LoadCustomerResult(found=True, customer=to_profile(customer))

    @activity.defn(name=BEGIN_RUN)
    async def begin_run(self, req: RecordRunRequest) -> LoadCustomerResult:
        """record_run and load_customer in one transaction: a run's start costs one write."""
        async with self.sessionmaker() as session, session.begin():
            await self._record_run(session, req)
            return await self._load_customer(session, req.customer_id)

    @activity.defn(name=RECORD_RUN)
    async def record_run(self, req: RecordRunRequest) -> None:
        """Upsert the run row. A row of a finished run means the workflow id was reused for a new
        run, so its status, outcome, path and times start over."""
        async with self.sessionmaker() as session, session.begin():
            await self._record_run(session, req)

    async def _record_run(self, session: AsyncSession, req: RecordRunRequest) -> None:
        table = JourneyRun.__table__
        values = run_row(req, "running", utcnow())
        # Insert-if-absent first: it tells a new run from a retry (and takes SQLite's write lock).
        fresh = bool(
            await insert_if_absent(
                session, JourneyRun, values, key=["workflow_id"], returning=[JourneyRun.workflow_id]
            )
        )
        restarted = False
        if not fresh:
            previous = await session.scalar(
                select(JourneyRun.status).where(JourneyRun.workflow_id == req.workflow_id).with_for_update()
            )
            restarted = previous != "running"  # a finished run's id reused, or the client's early row
            await self._upsert_run(session, table, values)
        if fresh or restarted:
            await write_audit(
                session,
                **audit_entry(
                    f"journey:{req.workflow_id}",
                    "journey_started",
                    input=req.model_dump(mode="json"),
                    output_summary=(
                        f"{req.journey_id} v{req.journey_version} ({req.spec_hash}) "
                        f"started by {req.trigger_event or 'a direct start'}"
                    ),
                    customer_id=req.customer_id,
                    workflow_id=req.workflow_id,
                    subject=f"{req.journey_id} v{req.journey_version}",
                    details={
                        "journey_id": req.journey_id,
                        "journey_version": req.journey_version,
                        "spec_hash": req.spec_hash,
                        "entry_key": req.entry_key,
                        "trigger_event": req.trigger_event,
                    },
                ),
            )

    @staticmethod
    async def _upsert_run(session: AsyncSession, table: Any, values: dict[str, Any]) -> None:
        """The upsert of an existing run row: a finished run's row starts over, a running one is kept."""
        stmt = insert_for(session, JourneyRun).values(**values)
        ex = stmt.excluded
        same_run = table.c.status.in_(("starting", "running"))  # "starting": the client's early row
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
                    "goal_event": ex.goal_event,
                    "goal_until": case((same_run, table.c.goal_until), else_=ex.goal_until),
                    "finished_at": case((same_run, table.c.finished_at), else_=null()),
                },
            )
        )

    @activity.defn(name=RECORD_STEP)
    async def record_step(self, req: RecordStepRequest) -> None:
        """Upsert the result of one step visit, keyed by (workflow_id, step_id, visit).

        A model step's first write also writes its `model_call` audit entry; a retry does not.
        """
        async with self.sessionmaker() as session, session.begin():
            await self._record_steps(session, [req])

    @activity.defn(name=RECORD_STEPS)
    async def record_steps(self, req: RecordStepsRequest) -> None:
        """record_step for several step visits of one run, and where the run is now, in one
        transaction."""
        async with self.sessionmaker() as session, session.begin():
            await self._record_steps(session, req.steps)
            if req.workflow_id and req.current_step:
                await session.execute(
                    update(JourneyRun)
                    .where(JourneyRun.workflow_id == req.workflow_id, JourneyRun.status == "running")
                    .values(current_step=req.current_step)
                )

    @staticmethod
    async def _record_steps(session: AsyncSession, steps: list[RecordStepRequest]) -> None:
        """One INSERT for all the step rows; the rows already there (a retry) are updated in place,
        and the model steps written for the first time get their audit entries in one more INSERT."""
        if not steps:
            return
        table = StepResult.__table__
        key = ["workflow_id", "step_id", "visit"]
        rows = [step.model_dump() for step in steps]
        inserted = await insert_if_absent(
            session, table, rows, key=key, returning=[table.c.workflow_id, table.c.step_id, table.c.visit]
        )
        fresh = {tuple(row) for row in inserted}
        repeated = [row for row in rows if (row["workflow_id"], row["step_id"], row["visit"]) not in fresh]
        if repeated:
            stmt = insert_for(session, table)
            columns = ("step_type", "status", "result", "error", "started_at", "finished_at")
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=key, set_={name: stmt.excluded[name] for name in columns}
                ),
                repeated,
            )
        calls = [
            step
            for step in steps
            if (step.workflow_id, step.step_id, step.visit) in fresh and _is_model_call(step)
        ]
        if calls:
            customers = dict(
                (
                    await session.execute(
                        select(JourneyRun.workflow_id, JourneyRun.customer_id).where(
                            JourneyRun.workflow_id.in_({step.workflow_id for step in calls})
                        )
                    )
                ).all()
            )
            await write_audit_rows(
                session, [_model_call_entry(step, customers.get(step.workflow_id)) for step in calls]
            )

    @activity.defn(name=FINISH_RUN)
    async def finish_run(self, req: FinishRunRequest) -> None:
        """Close the run (writing the step records it carries); a retry keeps the first finish time."""
        async with self.sessionmaker() as session, session.begin():
            await self._record_steps(session, req.steps)
            result = await session.execute(
                update(JourneyRun)
                .where(JourneyRun.workflow_id == req.workflow_id)
                .values(
                    status=req.status,
                    outcome=req.outcome,
                    path=req.path,
                    current_step=None,
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
        than raised, because retrying it could never succeed. A decision or escalation writes its
        `review_<status>` audit entry once, when it changes the stored status.
        """
        now = utcnow()
        decided_at = now if req.status in DECIDED_STATUSES else None
        async with self.sessionmaker() as session, session.begin():
            values = {**req.model_dump(), "created_at": now, "decided_at": decided_at}
            # Insert-if-absent first: a new row needs no upsert, and on SQLite it takes the write lock.
            fresh = bool(
                await insert_if_absent(
                    session, Review, values, key=["review_id"], returning=[Review.review_id]
                )
            )
            changed = fresh or await self._update_review(session, req, values)
            if changed and req.status in AUDITED_REVIEW_STATUSES:
                await write_audit(
                    session,
                    **audit_entry(
                        req.reviewer or "system",
                        f"review_{req.status}",
                        input=req.model_dump(mode="json"),
                        output_summary=review_summary(req),
                        customer_id=req.customer_id,
                        workflow_id=req.workflow_id,
                        subject=req.review_id,
                        details={
                            "step_id": req.step_id,
                            "group": req.group,
                            "chosen_variant": req.chosen_variant,
                            "edited": req.edited_body is not None,
                        },
                    ),
                )

    @staticmethod
    async def _update_review(session: AsyncSession, req: RecordReviewRequest, values: dict[str, Any]) -> bool:
        """Move an existing review forward; True if its status changed (not a retry, not stale)."""
        table = Review.__table__
        previous = await session.scalar(
            select(Review.status).where(Review.review_id == req.review_id).with_for_update()
        )
        stmt = insert_for(session, Review).values(**values)
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
            log.warning(
                "review %s: ignored stale status %r (stored: %r)", req.review_id, req.status, previous
            )
            return False
        return previous != req.status
