"""The gateway on a real uvicorn server over a real Temporal dev server and a real journey worker,
on SQLite and on PostgreSQL. No inference worker: inference steps answer with rules after a short
pickup timeout, which is all these tests about input handling need.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from journeys_app.core.settings import PROJECT_ROOT, Settings
from journeys_app.edges.http_server import serve_gateway
from journeys_app.runtime import journey_worker
from journeys_app.service.catalog import load_catalog
from journeys_app.service.journey_service import JourneyService
from journeys_app.store import queries
from journeys_app.store.api_keys import create_key
from journeys_app.store.customers import load_customers_file, upsert_customers
from journeys_app.store.engine import SessionMaker
from tests.store.conftest import _pg_store, _sqlite_store
from workflows.journey import JourneyWorkflow
from workflows.models import RunState

# A journey with a trigger filter and an entry key made from an event property.
BIG_ORDERS = """\
id: big_orders
version: 1
description: Thank customers for big orders.
trigger: { event: order_placed, where: "event.total > 100" }
entry: { key: "{{ event.order_id }}", reentry: always }
steps:
  - id: thanks
    type: notify
    target: sales
    message: "Big order {{ event.order_id }}"
"""

# Ends `replied_once` or `replied_twice`: shows how often a customer_replied event reached the run.
REPLY_COUNTER = """\
id: reply_counter
version: 1
description: Count the replies a conversation receives.
trigger: { event: conversation_started }
entry: { key: "{{ event.message_id }}", reentry: always }
steps:
  - id: first_reply
    type: wait_for_event
    event: customer_replied
    timeout: 1h
  - id: second_reply
    type: wait_for_event
    event: customer_replied
    timeout: 3s
    on_timeout: { goto: once }
  - id: twice
    type: exit
    outcome: replied_twice
  - id: once
    type: exit
    outcome: replied_once
"""

# Waits in a vip-care review (the copy is the template's preset: no inference worker here).
REVIEW_ONLY = """\
id: review_only
version: 1
description: A draft for a person to decide.
trigger: { event: review_requested }
entry: { key: "{{ event.message_id }}", reentry: always }
steps:
  - id: draft
    type: generate_copy
    template: email/apology
  - id: review
    type: human_review
    group: vip-care
    deadline: 1h
  - id: done
    type: exit
    outcome: decided
"""

# Quotes what the customer wrote in an internal alert.
NOTE_TO_SUPPORT = """\
id: note_to_support
version: 1
description: Pass a customer's note to support.
trigger: { event: ticket_note }
entry: { key: "{{ event.ticket_id }}", reentry: always }
steps:
  - id: tell
    type: notify
    target: support-queue
    message: "Note on ticket {{ event.ticket_id }}: {{ event.text }}"
"""


@dataclass
class Gateway:
    url: str
    key: str  # ingest, decide and read scopes
    client: Client
    settings: Settings
    sessionmaker: SessionMaker
    service: JourneyService
    dialect: str

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(**{"base_url": self.url, "auth": (self.key, ""), "timeout": 60, **kwargs})


@pytest_asyncio.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def gw(
    request: pytest.FixtureRequest, dev_server: WorkflowEnvironment, tmp_path_factory: Any
) -> AsyncIterator[Gateway]:
    tmp = tmp_path_factory.mktemp("gateway")
    journeys = tmp / "journeys"
    shutil.copytree(PROJECT_ROOT / "journeys", journeys)
    (journeys / "big_orders.yaml").write_text(BIG_ORDERS)
    (journeys / "reply_counter.yaml").write_text(REPLY_COUNTER)
    (journeys / "review_only.yaml").write_text(REVIEW_ONLY)
    (journeys / "note_to_support.yaml").write_text(NOTE_TO_SUPPORT)
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        _env_file=None,
        state_dir=tmp,
        journeys_dir=journeys,
        journey_task_queue=f"gw-journeys-{tag}",
        inference_task_queue=f"gw-inference-{tag}",
        inference_pickup_timeout_s=1.0,
        inference_copy_pickup_timeout_s=1.0,
        gateway_port=0,
    )
    stores = _sqlite_store(Path(tmp)) if request.param == "sqlite" else _pg_store()
    async for store in stores:
        await upsert_customers(
            store.sessionmaker, load_customers_file(journeys / "samples" / "customers.yaml")
        )
        service = JourneyService(dev_server.client, settings, load_catalog(settings), store.sessionmaker)
        key = await create_key(store.sessionmaker, "tests", ["ingest", "decide", "read"])
        async with (
            journey_worker(dev_server.client, settings, store.sessionmaker),
            serve_gateway(service, settings) as url,
        ):
            yield Gateway(url, key, dev_server.client, settings, store.sessionmaker, service, store.dialect)


async def pending_review(gw: Gateway) -> tuple[str, str]:
    """(workflow id, review id) of a fresh run waiting in a vip-care review."""
    async with gw.http() as web:
        answer = await web.post(
            "/v1/track",
            json={"userId": "cust-ava", "event": "review_requested", "messageId": f"m-{uuid.uuid4()}"},
        )
    [workflow_id] = answer.json()["results"][0]["started"]
    handle = gw.client.get_workflow_handle(workflow_id)
    async with asyncio.timeout(60):
        while True:
            state: RunState = await handle.query(JourneyWorkflow.state)
            if state.pending_review and await queries.get_review(
                gw.sessionmaker, state.pending_review.review_id
            ):
                return workflow_id, state.pending_review.review_id
            await asyncio.sleep(0.2)
