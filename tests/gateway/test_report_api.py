"""GET /v1/journeys/{id}/report: the journey report for other tools (read scope), with clear
refusals, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from journeys_app.devtools.report_seed import seed
from journeys_app.store.api_keys import create_key
from tests.gateway.conftest import Gateway
from tests.store.test_report import PLAN

pytestmark = pytest.mark.slow


async def test_the_report_over_http(gw: Gateway) -> None:
    async with gw.sessionmaker() as session, session.begin():
        await seed(session, PLAN, first=10_000_000)  # ids of their own beside other tests' runs
    async with gw.http() as web:
        answer = await web.get("/v1/journeys/abandoned_cart/report", params={"since": PLAN.start.isoformat()})
        assert answer.status_code == 200, answer.text
        [version] = answer.json()["versions"]
        assert (version["entered"], version["goal"]["converted"]) == (2000, 416)
        assert answer.json()["versions"][0]["experiments"][0]["winner"] == "question"
        bad = await web.get("/v1/journeys/abandoned_cart/report", params={"since": "1m"})
        assert bad.status_code == 400 and "'1m' means minutes here" in bad.text
        garbage = await web.get("/v1/journeys/abandoned_cart/report", params={"since": "last tuesday"})
        assert garbage.status_code == 400 and garbage.json()["detail"][0]["at"] == "query.since"
        unknown = await web.get("/v1/journeys/no_such_journey/report")
        assert unknown.status_code == 404 and "abandoned_cart" in unknown.text
    ingest_only = await create_key(gw.sessionmaker, "report-ingest-only", ["ingest"])
    async with gw.http(auth=(ingest_only, "")) as web:
        assert (await web.get("/v1/journeys/abandoned_cart/report")).status_code == 403
