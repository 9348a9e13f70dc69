"""The send step's effect: a row in the outbox, exactly once per idempotency key, then delivery.

Consent is checked here, at the last moment, so an opt-out that arrived while the journey waited
is still honoured. Email goes out through SMTP, SMS, push and webhook messages through signed HTTP
providers, when configured; otherwise the message stays "queued" in the outbox.

Exactly once across crashes: the row moves queued → sending (committed) before the provider is
contacted, and sending → sent after it accepted. A retry that finds "sending" cannot know whether
the earlier attempt's message left. For email (SMTP has no idempotency key) it does not send again:
the row becomes "unconfirmed" for an operator, never a duplicate in the inbox. HTTP providers get
the same Idempotency-Key again and deduplicate it themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.base import StoreActivityBase
from activities.channels import NotSent, Refused, http, smtp
from activities.contracts import SEND_MESSAGE, SendRequest, SendResult
from journeys_app.core.masking import mask_email, mask_phone
from journeys_app.core.unsubscribe import unsubscribe_url
from journeys_app.store.audit import audit_entry, write_audit
from journeys_app.store.schema import Customer, Message, utcnow
from journeys_app.store.sql import insert_if_absent


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
            if status == "queued" and req.category == "marketing":
                status, reason = await self._frequency_cap(session, req)
            values = {**req.model_dump(), "status": status, "reason": reason, "created_at": utcnow()}
            added = await insert_if_absent(
                session,
                Message,
                values,
                key=["idempotency_key"],
                returning=[Message.id, Message.status, Message.reason],
            )
            row = added[0] if added else None
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
        status, reason = row.status, row.reason
        if status in ("queued", "sending"):
            if req.channel == "email" and self.settings.smtp_host:
                status, reason = await self._deliver_email(row.id, req, email)
            elif req.channel in self.settings.channel_urls:
                status, reason = await self._deliver_http(row.id, req, phone)
        return SendResult(message_id=row.id, status=status, reason=reason, duplicate=duplicate)

    async def _frequency_cap(self, session: AsyncSession, req: SendRequest) -> tuple[str, str | None]:
        """Marketing beyond JOURNEYS_MARKETING_CAP messages per channel in the window is suppressed.

        Runs in the transaction that inserts the message, after a write to the customer's row: a
        row lock on PostgreSQL, the write lock on SQLite. Concurrent sends to one customer so count
        each other, and the cap holds under load.
        """
        cap, days = self.settings.marketing_cap, self.settings.marketing_cap_days
        if cap <= 0:
            return "queued", None
        await session.execute(
            update(Customer)
            .where(Customer.id == req.customer_id)
            .values(updated_at=Customer.updated_at)  # a write that changes nothing
            .execution_options(synchronize_session=False)
        )
        recent = await session.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.customer_id == req.customer_id,
                Message.channel == req.channel,
                Message.category == "marketing",
                Message.status.in_(("queued", "sending", "sent", "unconfirmed")),
                Message.created_at >= utcnow() - timedelta(days=days),
                Message.idempotency_key != req.idempotency_key,
            )
        )
        if (recent or 0) >= cap:
            return "suppressed", (
                f"frequency cap: {recent} marketing {req.channel} messages in the last {days:g} days "
                f"(at most {cap})"
            )
        return "queued", None

    async def _deliver_email(
        self, row_id: int, req: SendRequest, email: str | None
    ) -> tuple[str, str | None]:
        if not email:
            return await self._finish_delivery(row_id, req, "failed", "no email address on record")
        if not await self._claim_delivery(row_id):
            # SMTP has no idempotency key: a second copy could reach the customer, so none is sent.
            return await self._finish_delivery(
                row_id, req, "unconfirmed", "an earlier attempt may have sent it; not sent again"
            )
        link = (
            unsubscribe_url(self.settings, req.customer_id, "email") if req.category == "marketing" else None
        )
        message = smtp.build_email(self.settings, email, req.subject, req.body, req.idempotency_key, link)
        return await self._hand_over(row_id, req, smtp.send_email(self.settings, message))

    async def _deliver_http(self, row_id: int, req: SendRequest, phone: str | None) -> tuple[str, str | None]:
        if req.channel == "sms" and not phone:
            return await self._finish_delivery(row_id, req, "failed", "no phone number on record")
        # An unconfirmed earlier attempt is resent with the same Idempotency-Key: the provider
        # deduplicates it, so the customer still gets the message once.
        await self._claim_delivery(row_id)
        payload = {
            "channel": req.channel,
            "customer_id": req.customer_id,
            "to": phone if req.channel == "sms" else req.customer_id,
            "subject": req.subject,
            "body": req.body,
            "category": req.category,
        }
        send = http.post_message(
            self.settings.channel_urls[req.channel],
            self.settings.channel_secret,
            payload,
            req.idempotency_key,
            self.settings.channel_timeout_s,
        )
        return await self._hand_over(row_id, req, send)

    async def _hand_over(self, row_id: int, req: SendRequest, send: Awaitable[str]) -> tuple[str, str | None]:
        try:
            reply = await send
        except NotSent as exc:
            await self._set_delivery_status(row_id, "queued", str(exc))  # certainly not sent: retry
            raise ApplicationError(str(exc), type="DeliveryDeferred") from exc
        except Refused as exc:
            return await self._finish_delivery(row_id, req, "failed", str(exc))
        return await self._finish_delivery(row_id, req, "sent", None, reply)

    async def _claim_delivery(self, row_id: int) -> bool:
        """queued → sending; False if another attempt got there first (the message may have left)."""
        async with self.sessionmaker() as session, session.begin():
            result = await session.execute(
                update(Message)
                .where(Message.id == row_id, Message.status == "queued")
                .values(status="sending")
            )
        return result.rowcount == 1

    async def _set_delivery_status(
        self, row_id: int, status: str, reason: str | None, reply: str | None = None
    ) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(Message)
                .where(Message.id == row_id)
                .values(
                    status=status,
                    reason=reason,
                    provider_response=reply,
                    sent_at=utcnow() if status == "sent" else None,
                )
            )

    async def _finish_delivery(
        self, row_id: int, req: SendRequest, status: str, reason: str | None, reply: str | None = None
    ) -> tuple[str, str | None]:
        """Record the outcome and audit it (`delivered`, `delivery_failed`, `delivery_unconfirmed`)."""
        await self._set_delivery_status(row_id, status, reason, reply)
        action = {"sent": "delivered", "failed": "delivery_failed"}.get(status, "delivery_unconfirmed")
        async with self.sessionmaker() as session, session.begin():
            await write_audit(
                session,
                **audit_entry(
                    "smtp" if req.channel == "email" else f"{req.channel}-provider",
                    action,
                    input={"message_id": row_id, "idempotency_key": req.idempotency_key},
                    output_summary=f"{req.channel} {status}" + (f": {reason}" if reason else f" ({reply})"),
                    customer_id=req.customer_id,
                    workflow_id=req.workflow_id,
                    subject=req.step_id,
                    details={"status": status, "provider_response": reply},
                ),
            )
        return status, reason
