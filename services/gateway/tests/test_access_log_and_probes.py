"""The gateway as an operator sees it: one access-log line and one measurement per request by
route template (no raw paths, query strings or credentials), and probes that do not take every
replica out of the load balancer when one backend is down."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cityhub_gateway.app import create_app
from cityhub_gateway.clients import ServiceClients
from cityhub_sdk.app import RunningService
from cityhub_sdk.metrics import MetricsServer, serve_metrics
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from .conftest import settings_for

CENTER_ID = "0123456789abcdef01234567"  # well-formed, unknown: a 404 from the catalog
CANARIES = ("47.61234", "-122.33456", "tok-canary-9f2", CENTER_ID, "no-such-page-7c1")
UNSTARTED = "127.0.0.1:9"  # the discard port: calls fail fast with UNAVAILABLE


@pytest.fixture(scope="module")
def metrics_server() -> MetricsServer:
    return serve_metrics("gateway-tests", host="127.0.0.1", port=0)


def scrape(url: str) -> tuple[str, list[tuple[str, dict[str, str], float]]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples = [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]
    return text, samples


async def test_one_access_log_line_and_measurement_per_request_by_route_template(
    api: httpx.AsyncClient, metrics_server: MetricsServer, span_exporter: InMemorySpanExporter
) -> None:
    span_exporter.clear()
    with capture_logs() as logs:
        found = await api.get("/v1/departments")
        missing = await api.get(
            f"/v1/service-centers/{CENTER_ID}?lat=47.61234&lon=-122.33456",
            headers={"Authorization": "Bearer tok-canary-9f2"},
        )
        unmatched = await api.get("/no-such-page-7c1?access_token=tok-canary-9f2")
    assert (found.status_code, missing.status_code, unmatched.status_code) == (200, 404, 404)

    lines = [entry for entry in logs if entry.get("event") == "http.request"]
    by_route = {entry["route"]: entry for entry in lines}
    assert set(by_route) == {"/v1/departments", "/v1/service-centers/{center_id}", "unmatched"}, lines
    center = by_route["/v1/service-centers/{center_id}"]
    assert (center["method"], center["status"]) == ("GET", 404)
    assert center["duration_ms"] >= 0
    assert center["trace_id"] == missing.headers["x-trace-id"]  # what a resident quotes finds the line
    assert by_route["/v1/departments"]["trace_id"] == found.headers["x-trace-id"]
    for entry in lines:
        assert set(entry) >= {"route", "method", "status", "duration_ms", "trace_id"}
        for canary in CANARIES:
            assert canary not in repr(entry), entry

    text, samples = await asyncio.to_thread(scrape, metrics_server.url)
    count = "http_server_request_duration_seconds_count"

    def requests(route: str, status: str) -> list[float]:
        return [
            value
            for name, labels, value in samples
            if name == count
            and labels.get("http_route") == route
            and labels.get("http_request_method") == "GET"
            and labels.get("http_response_status_code") == status
        ]

    assert requests("/v1/departments", "200"), [s for s in samples if s[0] == count]
    assert requests("/v1/service-centers/{center_id}", "404")
    assert requests("unmatched", "404")
    for canary in CANARIES:
        assert canary not in text  # ids, paths, queries and tokens never become labels

    servers = [
        s
        for s in span_exporter.get_finished_spans()
        if s.kind == SpanKind.SERVER and s.name.startswith("GET /v1/service-centers")
    ]
    assert [s.name for s in servers] == ["GET /v1/service-centers/{center_id}"]  # named after the template


@pytest.fixture
async def api_without_incidents(catalog_service: RunningService[Any]) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway whose incidents and identity peers are down (nothing listens there)."""
    settings = settings_for(CATALOG_ADDR=catalog_service.address, IDENTITY_ADDR=UNSTARTED, INCIDENTS_ADDR=UNSTARTED)
    clients = ServiceClients.connect(settings)
    transport = httpx.ASGITransport(app=create_app(settings, clients))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client
    finally:
        await clients.close()


async def test_readiness_stays_up_when_a_backend_is_down_and_health_reports_it(
    api_without_incidents: httpx.AsyncClient,
) -> None:
    health = await api_without_incidents.get("/health")
    assert health.status_code == 503
    assert health.json()["services"]["incidents"] == "UNREACHABLE"
    assert health.json()["services"]["catalog"] == "SERVING"

    ready = await api_without_incidents.get("/health/ready")
    live = await api_without_incidents.get("/health/live")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    # ... and the routes of the healthy backend still serve, the others degrade on their own.
    assert (await api_without_incidents.get("/v1/departments")).status_code == 200
    assert (await api_without_incidents.get("/v1/incidents?lat=47.6&lon=-122.3")).status_code == 503


async def test_readiness_fails_until_the_gateway_has_its_clients(catalog_service: RunningService[Any]) -> None:
    settings = settings_for(CATALOG_ADDR=catalog_service.address, IDENTITY_ADDR=UNSTARTED, INCIDENTS_ADDR=UNSTARTED)
    app = create_app(settings)  # the lifespan (which connects the clients) has not run
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client:
        ready = await client.get("/health/ready")
        live = await client.get("/health/live")
    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable"})
    assert live.status_code == 200
