"""Prometheus text on each process's admin port, and the instrument helpers every process shares.

Every figure is an OpenTelemetry instrument on the global meter provider; one
`PrometheusMetricReader` per process turns them into Prometheus text, served by prometheus_client
on `METRICS_HOST:METRICS_PORT` (off unless `METRICS_PORT` is set). The same instruments go out by
OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: one set of names for both paths.

Attributes are route templates, RPC names, subjects, consumer names, status codes: never ids,
payloads or anything about a person.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from wsgiref.simple_server import WSGIServer

from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.util.types import AttributeValue
from prometheus_client import start_http_server

from cityhub_sdk.logging import get_logger
from cityhub_sdk.telemetry import configure_metrics

log = get_logger(__name__)

# Seconds, from a fast local call to a slow dependency; the OTel default buckets are milliseconds.
SECONDS_BUCKETS: Sequence[float] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_lock = threading.Lock()
_reader: PrometheusMetricReader | None = None


def duration_histogram(meter: metrics.Meter, name: str, description: str) -> metrics.Histogram:
    """A latency histogram in seconds with buckets that suit request and handler durations."""
    return meter.create_histogram(
        name, unit="s", description=description, explicit_bucket_boundaries_advisory=list(SECONDS_BUCKETS)
    )


class FreshnessGauge:
    """When something was last brought up to date, as Unix seconds (e.g. a live queue estimate).

    `FreshnessGauge("waittimes_estimate", ...)` exports `waittimes_estimate_updated_timestamp_seconds`:
    every freshness gauge ends in `_updated_timestamp_seconds`, so one alert
    (`CityHubDataStale`: `time() - {__name__=~".+_updated_timestamp_seconds"} > 600`) watches them
    all. It needs no callback, so a stalled producer shows as a growing age, not a missing series.
    """

    SUFFIX = "_updated_timestamp"

    def __init__(self, subject: str, description: str, meter: metrics.Meter | None = None) -> None:
        meter = meter or metrics.get_meter("cityhub_sdk.freshness")
        self.name = f"{subject}{self.SUFFIX}_seconds"
        self._gauge = meter.create_gauge(f"{subject}{self.SUFFIX}", unit="s", description=description)

    def mark(self, attributes: Mapping[str, AttributeValue] | None = None, *, at: datetime | None = None) -> None:
        """Record that the thing named by `attributes` (e.g. {"center": "..."}) is fresh as of `at` (now)."""
        moment = at.timestamp() if at is not None else time.time()
        self._gauge.set(moment, dict(attributes or {}))


@dataclass
class MetricsServer:
    """The admin HTTP server of one process: any path answers with the Prometheus text."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def prometheus_reader(service_name: str) -> PrometheusMetricReader:
    """The process's one Prometheus reader on the global meter provider (a second would duplicate every series)."""
    global _reader
    with _lock:
        if _reader is None:
            _reader = PrometheusMetricReader()
            configure_metrics(service_name, metric_reader=_reader)
        return _reader


def serve_metrics(service_name: str, *, host: str, port: int) -> MetricsServer:
    """Serve this process's metrics as Prometheus text on host:port (0 picks a free port)."""
    prometheus_reader(service_name)
    server, thread = start_http_server(port, addr=host)
    bound = int(server.server_port)
    log.info("metrics.serving", host=host, port=bound)
    return MetricsServer(host=host, port=bound, _server=server, _thread=thread)
