"""Refusals as the Segment libraries parse them: `{"code", "message", "detail"}`, never a 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import exc as sa
from temporalio.service import RPCError

from journeys_app.edges.gateway.ingest import IngestError

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


def invalid(exc: ValidationError) -> GatewayError:
    problems = [
        {"at": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors(include_url=False)
    ]
    return GatewayError(400, "invalid request", problems[:50])


def refused(exc: IngestError) -> GatewayError:
    return GatewayError(400, f"invalid request: {exc}", [p.model_dump() for p in exc.problems[:100]])


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        return JSONResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RPCError)
    async def _temporal_error(request: Request, exc: RPCError) -> JSONResponse:
        """Temporal could not answer where a route needs it: the client should try again."""
        log.warning("%s %s: Temporal said %s (%s)", request.method, request.url.path, exc.message, exc.status)
        error = GatewayError(503, "the journey engine is unavailable; send the request again", exc.message)
        return await _gateway_error(request, error)

    @app.exception_handler(sa.DBAPIError)
    @app.exception_handler(sa.TimeoutError)
    @app.exception_handler(ConnectionError)
    async def _store_error(request: Request, exc: Exception) -> JSONResponse:
        """The database went away or is out of connections: nothing was written, try again.
        Any other database error is a defect and stays a 500."""
        if isinstance(exc, sa.DBAPIError) and not (
            exc.connection_invalidated or isinstance(exc, sa.OperationalError | sa.InterfaceError)
        ):
            raise exc
        log.warning("%s %s: the store is unavailable (%s)", request.method, request.url.path, exc)
        error = GatewayError(503, "the store is unavailable; send the request again", type(exc).__name__)
        return await _gateway_error(request, error)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"at": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        body = {"code": "invalid_request", "message": "invalid request", "detail": problems[:50]}
        return JSONResponse(body, status_code=400)
