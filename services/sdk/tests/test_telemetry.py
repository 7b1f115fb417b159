"""Metrics set-up: one meter provider per process, readers added later, and OTLP export from the
standard variables alone (a real OTLP/gRPC receiver in this test, the exporting code in a child process)."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap

import grpc
from cityhub_sdk.telemetry import configure_telemetry
from cityhub_sdk.testing import free_port
from opentelemetry import metrics
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader


def _sum_of(reader: InMemoryMetricReader, name: str) -> float:
    data = reader.get_metrics_data()
    total = 0.0
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    total += sum(point.value for point in metric.data.data_points)  # type: ignore[union-attr]
    return total


def test_meter_provider_is_installed_once_and_takes_readers_later() -> None:
    first = InMemoryMetricReader()
    configure_telemetry("telemetry-test", metric_reader=first)
    provider = metrics.get_meter_provider()
    assert isinstance(provider, MeterProvider)
    second = InMemoryMetricReader()
    configure_telemetry("telemetry-test-again", metric_reader=second)
    assert metrics.get_meter_provider() is provider  # not replaced

    counter = metrics.get_meter("telemetry-test").create_counter("telemetry_test_total")
    counter.add(3, {"kind": "a"})
    assert _sum_of(first, "telemetry_test_total") == 3
    assert _sum_of(second, "telemetry_test_total") == 3
    provider.remove_metric_reader(first)
    provider.remove_metric_reader(second)


class Receiver(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self) -> None:
        self.names: list[str] = []

    async def Export(self, request, context):  # type: ignore[no-untyped-def]
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                self.names.extend(metric.name for metric in scope.metrics)
        return metrics_service_pb2.ExportMetricsServiceResponse()


CHILD = textwrap.dedent(
    """
    from opentelemetry import metrics
    from cityhub_sdk.telemetry import configure_telemetry, shutdown_telemetry
    configure_telemetry("otlp-child")
    metrics.get_meter("child").create_counter("child_events_total").add(2)
    shutdown_telemetry()
    """
)


async def test_otlp_metric_export_is_switched_on_by_the_endpoint_variable() -> None:
    receiver = Receiver()
    server = grpc.aio.server()
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port(f"127.0.0.1:{free_port()}")
    await server.start()
    try:
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
        }
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, env=env)
        assert await asyncio.wait_for(child.wait(), 60) == 0
    finally:
        await server.stop(None)
    assert "child_events_total" in receiver.names
