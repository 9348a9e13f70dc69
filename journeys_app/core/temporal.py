"""The one way to connect to Temporal: pydantic payloads, encrypted, and tracing on every client."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from journeys_app.core.payload_codec import EncryptionCodec
from journeys_app.core.payload_keys import load_payload_keys
from journeys_app.core.settings import Settings
from journeys_app.core.telemetry import metrics_runtime, tracing_interceptors


class TemporalUnreachable(ConnectionError):
    pass


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads; with encryption on (the default), payloads and failure messages are
    encrypted, and payloads written in clear (older runs) still decode."""
    if not settings.payload_encryption:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(load_payload_keys(settings)),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(settings: Settings, address: str | None = None) -> Client:
    target = address or settings.temporal_address or f"127.0.0.1:{settings.embedded_temporal_port}"
    converter = data_converter(settings)
    try:
        return await Client.connect(
            target,
            namespace=settings.temporal_namespace,
            data_converter=converter,
            interceptors=tracing_interceptors(settings),
            runtime=metrics_runtime(settings),
        )
    except RuntimeError as exc:  # the SDK reports refused connections as RuntimeError
        raise TemporalUnreachable(
            f"cannot reach Temporal at {target}: start the stack with `journeys up`, or set TEMPORAL_ADDRESS"
        ) from exc
