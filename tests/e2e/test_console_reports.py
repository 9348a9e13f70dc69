"""The console's journey pages and review queue in headless Chromium, with screenshots.

Screenshots go to `test-output/console/` (or `$JOURNEYS_TEST_OUTPUT/console/`), for a person to
look at after the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from journeys_app.core.settings import Settings
from journeys_app.devtools.report_seed import seed
from journeys_app.edges.http_server import serve_console
from journeys_app.service.catalog import load_catalog
from journeys_app.service.journey_service import JourneyService
from journeys_app.store.engine import open_database
from journeys_app.store.reviewers import add_reviewer
from tests.e2e.test_review_console import vip_complaint_review
from tests.store.test_report import PLAN

pytestmark = [pytest.mark.slow]
OUTPUT = Path(os.environ.get("JOURNEYS_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output"))


def screenshot_path(name: str) -> Path:
    folder = OUTPUT / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


async def sign_in(browser, url: str, name: str, password: str):  # type: ignore[no-untyped-def]
    page = await (await browser.new_context(viewport={"width": 1400, "height": 900})).new_page()
    await page.goto(f"{url}/login")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    return page


@pytest_asyncio.fixture
async def seeded_console(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[str, JourneyService]]:
    """A console over a store holding the 2,000 runs of abandoned_cart of the report test."""
    settings = Settings(
        _env_file=None, state_dir=tmp_path, console_port=0, console_secret="test-secret", notify_targets={}
    )
    async with open_database(settings) as (_, sessionmaker):
        async with sessionmaker() as session, session.begin():
            await seed(session, PLAN)
        service = JourneyService(dev_server.client, settings, load_catalog(settings), sessionmaker)
        async with serve_console(service, settings) as url:
            yield url, service


async def test_journey_pages_show_the_funnel_chart_and_the_experiment(seeded_console, browser) -> None:
    url, service = seeded_console
    analyst = f"Noor {uuid.uuid4().hex[:4]}"
    password = await add_reviewer(service.sessionmaker, analyst, [], ["reports"])
    page = await sign_in(browser, url, analyst, password)
    assert page.url.endswith("/journeys")  # no review groups: the journeys are the start page
    assert await page.get_by_role("link", name="Review queue").count() == 0
    await page.goto(f"{url}/journeys?since=all")
    row = page.get_by_role("row", name="abandoned_cart")
    assert "\t2050\t54\t466 (22.7 %)" in await row.inner_text()  # the week before counts too
    await page.get_by_role("link", name="abandoned_cart").click()
    await page.wait_for_load_state()
    chart = page.get_by_role("figure", name="Funnel chart").locator("svg")
    assert await chart.is_visible()
    box = await chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 150  # drawn, not an empty box
    experiment = page.get_by_role("region", name="Experiment subject_test")
    text = await experiment.inner_text()
    assert "items_waiting" in text and "question" in text and "14.0 % (11.9–16.4)" in text
    assert "question wins: +4.0 points over items_waiting (control)" in text
    await page.screenshot(path=screenshot_path("journey-abandoned_cart.png"), full_page=True)

    # A window that cannot be read is said above the form; the page shows the last 30 days.
    response = await page.goto(f"{url}/journeys/abandoned_cart?since=1m")
    assert response is not None and response.status == 200
    assert "'1m' means minutes here" in await page.get_by_role("alert").inner_text()
    assert await page.get_by_label("Runs started since").input_value() == "30d"

    # A reviewer without the reports role is told how to get it.
    reviewer = f"Ola {uuid.uuid4().hex[:4]}"
    reviewer_page = await sign_in(
        browser, url, reviewer, await add_reviewer(service.sessionmaker, reviewer, ["support"])
    )
    response = await reviewer_page.goto(f"{url}/journeys/abandoned_cart")
    assert response is not None and response.status == 403
    assert "--role reports" in await reviewer_page.content()


async def test_queue_shows_journey_reason_and_message_and_enter_approves(stack, browser) -> None:
    workflow_id, review_id = await vip_complaint_review(stack)
    name = f"Ines {uuid.uuid4().hex[:4]}"
    password = await add_reviewer(stack.sessionmaker, name, ["vip-care"])
    settings = stack.settings.model_copy(update={"console_port": 0, "console_secret": "test-secret"})
    async with serve_console(stack.service, settings) as url:
        page = await sign_in(browser, url, name, password)
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=review_id))
        text = await row.inner_text()
        assert "complaint_routing" in text  # the journey
        assert "routed here by route: intent.label == 'complaint'" in text  # why it is in review
        assert "torn cushion" in text  # the customer's words
        assert "min left" in text and await row.locator(".pill.due-soon, .pill.due-ok").count() == 1
        await page.screenshot(path=screenshot_path("review-queue.png"), full_page=True)

        await page.get_by_role("link", name=review_id).click()
        assert await page.get_by_role("region", name="Trigger").is_visible()
        assert "message_received" in await page.get_by_role("region", name="Trigger").inner_text()
        variant = await page.get_by_role("region", name="Variant 0").inner_text()
        assert "written by the model" in variant or "the template's own copy" in variant
        await page.screenshot(path=screenshot_path("review-detail.png"), full_page=True)
        await page.keyboard.press("Enter")  # Approve has the focus
        await page.wait_for_url(f"**/reviews/{review_id}?done=approve")
        assert await page.locator("#status").inner_text() == "approved"
    state = await stack.wait_for(workflow_id, lambda s: "review" in s.results, timeout=60)
    assert state.results["review"]["decision"] == "approved"
