"""An OTLP/gRPC receiver in the test process: what `make run` exports when the README's
OTEL_EXPORTER_OTLP_ENDPOINT points at it (spans kept for the trace assertions, metrics accepted)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2


@dataclass
class ReceivedSpan:
    service: str
    span: trace_pb2.Span


@dataclass
class Receiver:
    spans: list[ReceivedSpan] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> list[ReceivedSpan]:
        with self.lock:
            return list(self.spans)


class TraceSink(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        with self.receiver.lock:
            for resource_spans in request.resource_spans:
                service = attribute_text(resource_spans.resource.attributes, "service.name")
                for scope_spans in resource_spans.scope_spans:
                    self.receiver.spans.extend(ReceivedSpan(service, span) for span in scope_spans.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


class MetricsSink(metrics_service_pb2_grpc.MetricsServiceServicer):
    """Metrics go out by OTLP too; accepted so the exporters have somewhere to send them."""

    def Export(self, request: Any, context: Any) -> Any:
        return metrics_service_pb2.ExportMetricsServiceResponse()


def value_text(value: common_pb2.AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return ",".join(value_text(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return ",".join(f"{kv.key}={value_text(kv.value)}" for kv in value.kvlist_value.values)
    return str(getattr(value, kind)) if kind else ""


def attribute_text(attributes: Any, key: str) -> str:
    return next((value_text(kv.value) for kv in attributes if kv.key == key), "")


@contextmanager
def serving_receiver() -> Iterator[tuple[Receiver, int]]:
    """A started receiver and its loopback port."""
    sink = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceSink(sink), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(MetricsSink(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield sink, port
    finally:
        server.stop(grace=None)
