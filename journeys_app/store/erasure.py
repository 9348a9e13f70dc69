"""Right to erasure in the store: the customer's personal data is overwritten everywhere it lives.

Rows are kept (and keep the customer id, a pseudonym) so counts, audit and idempotency keys still
hold; their content is replaced. One audit entry says the erasure happened, without the data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select, update

from journeys_app.store.audit import audit_entry, audit_ref, write_audit
from journeys_app.store.engine import SessionMaker
from journeys_app.store.schema import (
    AuditEntry,
    Customer,
    DeadLetterRow,
    JourneyRun,
    Message,
    Notification,
    Review,
    StepResult,
    utcnow,
)

ERASED = "[erased]"


@dataclass
class ErasureReport:
    customer_found: bool
    runs: int
    messages: int
    reviews: int
    notifications: int
    audit_entries: int


async def erase_customer_data(sessionmaker: SessionMaker, customer_id: str, operator: str) -> ErasureReport:
    """Anonymise every row about the customer in one transaction, and audit that it happened."""
    async with sessionmaker() as session, session.begin():
        run_ids = list(
            await session.scalars(select(JourneyRun.workflow_id).where(JourneyRun.customer_id == customer_id))
        )
        found = (
            await session.execute(
                update(Customer)
                .where(Customer.id == customer_id)
                .values(
                    first_name="",
                    email=None,
                    phone=None,
                    attributes={},
                    tags=["erased"],
                    consent={"email": False, "sms": False, "push": False},
                    updated_at=utcnow(),
                )
            )
        ).rowcount
        messages = (
            await session.execute(
                update(Message).where(Message.customer_id == customer_id).values(subject=None, body=ERASED)
            )
        ).rowcount
        reviews = (
            await session.execute(
                update(Review)
                .where(Review.customer_id == customer_id)
                .values(variants=[], edited_body=None, reason=None, snippet="")
            )
        ).rowcount
        notifications = (
            await session.execute(
                update(Notification)
                .where(Notification.customer_id == customer_id)
                .values(message=ERASED, payload={})
            )
        ).rowcount
        if run_ids:
            await session.execute(
                update(StepResult)
                # A split's result is only the arm's name: the journey's report keeps it.
                .where(StepResult.workflow_id.in_(run_ids), StepResult.step_type != "split")
                .values(result={}, error=None)
            )
            await session.execute(
                update(JourneyRun)
                .where(JourneyRun.workflow_id.in_(run_ids), JourneyRun.status.in_(("starting", "running")))
                .values(status="exited", outcome="customer_erased", finished_at=utcnow())
            )
        await session.execute(
            update(DeadLetterRow).where(DeadLetterRow.customer_id == customer_id).values(error=ERASED)
        )
        audited = (
            await session.execute(
                update(AuditEntry)
                .where(AuditEntry.customer_id == audit_ref(customer_id))
                .values(output_summary=ERASED, details={})
            )
        ).rowcount
        report = ErasureReport(bool(found), len(run_ids), messages, reviews, notifications, audited)
        await write_audit(
            session,
            **audit_entry(
                operator,
                "customer_erased",
                input={"customer_id": customer_id},
                output_summary=(
                    f"erased: {report.runs} runs, {messages} messages, {reviews} reviews, "
                    f"{notifications} notifications, {audited} audit entries"
                ),
                customer_id=customer_id,
                details=asdict(report),
            ),
        )
    return report
