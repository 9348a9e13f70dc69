"""Review decisions are made by reviewer accounts: a key decides as its own account, and a signal
naming someone without an account for the group is refused, recorded and shown.

Before, any key with the review scope decided as whoever the body named, and a plain Temporal
signal approved as "Mallory (no account)", recorded under that name.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import WorkflowUpdateFailedError

from journeys_app.service.review_context import load_review_context
from journeys_app.store import queries
from journeys_app.store.api_keys import ApiKeyError, create_key
from journeys_app.store.reviewers import add_reviewer
from tests.gateway.conftest import Gateway, pending_review
from workflows.journey import JourneyWorkflow
from workflows.review import ReviewDecision

pytestmark = pytest.mark.slow


async def test_a_review_key_is_bound_to_a_reviewer_account(gw: Gateway) -> None:
    with pytest.raises(ApiKeyError, match="--reviewer"):
        await create_key(gw.sessionmaker, "helpdesk", ["review"])
    with pytest.raises(ApiKeyError, match="no reviewer account"):
        await create_key(gw.sessionmaker, "helpdesk", ["review"], reviewer="Nobody Here")


async def test_a_key_decides_as_its_own_account_only(gw: Gateway) -> None:
    ola, maria = f"Ola {uuid.uuid4().hex[:4]}", f"Maria {uuid.uuid4().hex[:4]}"
    await add_reviewer(gw.sessionmaker, ola, ["vip-care"])
    await add_reviewer(gw.sessionmaker, maria, ["vip-care"])
    key = await create_key(gw.sessionmaker, "helpdesk", ["review"], reviewer=ola)
    _, review_id = await pending_review(gw)
    async with gw.http(auth=(key, "")) as desk:
        as_maria = await desk.post(
            f"/v1/reviews/{review_id}", json={"decision": "approve", "reviewer": maria}
        )
        assert as_maria.status_code == 403 and f"decides as {ola!r}" in as_maria.json()["message"]
        approved = await desk.post(f"/v1/reviews/{review_id}", json={"decision": "approve"})
    assert approved.status_code == 200, approved.text
    review = await gw.service.wait_until_recorded(review_id)
    assert review is not None and review.status == "approved" and review.reviewer == ola


async def test_a_signal_from_no_account_is_refused_recorded_and_shown(gw: Gateway) -> None:
    workflow_id, review_id = await pending_review(gw)
    handle = gw.client.get_workflow_handle(workflow_id)
    forged = {
        "review_id": review_id,
        "decision": "approve",
        "reviewer": "Mallory (no account)",
        "groups": ["vip-care"],
    }
    await handle.signal("review", forged)
    async with asyncio.timeout(30):
        while True:
            context = await load_review_context(gw.service, review_id)
            if context.refused:
                break
            await asyncio.sleep(0.2)
    assert "approve by Mallory (no account) via signal refused (no reviewer account" in context.refused[0]
    state = await handle.query(JourneyWorkflow.state)
    assert state.pending_review is not None and state.pending_review.review_id == review_id  # still open
    review = await queries.get_review(gw.sessionmaker, review_id)
    assert review is not None and review.status == "pending" and review.reviewer is None
    with pytest.raises(WorkflowUpdateFailedError):  # an update straight to Temporal is checked too
        await handle.execute_update(JourneyWorkflow.submit_review, ReviewDecision.model_validate(forged))
    assert len((await load_review_context(gw.service, review_id)).refused) == 2

    ines = f"Ines {uuid.uuid4().hex[:4]}"
    await add_reviewer(gw.sessionmaker, ines, ["vip-care"])
    await handle.signal("review", {**forged, "reviewer": ines, "groups": []})
    assert (await handle.result())["outcome"] == "decided"
    review = await queries.get_review(gw.sessionmaker, review_id)
    assert review is not None and review.status == "approved" and review.reviewer == ines


async def test_a_decision_for_a_run_that_has_ended_is_a_conflict(gw: Gateway) -> None:
    """Found by the schemathesis run: this answered 500 (Temporal's NOT_FOUND, unhandled)."""
    desk = f"Desk {uuid.uuid4().hex[:4]}"
    await add_reviewer(gw.sessionmaker, desk, ["vip-care"])
    key = await create_key(gw.sessionmaker, "desk", ["review"], reviewer=desk)
    workflow_id, review_id = await pending_review(gw)
    await gw.client.get_workflow_handle(workflow_id).terminate(reason="an operator stopped it")
    async with gw.http(auth=(key, "")) as web:
        late = await web.post(f"/v1/reviews/{review_id}", json={"decision": "approve"})
    assert late.status_code == 409, late.text
    assert late.json()["message"] == f"review {review_id} is closed (pending): its run has ended"
