"""Reading a request: the API key it carries and its JSON body, within limits, as a model."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import zlib
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from journeys_app.edges.gateway.errors import GatewayError, invalid
from journeys_app.edges.gateway.limits import MAX_MESSAGE_BYTES
from journeys_app.store.storable import storable_problems

T = TypeVar("T", bound=BaseModel)


def key_from(request: Request) -> str | None:
    """Segment sends the write key as the Basic-auth user name; other tools send a Bearer key."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
    return None


async def read_body(request: Request, limit: int) -> Any:
    """The JSON body, gunzipped if sent with Content-Encoding: gzip, within `limit` bytes."""
    data = await read_body_bytes(request, limit)
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GatewayError(400, "malformed JSON", str(exc)) from exc
    except RecursionError as exc:
        raise GatewayError(
            400, "JSON nested too deep", "nest objects and lists at most 32 levels deep"
        ) from exc


async def read_body_bytes(request: Request, limit: int) -> bytes:
    """The body, gunzipped if sent with Content-Encoding: gzip, within `limit` bytes."""
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
    return data


async def read_model(request: Request, model: type[T]) -> T:
    """The JSON body as `model`, refused with every problem named (text the store cannot hold too)."""
    payload = await read_body(request, MAX_MESSAGE_BYTES)
    if problems := storable_problems(payload, ""):
        raise GatewayError(400, "invalid request", [{"at": at, "problem": p} for at, p in problems[:50]])
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise invalid(exc) from exc
