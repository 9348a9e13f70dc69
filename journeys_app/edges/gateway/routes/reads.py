"""Read access for other tools: the journeys and their reports, runs as the store has them, a
run's live state."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from temporalio.service import RPCError

from journeys_app.edges.gateway.auth import Gate
from journeys_app.edges.gateway.errors import GatewayError
from journeys_app.service.journey_service import JourneyService
from journeys_app.service.report import JourneyReport, WindowError, journey_report, parse_window
from journeys_app.store import queries
from journeys_app.store.api_keys import KeyInfo
from journeys_app.store.schema import utcnow
from workflows.models import RunState

# A report window's bound: days or hours before now, an ISO date or time, or all (minutes pass
# here to be refused with a word on months).
WINDOW = r"^(all|[0-9]{1,4}[mdhw]|[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]{5,15}(Z|[+-][0-9]{2}:[0-9]{2})?)?)$"


def read_routes(service: JourneyService, gate: Gate) -> APIRouter:
    router = APIRouter(tags=["read"])

    @router.get("/v1/journeys")
    async def journeys(key: KeyInfo = gate.read_key) -> list[dict[str, Any]]:
        """The journeys this deployment runs, with their trigger events."""
        return [
            {
                "id": j.spec.id,
                "version": j.spec.version,
                "description": j.spec.description,
                "trigger": j.spec.trigger.event,
                "spec_hash": j.spec_hash,
            }
            for j in service.catalog.values()
        ]

    @router.get("/v1/journeys/{journey_id}/report")
    async def report(
        journey_id: str,
        key: KeyInfo = gate.read_key,
        since: Annotated[str, Query(pattern=WINDOW, description="30d, 12h, a date (UTC) or all")] = "30d",
        until: Annotated[str | None, Query(pattern=WINDOW, description="as since; default now")] = None,
    ) -> JourneyReport:
        """The journey's report, as `journeys report --json`: funnel, goal, messages, reviews, splits."""
        loaded = service.catalog.get(journey_id)
        try:
            start, end = parse_window(since, until, utcnow())
        except WindowError as exc:
            raise GatewayError(400, "invalid request", str(exc)) from exc
        result = await journey_report(
            service.sessionmaker, journey_id, loaded.spec if loaded else None, since=start, until=end
        )
        if loaded is None and not result.versions:
            raise GatewayError(404, f"unknown journey {journey_id!r}", sorted(service.catalog))
        return result

    @router.get("/v1/runs")
    async def runs(
        key: KeyInfo = gate.read_key,
        customer_id: str | None = None,
        journey_id: str | None = None,
        status: str | None = None,
        limit_: Annotated[int, Query(alias="limit", ge=1, le=500)] = 50,
    ) -> list[queries.RunSummary]:
        """Runs, newest first; running ones with their live path and what they wait for."""
        return await service.live(
            await queries.list_runs(service.sessionmaker, journey_id, customer_id, status, limit_)
        )

    @router.get("/v1/runs/{workflow_id}")
    async def run(workflow_id: str, key: KeyInfo = gate.read_key) -> queries.RunDetail:
        """One run with every step result and message; running, with its live path."""
        detail = await queries.get_run(service.sessionmaker, workflow_id)
        if detail is None:
            raise GatewayError(404, f"no run {workflow_id!r}")
        [live] = await service.live([detail])
        return live

    @router.get("/v1/runs/{workflow_id}/state")
    async def run_state(workflow_id: str, key: KeyInfo = gate.read_key) -> RunState:
        """The run's live state from the workflow itself: current step, what it waits for, results."""
        try:
            return await service.state(workflow_id)
        except RPCError as exc:
            raise GatewayError(404, f"no running or recent run {workflow_id!r}", exc.message) from exc

    return router
