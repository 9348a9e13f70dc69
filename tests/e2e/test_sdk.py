"""The SDK's one interface, over the gateway and over Temporal, against the same real stack."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from journeys_app.edges.http_server import serve_gateway
from journeys_app.edges.sdk import Event, JourneysClient, JourneysError
from journeys_app.store.api_keys import create_key

pytestmark = [pytest.mark.models, pytest.mark.slow]


@pytest_asyncio.fixture(params=["gateway", "temporal"])
async def journeys(request, stack) -> AsyncIterator[JourneysClient]:
    if request.param == "gateway":
        key = await create_key(stack.sessionmaker, "sdk", ["ingest", "decide", "read"])
        settings = stack.settings.model_copy(update={"gateway_port": 0})
        async with (
            serve_gateway(stack.service, settings) as url,
            JourneysClient.over_gateway(url, key) as client,
        ):
            yield client
    else:
        address = stack.client.service_client.config.target_host
        settings = stack.settings.model_copy(update={"temporal_address": address})
        async with JourneysClient.over_temporal(settings) as client:
            yield client


async def test_trigger_event_decide_and_status(journeys: JourneysClient, stack) -> None:
    message = Event(properties={"text": "Do you deliver to Lisbon?"}, message_id=f"m-{uuid.uuid4()}")
    run = await journeys.trigger("complaint_routing", "cust-ben", message)
    assert run.started and run.workflow_id == f"complaint_routing:cust-ben:{message.message_id}"
    assert not (await journeys.trigger("complaint_routing", "cust-ben", message)).started  # idempotent

    outcome = await journeys.send_event("cust-ben", Event(name="page_viewed", properties={"path": "/lamps"}))
    assert outcome.started == []

    decision = await journeys.decide(
        "complaint_routing",
        "cust-ava",
        Event(properties={"text": "My order arrived broken!"}, message_id=f"m-{uuid.uuid4()}"),
        timeout_ms=20_000,
    )
    assert decision.ready and decision.intent and decision.intent["label"] == "complaint"

    status = await journeys.status(run.workflow_id)
    assert status.journey_id == "complaint_routing" and status.customer_id == "cust-ben"
    with pytest.raises(JourneysError) as missing:
        await journeys.trigger("no_such_journey", "cust-ben", message)
    assert missing.value.status == 404
    with pytest.raises(JourneysError) as no_id:
        await journeys.trigger("complaint_routing", "cust-ben", Event(properties={"text": "hi"}))
    assert no_id.value.status == 400 and "`messageId`" in str(no_id.value)
