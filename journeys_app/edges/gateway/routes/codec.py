"""Temporal's remote codec protocol: the web UI and `temporal --codec-endpoint` send encrypted
payloads to `/codec/decode` and read them in clear, if the caller may see customer data."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payloads

from journeys_app.core.payload_codec import PayloadDecryptError
from journeys_app.edges.gateway.auth import Gate
from journeys_app.edges.gateway.errors import GatewayError
from journeys_app.edges.gateway.limits import MAX_CODEC_BYTES
from journeys_app.edges.gateway.reading import read_body_bytes
from journeys_app.service.journey_service import JourneyService


def codec_routes(service: JourneyService, gate: Gate) -> APIRouter:
    router = APIRouter(prefix="/codec", include_in_schema=False)
    settings = gate.settings
    codec = service.client.data_converter.payload_codec

    def cors(request: Request) -> dict[str, str]:
        origin = request.headers.get("origin", "")
        if origin not in settings.codec_ui_origins:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "authorization,content-type,x-namespace",
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }

    async def apply(request: Request, decode: bool) -> Response:
        headers = cors(request)
        if not (settings.codec_ui_without_key and headers):
            await gate.check(request, "codec")
        namespace = request.headers.get("x-namespace")
        if namespace and namespace != settings.temporal_namespace:
            raise GatewayError(400, f"this codec endpoint serves namespace {settings.temporal_namespace!r}")
        try:
            payloads = json_format.Parse(await read_body_bytes(request, MAX_CODEC_BYTES), Payloads())
        except (json_format.ParseError, DecodeError, UnicodeDecodeError) as exc:
            raise GatewayError(
                400, 'the body must be Temporal payloads as JSON: {"payloads": [...]}', str(exc)
            ) from exc
        if codec is not None:
            try:
                done = await (codec.decode if decode else codec.encode)(payloads.payloads)
            except PayloadDecryptError as exc:
                raise GatewayError(400, str(exc)) from exc
            payloads = Payloads(payloads=done)
        body = json_format.MessageToJson(payloads)
        return Response(body, media_type="application/json", headers=headers)

    @router.options("/{operation}")
    async def preflight(operation: str, request: Request) -> Response:
        headers = cors(request)
        return Response(status_code=204 if headers else 403, headers=headers)

    @router.post("/decode")
    async def decode(request: Request) -> Response:
        return await apply(request, decode=True)

    @router.post("/encode")
    async def encode(request: Request) -> Response:
        return await apply(request, decode=False)

    return router
