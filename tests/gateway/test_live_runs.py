"""A running run reads as it is now, not as the store had it at its last wait: the gateway, the SDK
and `journeys runs --json` show its live path, current step and what it waits for until when, and
Temporal's search finds it by customer, journey and step."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from journeys_app.edges.sdk import JourneysClient
from tests.cli import journeys
from tests.gateway.conftest import Gateway
from workflows.journey import JourneyWorkflow

pytestmark = pytest.mark.slow


async def test_a_waiting_run_shows_its_live_path_everywhere(gw: Gateway) -> None:
    customer = f"cust-live-{uuid.uuid4().hex[:6]}"
    async with gw.http() as web:
        answer = await web.post(
            "/v1/track", json={"userId": customer, "event": "conversation_started", "messageId": "m-1"}
        )
        [workflow_id] = answer.json()["results"][0]["started"]
        handle = gw.client.get_workflow_handle(workflow_id)
        async with asyncio.timeout(30):
            while True:
                if (await handle.query(JourneyWorkflow.state)).waiting_for is not None:
                    break
                await asyncio.sleep(0.1)
        listed = (await web.get("/v1/runs", params={"customer_id": customer})).json()
        detail = (await web.get(f"/v1/runs/{workflow_id}")).json()
    for run in (*listed, detail):
        assert run["status"] == "running" and run["path"] == ["first_reply"], run
        assert run["current_step"] == "first_reply" and run["waiting_for"] == "event customer_replied"
        assert run["waiting_until"]  # the wait's one-hour timeout

    # Temporal's own search finds it by customer, journey and the step it waits at (no PII there).
    query = f'CustomerId = "{customer}" AND JourneyId = "reply_counter" AND JourneyVersion = 1'
    async with asyncio.timeout(20):
        while True:
            found = [w.id async for w in gw.client.list_workflows(f'{query} AND Step = "first_reply"')]
            if found:
                break
            await asyncio.sleep(0.2)
    assert found == [workflow_id]

    async with JourneysClient.over_gateway(gw.url, gw.key) as sdk:
        status = await sdk.status(workflow_id)
    assert status.path == ["first_reply"] and status.waiting_for == "event customer_replied"

    if gw.dialect == "sqlite":  # the CLI reaches the same store by URL
        env = {
            "TEMPORAL_ADDRESS": gw.client.service_client.config.target_host,
            "DATABASE_URL": f"sqlite+aiosqlite:///{gw.settings.state_dir}/state/journeys.db",
        }
        done = await asyncio.to_thread(
            journeys, "runs", "--customer", customer, "--json", env=env, timeout=60
        )
        assert done.returncode == 0, done.stderr
        [run] = json.loads(done.stdout)
        assert run["path"] == ["first_reply"] and run["waiting_for"] == "event customer_replied"
