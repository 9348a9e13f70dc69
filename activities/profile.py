"""The update_profile step's effect: tags, attributes and consent on the customer record."""

from __future__ import annotations

from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.base import StoreActivityBase
from activities.contracts import UPDATE_PROFILE, UpdateProfileRequest, UpdateProfileResult
from journeys_app.store.audit import audit_entry, write_audit
from journeys_app.store.customers import to_profile
from journeys_app.store.schema import AppliedEffect, Customer, utcnow
from journeys_app.store.sql import insert_for, insert_if_absent


def apply_update(customer: Customer, req: UpdateProfileRequest) -> None:
    """Merge the request into the row: tags added then removed (order kept), dicts merged."""
    removed = set(req.remove_tags)
    tags = list(customer.tags or [])
    tags += [t for t in dict.fromkeys(req.add_tags) if t not in tags]
    customer.tags = [t for t in tags if t not in removed]
    customer.attributes = {**(customer.attributes or {}), **req.attributes}
    customer.consent = {**(customer.consent or {}), **req.consent}
    customer.updated_at = utcnow()


def consent_changes(old: dict[str, bool] | None, new: dict[str, bool]) -> dict[str, dict[str, bool | None]]:
    """Per channel whose consent the update changes: {"old": …, "new": …} (old None: never given)."""
    old = old or {}
    return {ch: {"old": old.get(ch), "new": v} for ch, v in new.items() if old.get(ch) != v}


def workflow_of(key: str) -> str | None:
    """The workflow id in an effect key `<workflow id>:<step id>:<visit>`; None for other keys."""
    parts = key.rsplit(":", 2)
    return parts[0] if len(parts) == 3 else None


class ProfileActivities(StoreActivityBase):
    @activity.defn(name=UPDATE_PROFILE)
    async def update_profile(self, req: UpdateProfileRequest) -> UpdateProfileResult:
        """Apply the update once per idempotency key and return the profile as it now stands.

        The key is claimed in `applied_effects` in the same transaction as the change, and that
        INSERT is the transaction's first statement: it takes SQLite's write lock and, on
        PostgreSQL, makes a concurrent duplicate wait for this commit and then see the claim.
        An unknown customer is created, so an opt-out is never lost. A consent change writes a
        `consent_change` audit entry in the same transaction.
        """
        async with self.sessionmaker() as session, session.begin():
            effect = {
                "key": req.idempotency_key,
                "kind": "update_profile",
                "customer_id": req.customer_id,
                "applied_at": utcnow(),
            }
            fresh = await insert_if_absent(
                session, AppliedEffect, effect, key=["key"], returning=[AppliedEffect.key]
            )
            if fresh:
                now = utcnow()
                await session.execute(
                    insert_for(session, Customer)
                    .values(id=req.customer_id, created_at=now, updated_at=now)
                    .on_conflict_do_nothing(index_elements=["id"])
                )
            customer = (
                await session.execute(
                    select(Customer)
                    .where(Customer.id == req.customer_id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).scalar_one_or_none()
            if customer is None:  # an earlier call with this key ran for another customer id
                raise ApplicationError(
                    f"idempotency key {req.idempotency_key!r} was already used, "
                    f"and customer {req.customer_id!r} does not exist",
                    type="IdempotencyKeyReused",
                    non_retryable=True,
                )
            if fresh:
                changes = consent_changes(customer.consent, req.consent)
                apply_update(customer, req)
                if changes:
                    workflow_id = workflow_of(req.idempotency_key)
                    await write_audit(
                        session,
                        **audit_entry(
                            f"journey:{workflow_id}" if workflow_id else "update_profile",
                            "consent_change",
                            input=req.model_dump(mode="json"),
                            output_summary="consent "
                            + ", ".join(f"{ch}: {c['old']}→{c['new']}" for ch, c in changes.items()),
                            customer_id=req.customer_id,
                            workflow_id=workflow_id,
                            subject=req.idempotency_key,
                            details={"consent": changes},
                        ),
                    )
            profile = to_profile(customer)
        return UpdateProfileResult(customer=profile)
