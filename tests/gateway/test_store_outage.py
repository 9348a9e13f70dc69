"""The database drops the gateway's connections: a request in that moment is a 503, never a 500,
and sent again it is processed once."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy import text

from tests.gateway.conftest import Gateway
from tests.store.conftest import PG_DSN


async def _drop_connections(gw: Gateway) -> int:
    async with gw.sessionmaker() as session:
        name = (await session.execute(text("SELECT current_setting('application_name')"))).scalar_one()
    admin = await asyncpg.connect(PG_DSN)
    try:
        return int(
            await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                name,
            )
        )
    finally:
        await admin.close()


@pytest.mark.postgres
@pytest.mark.parametrize("gw", ["postgresql"], indirect=True)
async def test_dropped_connections_answer_503_and_the_resend_is_processed_once(gw: Gateway) -> None:
    def page_view() -> dict[str, str]:
        return {"userId": "cust-ava", "event": "page_viewed", "messageId": f"m-{uuid.uuid4()}"}

    async with gw.http() as web:
        assert (await web.post("/v1/track", json=page_view())).status_code == 200
        assert await _drop_connections(gw) >= 1
        message = page_view()
        first = await web.post("/v1/track", json=message)  # on a dead connection unless it was pinged
        assert first.status_code in (200, 503), first.text
        if first.status_code == 503:
            assert first.json()["code"] == "unavailable"
        again = await web.post("/v1/track", json=message)
        assert again.status_code == 200, again.text
        expected = "processed" if first.status_code == 503 else "duplicate"
        assert again.json()["results"][0]["outcome"] == expected
