"""`journeys bench enrollment`: bulk enrolment of a segment, in journey starts per second.

The batch workflow and its page activities run on a worker of their own; the journeys they start
wait on a task queue no worker polls, so the figure is enrolment's (segment stored, every run
started in Temporal and recorded in the store), not thousands of journeys running on the same
cores. The engine bench measures those.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from rich.console import Console
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.worker import Worker

from journeys_app.core.settings import Settings
from journeys_app.devtools.bench.postgres import bench_database
from journeys_app.devtools.bench.settings import bench_settings
from journeys_app.devtools.stack import throwaway_dev_server
from journeys_app.service.bulk_enrollment import start_enrollment
from journeys_app.service.bulk_enrollment_activity import EnrollmentActivities
from journeys_app.service.catalog import load_catalog
from journeys_app.service.journey_service import JourneyService
from journeys_app.store.engine import open_database
from journeys_app.store.schema import JourneyRun
from workflows.bulk_enrollment import PARALLEL_PAGES, EnrollmentInput, EnrollmentWorkflow

JOURNEY = "dormant_reengagement"
BARE_STARTS = 3000


async def bare_starts_per_s(client: Client, task_queue: str, count: int = BARE_STARTS) -> float:
    """What the server allows: starts/s of a workflow with a small input and nothing else (no
    search attributes, no memo, no store), as many in flight as enrolment keeps."""
    window = asyncio.Semaphore(PARALLEL_PAGES * EnrollmentInput.model_fields["window"].default)

    async def start() -> None:
        async with window:
            await client.start_workflow("BenchParked", "x", id=f"bare-{uuid.uuid4()}", task_queue=task_queue)

    began = time.perf_counter()
    await asyncio.gather(*(start() for _ in range(count)))
    return round(count / (time.perf_counter() - began), 1)


async def run_enrollment_bench(
    settings: Settings,
    console: Console,
    *,
    customers: int = 10_000,
    postgres: str | None = None,
    as_json: bool = False,
) -> dict[str, Any]:
    """Enrolment on a temporary SQLite store, or on a throwaway database of the PostgreSQL server
    at `postgres`."""
    async with bench_database(postgres) as database_url:
        with bench_settings(settings, database_url) as (settings, tag):
            parked = settings.model_copy(update={"journey_task_queue": f"bench-parked-{tag}"})
            segment = settings.state_dir / "segment.csv"
            segment.write_text("id\n" + "".join(f"bench-{tag}-{i}\n" for i in range(customers)))
            async with throwaway_dev_server(settings) as env, open_database(settings) as (_, sessionmaker):
                catalog = load_catalog(settings)
                batch_service = JourneyService(env.client, settings, catalog, sessionmaker)
                worker = Worker(
                    env.client,
                    task_queue=settings.journey_task_queue,
                    workflows=[EnrollmentWorkflow],
                    activities=EnrollmentActivities(
                        JourneyService(env.client, parked, catalog, sessionmaker)
                    ).all(),
                )
                bare = await bare_starts_per_s(env.client, f"{parked.journey_task_queue}-bare")
                async with worker:
                    began = time.perf_counter()
                    handle, total = await start_enrollment(batch_service, JOURNEY, str(segment))
                    progress = await handle.result()
                    elapsed = time.perf_counter() - began
                async with sessionmaker() as session:
                    recorded = await session.scalar(select(func.count()).select_from(JourneyRun))
    if progress.started != total or recorded != total:
        raise RuntimeError(
            f"enrolment of {total} started {progress.started} runs and recorded {recorded}: "
            f"failures {progress.failures}"
        )
    report = {
        "benchmark": "enrollment",
        "store": "postgresql" if postgres else "sqlite",
        "journey": JOURNEY,
        "customers": total,
        "seconds": round(elapsed, 1),
        "starts_per_s": round(total / elapsed, 1),
        "bare_starts_per_s": bare,
        "ceiling_ratio": round(total / elapsed / bare, 3),
    }
    if as_json:
        console.print_json(json.dumps(report))
    else:
        console.print(
            f"enrolled {total} customers in {JOURNEY} in {elapsed:.1f} s: "
            f"{report['starts_per_s']:.0f} starts/s (segment stored, runs started and recorded); "
            f"bare starts on the same server {bare:.0f}/s (ratio {report['ceiling_ratio']:.2f})"
        )
    return report
