"""The HTTP gateway: Segment's tracking API, the synchronous decide call and read endpoints.

Thin routes: authentication, limits and body decoding here; the work is in `Ingest` and
`JourneyService`. Every refusal is a 4xx with a JSON body `{"code": …, "message": …, "detail": …}`.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import html
import json
import logging
import zlib
from typing import Annotated, Any, TypeVar

from cachetools import TTLCache
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from journeys_app.db import queries
from journeys_app.db.api_keys import KeyInfo, verify_key
from journeys_app.db.storable import storable_problems
from journeys_app.gateway.ingest import Ingest, IngestError, IngestUnavailable
from journeys_app.gateway.limits import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, BodyLimit
from journeys_app.gateway.openapi import documented_openapi, request_body
from journeys_app.gateway.protocol import (
    MAX_BATCH_MESSAGES,
    BatchRequest,
    DecideRequest,
    DecideResponse,
    IdentifyMessage,
    IngestResponse,
    Message,
    ReviewRequest,
    TrackMessage,
    TriggerRequest,
    TriggerResponse,
)
from journeys_app.gateway.ratelimit import RateLimiter
from journeys_app.service import (
    EntryKeyError,
    JourneyNotFound,
    JourneyService,
    ReviewClosed,
    ReviewNotFound,
    ReviewRefused,
)
from journeys_app.settings import Settings
from journeys_app.unsubscribe import BadLink, read_token
from workflows.models import CustomerEvent, RunState
from workflows.review import ReviewAck, ReviewDecision

T = TypeVar("T", bound=BaseModel)
log = logging.getLogger(__name__)

_CODES = {
    409: "conflict",
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    413: "too_large",
    429: "rate_limited",
    503: "unavailable",
}


class GatewayError(HTTPException):
    """A refusal, as `{"code", "message", "detail"}`: the shape the Segment libraries parse."""

    def __init__(
        self, status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        body = {"code": _CODES.get(status, "error"), "message": message, "detail": detail}
        super().__init__(status, body, headers)


def _key_from(request: Request) -> str | None:
    """Segment sends the write key as the Basic-auth user name; other tools send a Bearer key."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
    return None


