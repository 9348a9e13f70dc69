"""The send step's effect: a row in the outbox, exactly once per idempotency key.

Channel delivery (SMTP, SMS, push providers) reads the outbox in a later issue; for now a
"queued" row is the effect. Consent is checked here, at the last moment, so an opt-out that
arrived while the journey waited is still honoured.
"""

from __future__ import annotations

from sqlalchemy import select
from temporalio import activity

from activities.base import StoreActivityBase
from activities.contracts import SEND_MESSAGE, SendRequest, SendResult
from journeys_app.db.audit import audit_entry, write_audit
from journeys_app.db.schema import Customer, Message, utcnow
from journeys_app.db.sql import insert_for
from journeys_app.masking import mask_email, mask_phone


def consent_decision(req: SendRequest, consent: dict[str, bool] | None) -> tuple[str, str | None]:
    """(status, reason) for a send: marketing is suppressed where the channel's consent is false.

    Transactional messages (receipts, answers to the customer's own request) are not marketing
    and go out regardless; an absent consent entry is not a refusal.
    """
    if req.category == "marketing" and (consent or {}).get(req.channel) is False:
        return "suppressed", f"customer has not consented to marketing by {req.channel}"
    return "queued", None


def recipient(req: SendRequest, email: str | None, phone: str | None) -> str:
    """Who a message goes to, masked for the audit log: `c***@example.com`, `138****5678`, or the id."""
    if req.channel == "email" and email:
        return mask_email(email)
    if req.channel == "sms" and phone:
        return mask_phone(phone)
    return f"customer {req.customer_id}"


def send_summary(req: SendRequest, to: str, reason: str | None) -> str:
    text = f"{req.channel} to {to}: {req.subject or req.body[:80]}"
    return text + (f" (suppressed: {reason})" if reason else "")


class DeliveryActivities(StoreActivityBase):
    @activity.defn(name=SEND_MESSAGE)
    async def send_message(self, req: SendRequest) -> SendResult:
        """Insert the message under its idempotency key; a repeat returns the first row.

        The first insert also writes the `send` (or `send_suppressed`) audit entry, in its transaction.
        """
        async with self.sessionmaker() as session:
            contact = (
                await session.execute(
                    select(Customer.consent, Customer.email, Customer.phone).where(
                        Customer.id == req.customer_id
                    )
                )
            ).first()
        consent, email, phone = contact if contact is not None else (None, None, None)
        status, reason = consent_decision(req, consent)
        async with self.sessionmaker() as session, session.begin():
            stmt = (
                insert_for(session, Message)
                .values(**req.model_dump(), status=status, reason=reason, created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["idempotency_key"])
                .returning(Message.id, Message.status, Message.reason)
            )
            row = (await session.execute(stmt)).first()
            duplicate = row is None
            if not duplicate:
                await write_audit(
                    session,
                    **audit_entry(
                        f"journey:{req.workflow_id}",
                        "send" if status == "queued" else "send_suppressed",
                        input=req.model_dump(mode="json"),
                        output_summary=send_summary(req, recipient(req, email, phone), reason),
                        customer_id=req.customer_id,
                        workflow_id=req.workflow_id,
                        subject=req.step_id,
                        details={
                            "channel": req.channel,
                            "category": req.category,
                            "source": req.source,
                            "status": status,
                            "idempotency_key": req.idempotency_key,
                        },
                    ),
                )
            if row is None:
                row = (
                    await session.execute(
                        select(Message.id, Message.status, Message.reason).where(
                            Message.idempotency_key == req.idempotency_key
                        )
                    )
                ).one()
        return SendResult(message_id=row.id, status=row.status, reason=row.reason, duplicate=duplicate)
