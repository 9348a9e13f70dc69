"""The one way to connect to Temporal: pydantic payloads and tracing on every client."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from journeys_app.core.settings import Settings
from journeys_app.core.telemetry import metrics_runtime, tracing_interceptors


class TemporalUnreachable(ConnectionError):
    pass


async def connect(settings: Settings, address: str | None = None) -> Client:
    target = address or settings.temporal_address or f"127.0.0.1:{settings.embedded_temporal_port}"
    try:
        return await Client.connect(
            target,
            namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
            interceptors=tracing_interceptors(settings),
            runtime=metrics_runtime(settings),
        )
    except RuntimeError as exc:  # the SDK reports refused connections as RuntimeError
        raise TemporalUnreachable(
            f"cannot reach Temporal at {target}: start the stack with `journeys up`, or set TEMPORAL_ADDRESS"
        ) from exc
