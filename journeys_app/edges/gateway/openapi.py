"""The gateway's OpenAPI document, as the gateway really answers.

The routes read their JSON bodies themselves (size limits, gzip, text checks), so FastAPI does not
see their request models: `request_body` publishes them. FastAPI documents a 422 for validation
errors where this gateway answers 400; `documented_openapi` writes the refusals each route makes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from journeys_app.edges.gateway.protocol import ErrorBody

_REF = "#/components/schemas/{model}"
_BODIES: dict[str, type[BaseModel]] = {}

_WHY = {
    "400": "Invalid request: the detail names each problem (message index and field)",
    "401": "Missing, unknown or revoked API key",
    "403": "The key lacks the scope, or the reviewer may not decide this review",
    "404": "No such journey, run or review",
    "409": "The run refused the decision (stale, duplicate or invalid)",
    "413": "Request body over the limit (32 KB per message, 500 KB per batch)",
    "429": "Rate limit of the key; retry after the Retry-After header",
    "503": "The journey engine (Temporal) or the store is unavailable; send the request again",
}


def request_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route that parses `model` from its JSON body itself."""
    _BODIES[model.__name__] = model
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}},
        }
    }


def _refusals(path: str, method: str) -> list[str]:
    codes = ["400", "401", "403", "503"]
    if method == "post":
        codes += ["413", "429"]
    if "{" in path:
        codes.append("404")
    if path.startswith("/v1/reviews/") and method == "post":
        codes.append("409")
    return sorted(codes)


def documented_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in [*_BODIES.values(), ErrorBody]:
        body = model.model_json_schema(ref_template=_REF)
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    error = {"application/json": {"schema": {"$ref": _REF.format(model="ErrorBody")}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for code in _refusals(path, method):
                responses[code] = {"description": _WHY[code], "content": error}
    app.openapi_schema = schema
    return schema
