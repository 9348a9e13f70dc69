"""The review queue: earliest deadline first, 25 to a page, deadlines coloured by urgency, and
bad page numbers refused with a clear answer (on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import insert

from journeys_app.edges.console.app import QUEUE_PAGE
from journeys_app.edges.http_server import serve_console
from journeys_app.store.reviewers import add_reviewer
from journeys_app.store.schema import Review, utcnow
from tests.gateway.conftest import Gateway
from tests.gateway.test_console_sessions import sign_in

pytestmark = pytest.mark.slow


async def test_the_queue_pages_by_deadline_and_colours_urgency(gw: Gateway) -> None:
    group = f"queue-{uuid.uuid4().hex[:6]}"
    now = utcnow()
    # 30 open reviews of a group of their own: the first overdue, the next within the hour, the rest later.
    minutes = [-5, 30] + [90 + 10 * i for i in range(28)]
    rows = [
        {
            "review_id": f"rv-q{i:02d}-{group}",
            "workflow_id": f"wf-q{i}-{group}",
            "step_id": "review",
            "customer_id": f"cust-{i}",
            "group": group,
            "deadline": now + timedelta(minutes=m),
            "status": "pending",
            "variants": [],
            "created_at": now,
            "journey_id": "complaint_routing",
            "why": "sampled at 10%",
            "snippet": f"message {i}",
        }
        for i, m in reversed(list(enumerate(minutes)))  # stored in the opposite order
    ]
    async with gw.sessionmaker() as session, session.begin():
        await session.execute(insert(Review), rows)
    name = f"Pia {uuid.uuid4().hex[:4]}"
    password = await add_reviewer(gw.sessionmaker, name, [group])
    async with serve_console(gw.service, gw.settings.model_copy(update={"console_port": 0})) as url:
        async with httpx.AsyncClient(base_url=url, follow_redirects=True) as web:
            first = await sign_in(web, name, password)
            assert (
                first.status_code == 200 and 'Waiting for you <span class="muted">(30)</span>' in first.text
            )
            shown = re.findall(r'href="/reviews/(rv-q\d\d)', first.text)
            assert shown == [f"rv-q{i:02d}" for i in range(QUEUE_PAGE)]  # earliest deadline first
            assert re.findall(r'class="pill due-(\w+)"', first.text)[:3] == ["late", "soon", "ok"]
            assert "deadline passed" in first.text and "Page 1 of 2" in first.text
            assert "message 0" in first.text and "sampled at 10%" in first.text
            second = await web.get("/?page=2")
            assert re.findall(r'href="/reviews/(rv-q\d\d)', second.text) == [
                f"rv-q{i:02d}" for i in range(QUEUE_PAGE, 30)
            ]
            beyond = await web.get("/?page=9")  # past the end: the last page
            assert "Page 2 of 2" in beyond.text
            refused = await web.get("/?page=0")
            assert refused.status_code == 422
