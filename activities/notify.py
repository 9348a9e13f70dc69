"""The notify step's effect: an internal escalation posted to a named webhook target.

The notification row is written (once per idempotency key) before the POST and updated after
it, so the store always says whether the target was reached. Receivers get the key in an
`Idempotency-Key` header to drop the rare duplicate POST of a retried attempt.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.base import StoreActivityBase
from activities.contracts import NOTIFY, NotifyRequest, NotifyResult
from journeys_app.core.masking import mask_text, mask_values
from journeys_app.store.schema import Notification, utcnow
from journeys_app.store.sql import insert_if_absent

WEBHOOK_TIMEOUT_S = 5.0
# Statuses that say "try again later"; other non-2xx answers are final and are recorded.
TRANSIENT_STATUSES = frozenset({408, 425, 429})


class NotifyActivities(StoreActivityBase):
    @activity.defn(name=NOTIFY)
    async def notify(self, req: NotifyRequest) -> NotifyResult:
        """Record the notification and POST it to the target's webhook, if one is configured.

        Raises (so Temporal retries) only when the webhook could not be reached or answered
        with a transient status; a missing target or a final rejection is recorded, not raised.
        `duplicate` is true when this call found the key already handled and did nothing new.
        """
        # Whatever a customer typed into a message (a phone number, an email) may be quoted in the
        # alert: it is masked before it is stored or leaves for the webhook.
        req = req.model_copy(update={"message": mask_text(req.message), "payload": mask_values(req.payload)})
        notification_id, existed, delivered, detail = await self._claim(req)
        if delivered:
            return NotifyResult(
                notification_id=notification_id, delivered=True, duplicate=True, detail=detail
            )
        url = self.settings.notify_targets.get(req.target)
        if not url:
            detail = f"no webhook configured for target {req.target}"
            await self._record(notification_id, delivered=False, detail=detail)
            return NotifyResult(
                notification_id=notification_id, delivered=False, duplicate=existed, detail=detail
            )
        try:
            response = await self._post(url, req)
        except httpx.TransportError as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            await self._record(notification_id, delivered=False, detail=f"transport error: {reason}")
            raise ApplicationError(
                f"notify: webhook of target {req.target!r} unreachable ({reason})",
                type="NotifyTransportError",
            ) from exc
        code = response.status_code
        if response.is_success:
            detail = f"HTTP {code}"
            await self._record(notification_id, delivered=True, detail=detail)
            return NotifyResult(notification_id=notification_id, delivered=True, detail=detail)
        detail = f"HTTP {code} {response.reason_phrase}".strip()
        await self._record(notification_id, delivered=False, detail=detail)
        if code >= 500 or code in TRANSIENT_STATUSES:
            raise ApplicationError(
                f"notify: webhook of target {req.target!r} answered {detail}",
                type="NotifyWebhookUnavailable",
            )
        return NotifyResult(notification_id=notification_id, delivered=False, detail=detail)

    async def _claim(self, req: NotifyRequest) -> tuple[int, bool, bool, str]:
        """(id, existed, delivered, detail) of the key's row, inserting it if new."""
        async with self.sessionmaker() as session, session.begin():
            values = {**req.model_dump(), "delivered": False, "detail": "", "created_at": utcnow()}
            added = await insert_if_absent(
                session, Notification, values, key=["idempotency_key"], returning=[Notification.id]
            )
            if added:
                return added[0].id, False, False, ""
            row = (
                await session.execute(
                    select(Notification.id, Notification.delivered, Notification.detail).where(
                        Notification.idempotency_key == req.idempotency_key
                    )
                )
            ).one()
            return row.id, True, row.delivered, row.detail

    async def _record(self, notification_id: int, *, delivered: bool, detail: str) -> None:
        """Store the latest outcome; never downgrades a row another attempt already delivered."""
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(Notification)
                .where(Notification.id == notification_id, Notification.delivered.is_(False))
                .values(
                    delivered=delivered,
                    detail=detail,
                    delivered_at=utcnow() if delivered else None,
                )
            )

    @staticmethod
    async def _post(url: str, req: NotifyRequest) -> httpx.Response:
        body: dict[str, Any] = {
            "idempotency_key": req.idempotency_key,
            "workflow_id": req.workflow_id,
            "customer_id": req.customer_id,
            "target": req.target,
            "message": req.message,
            "payload": req.payload,
        }
        async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_S) as client:
            return await client.post(url, json=body, headers={"Idempotency-Key": req.idempotency_key})
