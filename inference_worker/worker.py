"""The inference worker process: loads the models once and serves the inference task queues.

A separate deployable from the journey worker: GPU or CPU hosts scale on their own,
and a model outage delays inference steps instead of stopping journeys.

Two queues, one set of models: intent and score (the decision an MA may be waiting for) on
`inference_task_queue`, copy generation on `copy_task_queue` with a few slots of its own, so a
backlog of long generations never holds the slots a classification needs.
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
from inference_worker.degradation import build_chain
from inference_worker.retrieval import KnowledgeRetriever
from journeys_app.core.settings import Settings

log = logging.getLogger(__name__)


def make_backend(settings: Settings, name: str | None = None) -> InferenceBackend:
    """The backend called `name` (default: settings.inference_backend), not loaded yet."""
    name = name or settings.inference_backend
    if name == "local":
        from inference_worker.backends.local import LocalBackend

        return LocalBackend(settings)
    if name == "openai":
        from inference_worker.backends.openai_compat import OpenAIBackend

        return OpenAIBackend(settings)
    if name == "vllm":
        from inference_worker.backends.vllm import VLLMBackend

        return VLLMBackend(settings)
    raise ValueError(f"unknown inference backend {name!r}")


@asynccontextmanager
async def inference_worker(
    client: Client,
    settings: Settings,
    *,
    backend: InferenceBackend | None = None,
    max_concurrent_activities: int | None = None,
) -> AsyncIterator[Worker]:
    """Yield the running Worker of settings.inference_task_queue (the copy queue's Worker runs beside it);
    models load before polling starts.

    It reports ready (the log line, and `settings.ready_file` when set) only once the models are
    loaded, the knowledge base is indexed and it polls, so nothing is routed to a worker that
    cannot answer yet.

    The backend is wrapped in the degradation chain (fallback backend, then rules / preset copy).
    Pass an already loaded `backend` to share it (tests); it is used as the primary and not closed.
    """
    chain = build_chain(settings, make_backend, primary=backend)
    started = time.perf_counter()
    await chain.load()
    log.info(
        "inference backends %s ready in %.1fs %s",
        " -> ".join(stage.backend.name for stage in chain.stages),
        time.perf_counter() - started,
        getattr(chain.primary, "load_seconds", ""),
    )
    retriever = KnowledgeRetriever.on_cpu(settings)
    if retriever is not None:
        await retriever.prepare()
    activities = InferenceActivities(chain, retriever, heartbeat_s=settings.inference_heartbeat_s)
    limits = {
        "max_activities_per_second": settings.inference_activities_per_second,
        "max_task_queue_activities_per_second": settings.inference_task_queue_activities_per_second,
    }
    # Copy of runs started before the copy queue existed still arrives here: it serves all three.
    worker = Worker(
        client,
        task_queue=settings.inference_task_queue,
        activities=activities.all(),
        max_concurrent_activities=max_concurrent_activities or settings.inference_max_concurrent_activities,
        **limits,
    )
    copy_worker = Worker(
        client,
        task_queue=settings.copy_task_queue,
        activities=[activities.generate_copy],
        max_concurrent_activities=settings.copy_max_concurrent_activities,
        **limits,
    )
    ready = settings.ready_file
    try:
        async with worker, copy_worker:
            log.info(
                "inference worker ready: models loaded, polling task queues %r and %r (copy)",
                settings.inference_task_queue,
                settings.copy_task_queue,
            )
            if ready is not None:
                ready.parent.mkdir(parents=True, exist_ok=True)
                ready.write_text(f"{settings.inference_task_queue}\n")
            try:
                yield worker
            finally:
                if ready is not None:
                    ready.unlink(missing_ok=True)
    finally:
        for stage in chain.stages[1 if backend is not None else 0 :]:
            await stage.backend.aclose()
