"""One resident action is one trace: the gateway's HTTP span and the service's gRPC span share it."""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind


async def test_http_request_and_grpc_call_share_one_trace(
    api: httpx.AsyncClient, span_exporter: InMemorySpanExporter
) -> None:
    span_exporter.clear()
    response = await api.get("/v1/departments")
    assert response.status_code == 200

    spans = span_exporter.get_finished_spans()
    http_server = [
        s for s in spans if s.kind == SpanKind.SERVER and s.attributes and s.attributes.get("http.method") == "GET"
    ]
    assert http_server, "no HTTP server span from the gateway"
    trace_id = http_server[-1].context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    grpc_server = [
        s for s in in_trace if s.kind == SpanKind.SERVER and s.name.endswith("CatalogService/ListDepartments")
    ]
    grpc_client = [
        s for s in in_trace if s.kind == SpanKind.CLIENT and s.name.endswith("CatalogService/ListDepartments")
    ]
    assert grpc_client and grpc_server, [s.name for s in in_trace]
    # No personal data in span attributes: the route template, not raw query strings with values.
    for span in in_trace:
        for value in (span.attributes or {}).values():
            assert "@" not in str(value)


async def test_query_strings_with_coordinates_stay_out_of_spans(
    api: httpx.AsyncClient, span_exporter: InMemorySpanExporter
) -> None:
    span_exporter.clear()
    response = await api.get("/v1/service-centers?lat=47.6101&lon=-122.3344&radius_m=3000&access_token=secret-ish")
    assert response.status_code == 200
    spans = span_exporter.get_finished_spans()
    assert any(s.attributes and s.attributes.get("http.route") == "GET /v1/service-centers" for s in spans)
    for span in spans:
        for value in (span.attributes or {}).values():
            assert "47.6101" not in str(value) and "secret-ish" not in str(value), span.attributes