async def _body(request: Request, limit: int) -> Any:
    """The JSON body, gunzipped if sent with Content-Encoding: gzip, within `limit` bytes."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise GatewayError(413, f"request body larger than {limit // 1024} KB")
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = inflater.decompress(bytes(raw), limit + 1)
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise GatewayError(400, "body is not valid gzip", str(exc)) from exc
        if len(data) > limit or inflater.unconsumed_tail:
            raise GatewayError(413, f"request body larger than {limit // 1024} KB once decompressed")
    else:
        data = bytes(raw)
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GatewayError(400, "malformed JSON", str(exc)) from exc
    except RecursionError as exc:
        raise GatewayError(
            400, "JSON nested too deep", "nest objects and lists at most 32 levels deep"
        ) from exc


def _invalid(exc: ValidationError) -> GatewayError:
    problems = [
        {"at": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors(include_url=False)
    ]
    return GatewayError(400, "invalid request", problems[:50])


async def _read(request: Request, model: type[T]) -> T:
    """The JSON body as `model`, refused with every problem named (text the store cannot hold too)."""
    payload = await _body(request, MAX_MESSAGE_BYTES)
    if problems := storable_problems(payload, ""):
        raise GatewayError(400, "invalid request", [{"at": at, "problem": p} for at, p in problems[:50]])
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise _invalid(exc) from exc


def _refused(exc: IngestError) -> GatewayError:
    return GatewayError(400, f"invalid request: {exc}", [p.model_dump() for p in exc.problems[:100]])


def create_gateway_app(service: JourneyService, settings: Settings) -> FastAPI:
    app = FastAPI(
        title="ma-journeys gateway",
        description="Segment-compatible event ingestion, synchronous decisions and read access to runs.",
        version="1",
    )
    app.add_middleware(BodyLimit)
    app.openapi = lambda: documented_openapi(app)  # type: ignore[method-assign]
    ingest = Ingest(service)
    limiter = RateLimiter(settings.gateway_rate_per_minute)

    @app.exception_handler(GatewayError)
    async def _gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RPCError)
    async def _temporal_error(request: Request, exc: RPCError) -> JSONResponse:
        """Temporal could not answer where a route needs it: the client should try again."""
        log.warning("%s %s: Temporal said %s (%s)", request.method, request.url.path, exc.message, exc.status)
        error = GatewayError(503, "the journey engine is unavailable; send the request again", exc.message)
        return await _gateway_error(request, error)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"at": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        body = {"code": "invalid_request", "message": "invalid request", "detail": problems[:50]}
        return JSONResponse(body, status_code=400)

    verified: TTLCache[str, KeyInfo] | None = (
        TTLCache(maxsize=1024, ttl=settings.gateway_key_cache_s) if settings.gateway_key_cache_s else None
    )

    async def verified_key(key: str) -> KeyInfo | None:
        info = verified.get(key) if verified is not None else None
        if info is None:
            info = await verify_key(service.sessionmaker, key)
            if info is not None and verified is not None:
                verified[key] = info
        return info

    def scope(name: str) -> Any:
        async def require(request: Request) -> KeyInfo:
            key = _key_from(request)
            if not key:
                raise GatewayError(
                    401, "missing API key", "send it as Basic auth user name or Bearer token",
                    {"WWW-Authenticate": 'Basic realm="journeys"'},
                )  # fmt: skip
            info = await verified_key(key)
            if info is None:
                raise GatewayError(
                    401, "unknown or revoked API key", None, {"WWW-Authenticate": 'Basic realm="journeys"'}
                )
            if name not in info.scopes:
                raise GatewayError(403, f"this key lacks the {name!r} scope", {"scopes": info.scopes})
            return info

        return Depends(require)

    ingest_key, decide_key, read_key, review_key = (scope(s) for s in ("ingest", "decide", "read", "review"))

    async def limit(key: KeyInfo, customers: list[str | None]) -> None:
        vip = False
        # The reserve: only requests about VIPs alone (every message with a userId) may use it.
        if limiter.needs_vip(key.key_id) and customers and all(customers):
            ids = {c for c in customers if c}
            vip = await ingest.vip_customers(ids) == ids
        wait = limiter.take(key.key_id, vip=vip)
        if wait:
            raise GatewayError(
                429,
                f"rate limit of {settings.gateway_rate_per_minute} requests per minute for key {key.name!r}",
                {"retry_after_s": round(wait, 1)},
                {"Retry-After": str(max(1, round(wait)))},
            )

    async def ingest_messages(key: KeyInfo, messages: list[Message]) -> IngestResponse:
        await limit(key, [m.userId for m in messages])
        try:
            return IngestResponse(results=await ingest.handle(key.name, messages))
        except IngestError as exc:
            raise _refused(exc) from exc
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
            raise _refused(exc) from exc

    @app.post(
        "/v1/track", response_model=IngestResponse, tags=["segment"], openapi_extra=request_body(TrackMessage)
    )
    async def track(request: Request, key: KeyInfo = ingest_key) -> IngestResponse:
        """A Segment `track` call: feeds the customer's running journeys and starts matching ones."""
        return await ingest_messages(
            key, [one_message(await _body(request, MAX_MESSAGE_BYTES), TrackMessage)]
        )

    @app.post(
        "/v1/identify",
        response_model=IngestResponse,
        tags=["segment"],
        openapi_extra=request_body(IdentifyMessage),
    )
    async def identify(request: Request, key: KeyInfo = ingest_key) -> IngestResponse:
        """A Segment `identify` call: creates or updates the customer from its traits."""
        return await ingest_messages(
            key, [one_message(await _body(request, MAX_MESSAGE_BYTES), IdentifyMessage)]
        )

    @app.post(
        "/v1/batch", response_model=IngestResponse, tags=["segment"], openapi_extra=request_body(BatchRequest)
    )
    async def batch(request: Request, key: KeyInfo = ingest_key) -> IngestResponse:
        """Many Segment calls in one request, as the Segment libraries send them (up to 500 KB).

        The batch is checked whole: one bad message refuses all of them, and nothing is applied.
        """
        payload = await _body(request, MAX_BATCH_BYTES)
        items = payload.get("batch") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH_MESSAGES:
            problem = f"a list of 1 to {MAX_BATCH_MESSAGES:,} messages is required"
            raise GatewayError(400, "invalid request", [{"at": "batch", "problem": problem}])
        try:
            messages = ingest.parse(items)
        except IngestError as exc:
            raise _refused(exc) from exc
        return await ingest_messages(key, messages)

    def journey_event(journey_id: str, body: TriggerRequest) -> tuple[Any, CustomerEvent]:
        try:
            journey = service.journey(journey_id)
        except JourneyNotFound as exc:
            raise GatewayError(404, f"unknown journey {journey_id!r}", sorted(service.catalog)) from exc
        event = CustomerEvent(
            name=body.event or journey.spec.trigger.event,
            properties=body.properties,
            message_id=body.messageId,
        )
        return journey, event

    @app.post(
        "/v1/journeys/{journey_id}/runs",
        response_model=TriggerResponse,
        tags=["journeys"],
        openapi_extra=request_body(TriggerRequest),
    )
    async def trigger(journey_id: str, request: Request, key: KeyInfo = ingest_key) -> TriggerResponse:
        """Start this journey for a customer; a duplicate (same entry key) answers `started: false`."""
        body = await _read(request, TriggerRequest)
        await limit(key, [body.userId])
        _, event = journey_event(journey_id, body)
        try:
            result = await service.trigger(journey_id, body.userId, event)
        except EntryKeyError as exc:
            raise GatewayError(400, "invalid request", str(exc)) from exc
        return TriggerResponse(journey_id=journey_id, workflow_id=result.workflow_id, started=result.started)

    @app.post(
        "/v1/decide/{journey_id}",
        response_model=DecideResponse,
        tags=["decide"],
        openapi_extra=request_body(DecideRequest),
    )
    async def decide(journey_id: str, request: Request, key: KeyInfo = decide_key) -> DecideResponse:
        """Start (or join) the customer's run and answer with its routing decision within timeoutMs.

        On timeout the answer says `timed_out: true`; the run goes on and decides anyway.
        """
        body = await _read(request, DecideRequest)
        await limit(key, [body.userId])
        _, event = journey_event(journey_id, body)
        try:
            workflow_id, decision = await service.decide_within(
                journey_id, body.userId, event, body.timeoutMs / 1000
            )
        except EntryKeyError as exc:
            raise GatewayError(400, "invalid request", str(exc)) from exc
        if decision is None:  # the run goes on and decides anyway
            return DecideResponse(workflow_id=workflow_id, journey_id=journey_id, ready=False, timed_out=True)
        return DecideResponse(**decision.model_dump())

    @app.get("/v1/journeys", tags=["read"])
    async def journeys(key: KeyInfo = read_key) -> list[dict[str, Any]]:
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

    @app.get("/v1/runs", tags=["read"])
    async def runs(
        key: KeyInfo = read_key,
        customer_id: str | None = None,
        journey_id: str | None = None,
        status: str | None = None,
        limit_: Annotated[int, Query(alias="limit", ge=1, le=500)] = 50,
    ) -> list[queries.RunSummary]:
        """Runs, newest first."""
        return await queries.list_runs(service.sessionmaker, journey_id, customer_id, status, limit_)

    @app.get("/v1/runs/{workflow_id}", tags=["read"])
    async def run(workflow_id: str, key: KeyInfo = read_key) -> queries.RunDetail:
        """One run with every step result and message."""
        detail = await queries.get_run(service.sessionmaker, workflow_id)
        if detail is None:
            raise GatewayError(404, f"no run {workflow_id!r}")
        return detail

    @app.get("/v1/runs/{workflow_id}/state", tags=["read"])
    async def run_state(workflow_id: str, key: KeyInfo = read_key) -> RunState:
        """The run's live state from the workflow itself: current step, what it waits for, results."""
        try:
            return await service.state(workflow_id)
        except RPCError as exc:
            raise GatewayError(404, f"no running or recent run {workflow_id!r}", exc.message) from exc

    @app.get("/v1/reviews", tags=["review"])
    async def reviews(key: KeyInfo = review_key, group: str | None = None) -> list[queries.ReviewRecord]:
        """Pending reviews, earliest deadline first."""
        return await queries.pending_reviews(service.sessionmaker, group)

    @app.post("/v1/reviews/{review_id}", tags=["review"], openapi_extra=request_body(ReviewRequest))
    async def decide_review(review_id: str, request: Request, key: KeyInfo = review_key) -> ReviewAck:
        """A reviewer's decision from another tool, made as the key's reviewer account (its groups apply)."""
        body = await _read(request, ReviewRequest)
        if key.reviewer is None:
            raise GatewayError(
                403,
                f"key {key.name!r} is bound to no reviewer account; make one with "
                "`journeys keys create --scopes review --reviewer NAME`",
            )
        if body.reviewer not in (None, key.reviewer):
            raise GatewayError(
                403,
                f"this key decides as {key.reviewer!r}, not as {body.reviewer!r}",
                {"reviewer": key.reviewer},
            )
        decision = ReviewDecision(review_id=review_id, **{**body.model_dump(), "reviewer": key.reviewer})
        try:
            return await service.review(decision)
        except ReviewNotFound as exc:
            raise GatewayError(404, str(exc).strip("'\"")) from exc
        except ReviewRefused as exc:
            raise GatewayError(403, str(exc)) from exc
        except ReviewClosed as exc:
            raise GatewayError(409, str(exc)) from exc
        except WorkflowUpdateFailedError as exc:
            raise GatewayError(
                409, str(exc.cause).removeprefix("ValueError: ") if exc.cause else str(exc)
            ) from exc

    @app.get("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def unsubscribe_page(token: str) -> HTMLResponse:
        """The page behind an email's unsubscribe link: one button, so link scanners unsubscribe no one."""
        try:
            read_token(service.settings, token)
        except BadLink as exc:
            return HTMLResponse(_page(str(exc)), status_code=400)
        form = f'<form method="post" action="/u/{token}"><button type="submit">Unsubscribe</button></form>'
        return HTMLResponse(_page("Stop marketing emails from us?", form))

    @app.post("/u/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def unsubscribe_now(token: str) -> HTMLResponse:
        """The button, and RFC 8058 one-click unsubscribe from mail clients (same effect, idempotent)."""
        try:
            _, channel, _ = await service.unsubscribe(token)
        except BadLink as exc:
            return HTMLResponse(_page(str(exc)), status_code=400)
        return HTMLResponse(
            _page(f"You are unsubscribed from marketing by {channel}. We are sorry to see you go.")
        )

    return app


def _page(message: str, form: str = "") -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Unsubscribe</title></head>'
        '<body style="font: 16px system-ui; max-width: 32rem; margin: 3rem auto">'
        f"<p>{html.escape(message)}</p>{form}</body></html>"
    )
