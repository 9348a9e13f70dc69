"""The inference worker process: loads the models once and serves the "inference" task queue.

A separate deployable from the journey worker (DESIGN §2): GPU or CPU hosts scale on their own,
and a model outage delays inference steps instead of stopping journeys.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.client import Client
from temporalio.worker import Worker

from inference_worker.activities import InferenceActivities
from inference_worker.backends import InferenceBackend
from journeys_app.settings import Settings

log = logging.getLogger(__name__)

# Activities are async and hand CPU work to threads behind a lock, so extra slots cost little:
# they let cheap calls (scores, batched intents) proceed while a copy request holds the LLM.
DEFAULT_MAX_CONCURRENT_ACTIVITIES = 16


def make_backend(settings: Settings) -> InferenceBackend:
    """The backend named by settings.inference_backend (only "local" ships in this package)."""
    if settings.inference_backend == "local":
        from inference_worker.backends.local import LocalBackend

        return LocalBackend(settings)
    raise ValueError(f"unknown inference backend {settings.inference_backend!r}")


@asynccontextmanager
async def inference_worker(
    client: Client,
    settings: Settings,
    *,
    backend: InferenceBackend | None = None,
    max_concurrent_activities: int = DEFAULT_MAX_CONCURRENT_ACTIVITIES,
) -> AsyncIterator[Worker]:
    """Yield a running Worker on settings.inference_task_queue; models load before polling starts.

    Pass an already loaded `backend` to share it (tests); otherwise one is made, loaded and closed here.
    """
    owned = backend is None
    if backend is None:
        backend = make_backend(settings)
    started = time.perf_counter()
    await backend.load()
    log.info(
        "inference backend %s ready in %.1fs %s",
        backend.name,
        time.perf_counter() - started,
        getattr(backend, "load_seconds", ""),
    )
    activities = InferenceActivities(backend)
    worker = Worker(
        client,
        task_queue=settings.inference_task_queue,
        activities=activities.all(),
        max_concurrent_activities=max_concurrent_activities,
    )
    try:
        async with worker:
            log.info("inference worker polling task queue %r", settings.inference_task_queue)
            yield worker
    finally:
        if owned:
            await backend.aclose()
