"""Tracing and logging setup, shared by the client, both workers and the CLI."""

from __future__ import annotations

import logging

from temporalio.client import Interceptor
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from journeys_app.core.masking import PiiMaskingFilter
from journeys_app.core.settings import Settings

_configured = False
_runtimes: dict[str, Runtime] = {}


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "sentence_transformers", "temporalio.activity", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # No raw phone number or email address in any log line.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PiiMaskingFilter) for f in handler.filters):
            handler.addFilter(PiiMaskingFilter())


def tracing_interceptors(settings: Settings) -> list[Interceptor]:
    """OpenTelemetry through Temporal's tracing interceptor; the exporter comes from settings.

    The interceptor goes on the client, so every worker built from that client traces too.
    """
    global _configured
    if settings.tracing == "none":
        return []
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    from temporalio.contrib.opentelemetry import TracingInterceptor

    if not _configured:
        provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
        if settings.tracing == "console":
            exporter = ConsoleSpanExporter()
        else:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()  # endpoint from OTEL_EXPORTER_OTLP_ENDPOINT
        provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _configured = True
    return [TracingInterceptor()]


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime serving Prometheus metrics on settings.metrics_bind (None: the default runtime).

    SDK metrics (task latencies, slots, polls) and ours (journeys_inference_results) come from the
    same endpoint. One runtime per address per process: the port can be bound only once.
    """
    if not settings.metrics_bind:
        return None
    if settings.metrics_bind not in _runtimes:
        _runtimes[settings.metrics_bind] = Runtime(
            telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=settings.metrics_bind))
        )
    return _runtimes[settings.metrics_bind]
