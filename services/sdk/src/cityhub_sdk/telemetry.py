"""OpenTelemetry set-up from the standard OTEL_* variables.

The OTLP exporters are switched on by OTEL_EXPORTER_OTLP_ENDPOINT alone (or the per-signal
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_METRICS_ENDPOINT), so traces and metrics in
production are configuration, not code. Both providers are installed once per process (OTel refuses to
replace them); later calls reuse them. Tests pass their own span processor or metric reader (e.g.
InMemoryMetricReader) to read what the process produced.

Sampling follows the standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG. Unset, it is
`parentbased_traceidratio` with ratio OTEL_TRACES_SAMPLER_ARG (1.0 when unset): a trace is kept or
dropped once, at the gateway, and every process after it follows the caller's decision.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased

DEFAULT_SAMPLER = "parentbased_traceidratio"


def _otlp_enabled(signal: str) -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )


def sampler_from(environ: Mapping[str, str]) -> Sampler:
    """The sampler OTEL_TRACES_SAMPLER names (the standard values); unset or unknown, parent-based ratio."""
    name = environ.get("OTEL_TRACES_SAMPLER", DEFAULT_SAMPLER).strip().lower()
    try:
        ratio = min(max(float(environ.get("OTEL_TRACES_SAMPLER_ARG", "1.0")), 0.0), 1.0)
    except ValueError:
        ratio = 1.0
    choices: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(ratio),
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(TraceIdRatioBased(ratio)),
    }
    return choices.get(name, choices[DEFAULT_SAMPLER])


def configure_telemetry(
    service_name: str,
    *,
    extra_processor: SpanProcessor | None = None,
    metric_reader: MetricReader | None = None,
) -> TracerProvider:
    """Install the process-wide tracer and meter providers once; later calls reuse them."""
    configure_metrics(service_name, metric_reader=metric_reader)
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        if extra_processor is not None:
            current.add_span_processor(extra_processor)
        return current
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}), sampler=sampler_from(os.environ))
    if _otlp_enabled("TRACES"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if extra_processor is not None:
        provider.add_span_processor(extra_processor)
    trace.set_tracer_provider(provider)
    return provider


def configure_metrics(service_name: str, *, metric_reader: MetricReader | None = None) -> MeterProvider:
    """Install the process-wide meter provider once (OTLP export every OTEL_METRIC_EXPORT_INTERVAL ms
    when an endpoint is set); a reader passed later is added to the installed provider."""
    current = metrics.get_meter_provider()
    if isinstance(current, MeterProvider):
        if metric_reader is not None:
            current.add_metric_reader(metric_reader)
        return current
    readers: list[MetricReader] = []
    if _otlp_enabled("METRICS"):
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    if metric_reader is not None:
        readers.append(metric_reader)
    provider = MeterProvider(resource=Resource.create({SERVICE_NAME: service_name}), metric_readers=readers)
    metrics.set_meter_provider(provider)
    return provider


def shutdown_telemetry() -> None:
    """Flush what is buffered (the providers stay installed: other parts of the process may still run)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()
    meter_provider = metrics.get_meter_provider()
    if isinstance(meter_provider, MeterProvider):
        meter_provider.force_flush()
