"""Request size limits of the gateway, checked while the body streams in (Segment's own limits).

A Content-Length over the limit is refused before a byte is read; a body streamed without one is
counted chunk by chunk and refused as soon as it passes the limit, so no request can make the
gateway hold more than the limit in memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Segment's limits: 32 KB per message, 500 KB per batch request. The codec endpoint takes the
# payloads of a whole history page, as Temporal's UI sends them.
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_CODEC_BYTES = 8 * 1024 * 1024


def limit_for(path: str) -> int:
    """The most bytes a request body to this path may have."""
    if path.startswith("/codec/"):
        return MAX_CODEC_BYTES
    return MAX_BATCH_BYTES if path.rstrip("/") == "/v1/batch" else MAX_MESSAGE_BYTES


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"request body larger than {limit // 1024} KB")
        self.limit = limit


def too_large_body(limit: int) -> dict[str, object]:
    return {
        "code": "too_large",
        "message": f"request body larger than {limit // 1024} KB",
        "detail": {"limit_bytes": limit},
    }


class BodyLimit:
    """ASGI middleware: 413 for any request whose body is larger than `limit_for(path)`."""

    def __init__(self, app: ASGIApp, limit: Callable[[str], int] = limit_for) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _answer_413(send, limit)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await _answer_413(send, limit)


async def _answer_413(send: Send, limit: int) -> None:
    body = json.dumps(too_large_body(limit)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
