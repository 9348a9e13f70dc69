"""Segment's tracking API: `track`, `identify` and `batch`, as the Segment libraries send them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from journeys_app.edges.gateway.auth import Gate
from journeys_app.edges.gateway.errors import GatewayError, refused
from journeys_app.edges.gateway.ingest import Ingest, IngestError, IngestUnavailable
from journeys_app.edges.gateway.limits import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES
from journeys_app.edges.gateway.openapi import request_body
from journeys_app.edges.gateway.protocol import (
    MAX_BATCH_MESSAGES,
    BatchRequest,
    IdentifyMessage,
    IngestResponse,
    Message,
    TrackMessage,
)
from journeys_app.edges.gateway.reading import read_body
from journeys_app.store.api_keys import KeyInfo


def segment_routes(gate: Gate, ingest: Ingest) -> APIRouter:
    router = APIRouter(tags=["segment"])

    async def ingest_messages(key: KeyInfo, messages: list[Message]) -> IngestResponse:
        await gate.limit(key, [m.userId for m in messages])
        try:
            return IngestResponse(results=await ingest.handle(key.name, messages))
        except IngestError as exc:
            raise refused(exc) from exc
        except IngestUnavailable as exc:
            raise GatewayError(
                503, "the journey engine is unavailable; send the request again", str(exc)
            ) from exc

    def one_message(payload: Any, kind: type[TrackMessage | IdentifyMessage]) -> Message:
        if not isinstance(payload, dict):
            raise GatewayError(400, "invalid request", "the body must be a JSON object")
        try:
            return ingest.parse([{**payload, "type": kind.model_fields["type"].default}])[0]
        except IngestError as exc:
            raise refused(exc) from exc

    @router.post("/v1/track", response_model=IngestResponse, openapi_extra=request_body(TrackMessage))
    async def track(request: Request, key: KeyInfo = gate.ingest_key) -> IngestResponse:
        """A Segment `track` call: feeds the customer's running journeys and starts matching ones."""
        return await ingest_messages(
            key, [one_message(await read_body(request, MAX_MESSAGE_BYTES), TrackMessage)]
        )

    @router.post("/v1/identify", response_model=IngestResponse, openapi_extra=request_body(IdentifyMessage))
    async def identify(request: Request, key: KeyInfo = gate.ingest_key) -> IngestResponse:
        """A Segment `identify` call: creates or updates the customer from its traits."""
        return await ingest_messages(
            key, [one_message(await read_body(request, MAX_MESSAGE_BYTES), IdentifyMessage)]
        )

    @router.post("/v1/batch", response_model=IngestResponse, openapi_extra=request_body(BatchRequest))
    async def batch(request: Request, key: KeyInfo = gate.ingest_key) -> IngestResponse:
        """Many Segment calls in one request, as the Segment libraries send them (up to 500 KB).

        The batch is checked whole: one bad message refuses all of them, and nothing is applied.
        """
        payload = await read_body(request, MAX_BATCH_BYTES)
        items = payload.get("batch") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH_MESSAGES:
            problem = f"a list of 1 to {MAX_BATCH_MESSAGES:,} messages is required"
            raise GatewayError(400, "invalid request", [{"at": "batch", "problem": problem}])
        try:
            messages = ingest.parse(items)
        except IngestError as exc:
            raise refused(exc) from exc
        return await ingest_messages(key, messages)

    return router
