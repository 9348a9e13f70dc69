"""End-to-end: a real Temporal dev server, the real workers, the real CPU models, SQLite.

One dev server (`dev_server`, in tests/conftest.py) and one model load per test session; each test
gets its own task queues.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import PayloadCodec
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from journeys_app.core.payload_codec import ENCODING
from journeys_app.core.settings import Settings
from journeys_app.devtools.demo import review_groups
from journeys_app.runtime import journey_worker
from journeys_app.service.catalog import load_catalog
from journeys_app.service.journey_service import JourneyService
from journeys_app.store.customers import load_customers_file, upsert_customers
from journeys_app.store.engine import SessionMaker, open_database
from journeys_app.store.reviewers import ensure_reviewer
from workflows.journey import JourneyWorkflow
from workflows.models import RunState

HISTORIES = Path(__file__).parent.parent / "replay" / "histories"
ENCRYPTED = base64.b64encode(ENCODING).decode()


async def decrypted(value: Any, codec: PayloadCodec | None) -> Any:
    """A history as JSON with its payloads in clear, so a recording replays under any key."""
    if codec is None:
        return value
    if isinstance(value, dict):
        if value.get("metadata", {}).get("encoding") == ENCRYPTED:
            [plain] = await codec.decode([json_format.ParseDict(value, Payload())])
            return json_format.MessageToDict(plain)
        return {key: await decrypted(item, codec) for key, item in value.items()}
    if isinstance(value, list):
        return [await decrypted(item, codec) for item in value]
    return value


@dataclass
class Stack:
    client: Client
    settings: Settings
    sessionmaker: SessionMaker
    service: JourneyService

    async def wait_for(self, workflow_id: str, predicate: Any, timeout: float = 60.0) -> RunState:
        """Poll the run's state query until `predicate(state)` holds."""
        handle = self.client.get_workflow_handle(workflow_id)
        async with asyncio.timeout(timeout):
            while True:
                try:
                    state = await handle.query(JourneyWorkflow.state)
                except RPCError as exc:
                    # A query can time out while a new worker takes over a run whose worker was
                    # killed (the server tries the dead worker's sticky queue first): ask again.
                    if exc.status == RPCStatusCode.NOT_FOUND:
                        raise
                    await asyncio.sleep(0.5)
                    continue
                if predicate(state):
                    return state
                await asyncio.sleep(0.2)

    async def record_history(self, workflow_id: str, name: str) -> None:
        """With RECORD_HISTORIES=1, keep this run's history for the replay test."""
        if os.environ.get("RECORD_HISTORIES") != "1":
            return
        history = await self.client.get_workflow_handle(workflow_id).fetch_history()
        HISTORIES.mkdir(parents=True, exist_ok=True)
        # The workflow id too: review ids are made from it, and a replay under another id differs.
        recorded = {
            "workflowId": workflow_id,
            **await decrypted(history.to_json_dict(), self.client.data_converter.payload_codec),
        }
        (HISTORIES / f"{name}.json").write_text(json.dumps(recorded, indent=1))


def stack_settings(tmp: Path) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(
        state_dir=tmp,
        database_url=f"sqlite+aiosqlite:///{tmp}/journeys.db",
        journey_task_queue=f"e2e-journeys-{tag}",
        inference_task_queue=f"e2e-inference-{tag}",
    )


@pytest_asyncio.fixture(scope="session")
async def stack(
    dev_server: WorkflowEnvironment, local_backend: Any, tmp_path_factory: Any
) -> AsyncIterator[Stack]:
    from inference_worker.worker import inference_worker

    settings = stack_settings(tmp_path_factory.mktemp("e2e"))
    client = dev_server.client
    async with open_database(settings) as (_, sessionmaker):
        await upsert_customers(
            sessionmaker, load_customers_file(settings.journeys_dir / "samples" / "customers.yaml")
        )
        catalog = load_catalog(settings)
        await ensure_reviewer(sessionmaker, "maria", sorted(review_groups(catalog)))
        async with (
            journey_worker(client, settings, sessionmaker),
            inference_worker(client, settings, backend=local_backend),
        ):
            yield Stack(
                client,
                settings,
                sessionmaker,
                JourneyService(client, settings, catalog, sessionmaker),
            )


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
# As root in a sandbox with no network: no setuid sandbox, no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[object]:
    if not HAVE_CHROMIUM:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
        pytest.skip(
            f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium) or apt install chromium"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()
