"""Starting a journey for a customer, and the synchronous decide call."""

from __future__ import annotations

from fastapi import APIRouter, Request

from journeys_app.edges.gateway.auth import Gate
from journeys_app.edges.gateway.errors import GatewayError
from journeys_app.edges.gateway.openapi import request_body
from journeys_app.edges.gateway.protocol import DecideRequest, DecideResponse, TriggerRequest, TriggerResponse
from journeys_app.edges.gateway.reading import read_model
from journeys_app.service.journey_service import EntryKeyError, JourneyNotFound, JourneyService
from journeys_app.store.api_keys import KeyInfo
from workflows.models import CustomerEvent


def journey_routes(service: JourneyService, gate: Gate) -> APIRouter:
    router = APIRouter()

    def journey_event(journey_id: str, body: TriggerRequest) -> CustomerEvent:
        try:
            journey = service.journey(journey_id)
        except JourneyNotFound as exc:
            raise GatewayError(404, f"unknown journey {journey_id!r}", sorted(service.catalog)) from exc
        return CustomerEvent(
            name=body.event or journey.spec.trigger.event,
            properties=body.properties,
            message_id=body.messageId,
        )

    @router.post(
        "/v1/journeys/{journey_id}/runs",
        response_model=TriggerResponse,
        tags=["journeys"],
        openapi_extra=request_body(TriggerRequest),
    )
    async def trigger(journey_id: str, request: Request, key: KeyInfo = gate.ingest_key) -> TriggerResponse:
        """Start this journey for a customer; a duplicate (same entry key) answers `started: false`."""
        body = await read_model(request, TriggerRequest)
        await gate.limit(key, [body.userId])
        event = journey_event(journey_id, body)
        try:
            result = await service.trigger(journey_id, body.userId, event)
        except EntryKeyError as exc:
            raise GatewayError(400, "invalid request", str(exc)) from exc
        return TriggerResponse(journey_id=journey_id, workflow_id=result.workflow_id, started=result.started)

    @router.post(
        "/v1/decide/{journey_id}",
        response_model=DecideResponse,
        tags=["decide"],
        openapi_extra=request_body(DecideRequest),
    )
    async def decide(journey_id: str, request: Request, key: KeyInfo = gate.decide_key) -> DecideResponse:
        """Start (or join) the customer's run and answer with its routing decision within timeoutMs.

        On timeout the answer says `timed_out: true`; the run goes on and decides anyway.
        """
        body = await read_model(request, DecideRequest)
        await gate.limit(key, [body.userId])
        event = journey_event(journey_id, body)
        try:
            workflow_id, decision = await service.decide_within(
                journey_id, body.userId, event, body.timeoutMs / 1000
            )
        except EntryKeyError as exc:
            raise GatewayError(400, "invalid request", str(exc)) from exc
        if decision is None:  # the run goes on and decides anyway
            return DecideResponse(workflow_id=workflow_id, journey_id=journey_id, ready=False, timed_out=True)
        return DecideResponse(**decision.model_dump())

    return router
