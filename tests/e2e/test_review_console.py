"""The review console in headless Chromium, on a real review from a real journey run.

Debian's Chromium (`make test` installs it) driven by Playwright: sign in, open the pending
review, approve it, and see the run move on. Also: another group's reviewer is refused, and a
second approval of the same review is refused.
"""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowUpdateFailedError

from journeys_app.edges.http_server import serve_console
from journeys_app.store import queries
from journeys_app.store.reviewers import add_reviewer
from workflows.models import CustomerEvent
from workflows.review import ReviewDecision

pytestmark = [pytest.mark.models, pytest.mark.slow]


async def vip_complaint_review(stack) -> tuple[str, str]:
    """Start complaint routing for a VIP; returns (workflow id, review id) once the review waits."""
    event = CustomerEvent(
        name="message_received",
        properties={"text": "My sofa arrived with a torn cushion and nobody answers my emails!"},
        message_id=f"m-{uuid.uuid4()}",
    )
    decision = await stack.service.decide("complaint_routing", "cust-ava", event)
    state = await stack.wait_for(decision.workflow_id, lambda s: s.pending_review is not None, timeout=120)
    return decision.workflow_id, state.pending_review.review_id


async def test_reviewer_signs_in_and_approves_in_the_browser(stack, browser) -> None:
    workflow_id, review_id = await vip_complaint_review(stack)
    name = f"Ines {uuid.uuid4().hex[:4]}"
    password = await add_reviewer(stack.sessionmaker, name, ["vip-care"])
    outsider = f"Sam {uuid.uuid4().hex[:4]}"
    outsider_password = await add_reviewer(stack.sessionmaker, outsider, ["lifecycle"])
    settings = stack.settings.model_copy(update={"console_port": 0, "console_secret": "test-secret"})

    async with serve_console(stack.service, settings) as url:
        page = await (await browser.new_context()).new_page()
        await page.goto(f"{url}/")
        assert page.url.endswith("/login")  # not signed in: the queue sends you to sign in
        await page.get_by_label("Name").fill(name)
        await page.get_by_label("Password").fill("not the password")
        await page.get_by_role("button", name="Sign in").click()
        assert "Unknown name or wrong password" in await page.get_by_role("alert").inner_text()

        await page.get_by_label("Name").fill(name)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("link", name=review_id).click()
        assert "torn cushion" in await page.content()  # the customer's message, as context
        assert await page.get_by_role("region", name="Variant 0").is_visible()
        assert "intent complaint" in await page.content()
        await page.get_by_role("button", name="Approve").click()
        assert "Approved" in await page.get_by_role("status").inner_text()
        assert await page.locator("#status").inner_text() == "approved"

        # The run moved on past the review, to the send and the wait for a reply.
        state = await stack.wait_for(workflow_id, lambda s: s.current_step == "wait_reply", timeout=60)
        assert (
            state.results["review"]["reviewer"] == name and state.results["review"]["decision"] == "approved"
        )
        review = await queries.get_review(stack.sessionmaker, review_id)
        assert review.status == "approved" and review.reviewer == name and review.decided_at is not None

        # A second approval of the same review is refused by the run itself.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await stack.service.review(ReviewDecision(review_id=review_id, decision="approve", reviewer=name))
        assert "already decided" in str(refused.value.cause)

        # A reviewer of another group cannot open or decide it.
        other = await (await browser.new_context()).new_page()
        await other.goto(f"{url}/login")
        await other.get_by_label("Name").fill(outsider)
        await other.get_by_label("Password").fill(outsider_password)
        await other.get_by_role("button", name="Sign in").click()
        assert review_id not in await other.content()  # not in their queue
        response = await other.goto(f"{url}/reviews/{review_id}")
        assert response.status == 403 and "belongs to group vip-care" in await other.content()


async def test_console_refuses_bad_forms_with_clear_messages(stack) -> None:
    """Over HTTP, without a browser: CSRF, a rejection without reason, an edit failing guardrails."""
    import re

    import httpx

    from journeys_app.edges.console.app import create_console_app

    _, review_id = await vip_complaint_review(stack)
    name = f"Lea {uuid.uuid4().hex[:4]}"
    password = await add_reviewer(stack.sessionmaker, name, ["vip-care"])
    app = create_console_app(stack.service, stack.settings.model_copy(update={"console_secret": "s"}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://console", follow_redirects=True
    ) as web:
        csrf = re.search(r'name="csrf" value="([^"]+)"', (await web.get("/login")).text).group(1)
        forged = await web.post("/login", data={"name": name, "password": password, "csrf": "forged"})
        assert forged.status_code == 403 and "form expired" in forged.text
        signed_in = await web.post("/login", data={"name": name, "password": password, "csrf": csrf})
        csrf = re.search(r'name="csrf" value="([^"]+)"', signed_in.text).group(1)  # a new session's token

        decide = f"/reviews/{review_id}/decision"
        no_reason = await web.post(decide, data={"action": "reject", "csrf": csrf})
        assert no_reason.status_code == 409 and "a rejection needs a reason" in no_reason.text
        bad_edit = await web.post(
            decide,
            data={"action": "edit", "body": "Hi {{ customer.first_name }}", "subject": "Hi", "csrf": csrf},
        )
        assert bad_edit.status_code == 403 and "fails the guardrails" in bad_edit.text
        assert (
            await queries.get_review(stack.sessionmaker, review_id)
        ).status == "pending"  # nothing decided

        rejected = await web.post(
            decide, data={"action": "reject", "reason": "Tone is off for a VIP", "csrf": csrf}
        )
        assert rejected.status_code == 200 and "Rejected." in rejected.text
        again = await web.post(decide, data={"action": "approve", "csrf": csrf})
        assert again.status_code == 409  # already decided
    review = await queries.get_review(stack.sessionmaker, review_id)
    assert (review.status, review.reviewer, review.reason) == ("rejected", name, "Tone is off for a VIP")


async def test_stock_temporal_cli_signal_with_plain_json_approves(stack) -> None:
    """The README's `temporal workflow signal … --name review --input '{…}'`, exactly as written,
    from a reviewer account of the review's group (a signal from anyone else is refused)."""
    import asyncio
    import json

    from journeys_app.devtools.stack import find_binary
    from journeys_app.store.reviewers import ensure_reviewer

    await ensure_reviewer(stack.sessionmaker, "Maja Berg", ["vip-care"])
    workflow_id, review_id = await vip_complaint_review(stack)
    decision = {"review_id": review_id, "decision": "approve", "reviewer": "Maja Berg", "variant": 0}
    command = [
        find_binary("temporal"), "workflow", "signal",
        "--address", stack.client.service_client.config.target_host,
        "--workflow-id", workflow_id, "--name", "review", "--input", json.dumps(decision),
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(*command, stderr=asyncio.subprocess.PIPE)
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    state = await stack.wait_for(workflow_id, lambda s: "review" in s.results, timeout=60)
    assert (
        state.results["review"]["decision"] == "approved"
        and state.results["review"]["reviewer"] == "Maja Berg"
    )
