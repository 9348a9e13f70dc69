"""Serve an ASGI app (the review console, the gateway) inside an asyncio program, with uvicorn."""

from __future__ import annotations

import asyncio
import importlib
import socket
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

from journeys_app.core.settings import Settings
from journeys_app.devtools.stack import StackError
from journeys_app.service.journey_service import JourneyService


def _listen(host: str, port: int, what: str, setting: str) -> socket.socket:
    """Bind here, not in uvicorn, so a taken port is a clear error rather than uvicorn's exit."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it a response's body waits for the client's
    # delayed ACK of its headers, ~40 ms on every request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StackError(
            f"the {what} cannot listen on {host}:{port} ({exc.strerror}); set {setting}"
        ) from exc
    return sock


@asynccontextmanager
async def serve(app: ASGIApp, host: str, port: int, *, what: str, setting: str) -> AsyncIterator[str]:
    """Serve `app` until the block ends; yields its base URL (port 0 picks a free port)."""
    sock = _listen(host, port, what, setting)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]), name=what)
    try:
        while not server.started:
            if task.done():
                task.result()
                raise StackError(f"the {what} stopped while starting; see the log above")
            await asyncio.sleep(0.05)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


# part -> (app factory "module:function", host setting, port setting, name in messages)
PARTS = {
    "console": (
        "journeys_app.edges.console.app:create_console_app",
        "console_host",
        "console_port",
        "review console",
    ),
    "gateway": (
        "journeys_app.edges.gateway.app:create_gateway_app",
        "gateway_host",
        "gateway_port",
        "gateway",
    ),
}


def serve_part(part: str, service: JourneyService, settings: Settings) -> AbstractAsyncContextManager[str]:
    """Serve the console or the gateway with this service, where the settings say."""
    factory, host, port, what = PARTS[part]
    module, _, function = factory.partition(":")
    create = getattr(importlib.import_module(module), function)
    return serve(
        create(service, settings),
        getattr(settings, host),
        getattr(settings, port),
        what=what,
        setting=f"JOURNEYS_{port.upper()}",
    )


def serve_console(service: JourneyService, settings: Settings) -> AbstractAsyncContextManager[str]:
    return serve_part("console", service, settings)


def serve_gateway(service: JourneyService, settings: Settings) -> AbstractAsyncContextManager[str]:
    return serve_part("gateway", service, settings)
