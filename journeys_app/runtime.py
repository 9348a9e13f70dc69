"""Process lifetimes: the journey worker, and the whole embedded stack for `up` and `demo`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.worker import Worker

from activities.inference_fallback import InferenceFallbackActivities
from activities.journey_activities import JourneyActivities
from journeys_app.core.settings import Settings
from journeys_app.core.temporal import connect
from journeys_app.devtools.stack import embedded_temporal
from journeys_app.service.bulk_enrollment_activity import EnrollmentActivities
from journeys_app.service.catalog import load_catalog
from journeys_app.service.journey_service import JourneyService
from journeys_app.store.customers import load_customers_file, upsert_customers
from journeys_app.store.engine import SessionMaker, open_database
from workflows.bulk_enrollment import EnrollmentWorkflow
from workflows.journey import JourneyWorkflow
from workflows.sandbox import journey_workflow_runner

log = logging.getLogger(__name__)


@asynccontextmanager
async def journey_worker(
    client: Client, settings: Settings, sessionmaker: SessionMaker
) -> AsyncIterator[Worker]:
    """The interpreter workflow, the store/delivery activities, the rules fallback for inference and
    bulk enrolment."""
    service = JourneyService(client, settings, load_catalog(settings), sessionmaker)
    activities = [
        *JourneyActivities(sessionmaker, settings).all(),
        *InferenceFallbackActivities(settings).all(),
        *EnrollmentActivities(service).all(),
    ]
    sizing = {
        "max_concurrent_workflow_tasks": settings.journey_max_concurrent_workflow_tasks,
        "max_concurrent_activities": settings.journey_max_concurrent_activities,
        "max_cached_workflows": settings.journey_max_cached_workflows,
        "max_concurrent_workflow_task_polls": settings.journey_workflow_task_pollers,
        "max_concurrent_activity_task_polls": settings.journey_activity_task_pollers,
    }
    worker = Worker(
        client,
        task_queue=settings.journey_task_queue,
        workflows=[JourneyWorkflow, EnrollmentWorkflow],
        activities=activities,
        workflow_runner=journey_workflow_runner(),
        **{name: value for name, value in sizing.items() if value is not None},  # else the SDK's defaults
    )
    async with worker:
        log.info("journey worker polling task queue %r", settings.journey_task_queue)
        yield worker


@dataclass
class Runtime:
    client: Client
    sessionmaker: SessionMaker
    service: JourneyService
    temporal_address: str


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    embedded: bool = False,
    journey_workers: bool = False,
    inference_workers: bool = False,
    seed_customers: bool = False,
) -> AsyncIterator[Runtime]:
    """Connect (or start the embedded dev server), open the store, optionally run workers here."""
    async with AsyncExitStack() as stack:
        if embedded:
            address = await stack.enter_async_context(embedded_temporal(settings))
        else:
            address = settings.temporal_address or f"127.0.0.1:{settings.embedded_temporal_port}"
        client = await connect(settings, address)
        _, sessionmaker = await stack.enter_async_context(open_database(settings))
        samples = settings.journeys_dir / "samples" / "customers.yaml"
        if seed_customers and samples.exists():  # a journeys folder of one's own may have no samples
            await upsert_customers(sessionmaker, load_customers_file(samples))
        if journey_workers:
            await stack.enter_async_context(journey_worker(client, settings, sessionmaker))
        if inference_workers:
            from inference_worker.worker import inference_worker

            await stack.enter_async_context(inference_worker(client, settings))
        service = JourneyService(client, settings, load_catalog(settings), sessionmaker)
        yield Runtime(client, sessionmaker, service, address)
