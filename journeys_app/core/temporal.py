"""The one way to connect to Temporal: pydantic payloads, encrypted; TLS and API keys for a real
cluster; tracing on every client."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import TLSConfig

from journeys_app.core.payload_codec import EncryptionCodec
from journeys_app.core.payload_keys import load_payload_keys
from journeys_app.core.settings import Settings
from journeys_app.core.telemetry import metrics_runtime, tracing_interceptors


class TemporalUnreachable(ConnectionError):
    pass


class TemporalSettingsError(ValueError):
    """The connection settings contradict each other or name files that cannot be read."""


def _read(path: Path | None, setting: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TemporalSettingsError(f"{setting}: cannot read {path} ({exc.strerror})") from exc


def tls_config(settings: Settings) -> bool | TLSConfig:
    """False (plain), True (TLS with the system's CAs) or the TLS configuration the files give."""
    ca, cert, key = (
        settings.temporal_tls_ca_file,
        settings.temporal_tls_cert_file,
        settings.temporal_tls_key_file,
    )
    if (cert is None) != (key is None):
        raise TemporalSettingsError(
            "JOURNEYS_TEMPORAL_TLS_CERT_FILE and JOURNEYS_TEMPORAL_TLS_KEY_FILE go together (mTLS): set both"
        )
    files = ca or cert
    wanted = settings.temporal_tls
    if wanted is None:
        wanted = bool(settings.temporal_api_key or files)
    if not wanted:
        if files:
            raise TemporalSettingsError(
                "TLS files are set but JOURNEYS_TEMPORAL_TLS is false: unset one of them"
            )
        return False
    if not files and not settings.temporal_tls_server_name:
        return True
    return TLSConfig(
        server_root_ca_cert=_read(ca, "JOURNEYS_TEMPORAL_TLS_CA_FILE"),
        client_cert=_read(cert, "JOURNEYS_TEMPORAL_TLS_CERT_FILE"),
        client_private_key=_read(key, "JOURNEYS_TEMPORAL_TLS_KEY_FILE"),
        domain=settings.temporal_tls_server_name or None,
    )


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
    converter, tls = data_converter(settings), tls_config(settings)
    try:
        return await Client.connect(
            target,
            namespace=settings.temporal_namespace,
            api_key=settings.temporal_api_key or None,
            tls=tls,
            data_converter=converter,
            interceptors=tracing_interceptors(settings),
            runtime=metrics_runtime(settings),
        )
    except RuntimeError as exc:  # the SDK reports refused connections as RuntimeError
        if tls:
            raise TemporalUnreachable(
                f"cannot reach Temporal at {target} over TLS: check that it serves TLS there and the "
                f"JOURNEYS_TEMPORAL_TLS_* settings ({exc})"
            ) from exc
        raise TemporalUnreachable(
            f"cannot reach Temporal at {target}: start the stack with `journeys up`, or set TEMPORAL_ADDRESS"
        ) from exc
