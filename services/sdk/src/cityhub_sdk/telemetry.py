"""OpenTelemetry set-up from the standard OTEL_* variables.

The OTLP exporter is switched on by OTEL_EXPORTER_OTLP_ENDPOINT alone, so tracing in production is
configuration, not code. Tests pass their own span processor to read finished spans.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def configure_telemetry(service_name: str, *, extra_processor: SpanProcessor | None = None) -> TracerProvider:
    """Install the process-wide tracer provider once; later calls reuse it."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        if extra_processor is not None:
            current.add_span_processor(extra_processor)
        return current
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if extra_processor is not None:
        provider.add_span_processor(extra_processor)
    trace.set_tracer_provider(provider)
    return provider


def shutdown_telemetry() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()
