"""check_reviewer: a decision reaching a run names an existing account allowed for the review's group.

Signals and updates can be sent by anyone who can reach Temporal, naming any reviewer; the run
asks the store before it accepts one. A refusal is written to the audit log, where
`journeys review show` and the console show it.
"""

from __future__ import annotations

from temporalio import activity

from activities.base import StoreActivityBase
from activities.contracts import CHECK_REVIEWER, CheckReviewerRequest, CheckReviewerResult
from journeys_app.store.audit import audit_entry, write_audit
from journeys_app.store.reviewers import get_reviewer

REVIEW_REFUSED = "review_refused"


class ReviewerActivities(StoreActivityBase):
    @activity.defn(name=CHECK_REVIEWER)
    async def check_reviewer(self, req: CheckReviewerRequest) -> CheckReviewerResult:
        account = await get_reviewer(self.sessionmaker, req.reviewer)
        if account is not None and req.group in account.groups:
            return CheckReviewerResult(allowed=True, groups=account.groups)
        reason = (
            f"no reviewer account {req.reviewer!r}"
            if account is None
            else f"{account.name} reviews for {', '.join(account.groups)}, not for {req.group}"
        )
        async with self.sessionmaker() as session, session.begin():
            await write_audit(
                session,
                **audit_entry(
                    req.reviewer,
                    REVIEW_REFUSED,
                    input=req.model_dump(mode="json"),
                    output_summary=f"{req.decision} by {req.reviewer} via {req.via} refused: {reason}",
                    customer_id=req.customer_id,
                    workflow_id=req.workflow_id,
                    subject=req.review_id,
                    details={"via": req.via, "decision": req.decision, "group": req.group, "reason": reason},
                ),
            )
        activity.logger.warning("review %s: %s refused (%s)", req.review_id, req.decision, reason)
        return CheckReviewerResult(allowed=False, reason=reason)
