"""Errors are problem+json in the caller's language, with a `type` page that resolves, one
`errors[]` shape, Retry-After where waiting helps, and a trace id a resident can quote."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import yaml
from cityhub_gateway.app import create_app
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.config import GatewaySettings
from cityhub_sdk.languages import SUPPORTED_LANGUAGES
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

PROBLEMS = yaml.safe_load(
    open(  # noqa: SIM115 - read once at import
        __import__("cityhub_gateway").__path__[0] + "/data/problems.yaml", encoding="utf-8"
    ).read()
)


@pytest.fixture
async def offline_api(span_exporter: InMemorySpanExporter) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with every backend unreachable: enough for errors raised before or instead of a call."""
    peers = {
        str(field.validation_alias): "127.0.0.1:1"
        for field in GatewaySettings.model_fields.values()
        if str(field.validation_alias).endswith("_ADDR")
    }
    settings = GatewaySettings(**peers, GRPC_TIMEOUT_S=2, LOG_JSON=False)  # type: ignore[arg-type]
    clients = ServiceClients.connect(settings)
    transport = httpx.ASGITransport(app=create_app(settings, clients))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client
    finally:
        await clients.close()


def test_every_kind_has_texts_in_every_language() -> None:
    for kind, entry in PROBLEMS.items():
        for field in ("title", "detail"):
            assert set(entry[field]) == set(SUPPORTED_LANGUAGES), (kind, field)
            english = entry[field]["en"]
            assert all(entry[field][lang] != english for lang in SUPPORTED_LANGUAGES if lang != "en"), (kind, field)


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
async def test_unavailable_backend_answers_503_in_the_callers_language(
    offline_api: httpx.AsyncClient, lang: str
) -> None:
    response = await offline_api.get("/v1/departments", headers={"Accept-Language": lang})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["type"] == "/problems/service-unavailable"
    assert body["title"] == PROBLEMS["service-unavailable"]["title"][lang]
    assert body["detail"] == PROBLEMS["service-unavailable"]["detail"][lang]
    assert body["status"] == 503 and body["instance"] == "/v1/departments"
    # The trace id in the body is the one in the header, so a screenshot or a log line finds the trace.
    assert body["trace_id"] == response.headers["x-trace-id"] and len(body["trace_id"]) == 32


async def test_lang_query_wins_over_accept_language(offline_api: httpx.AsyncClient) -> None:
    response = await offline_api.get("/v1/me?lang=vi", headers={"Accept-Language": "ja"})
    assert response.status_code == 401
    assert response.json()["title"] == PROBLEMS["unauthorized"]["title"]["vi"]


async def test_unknown_route_is_a_localised_404(offline_api: httpx.AsyncClient) -> None:
    response = await offline_api.get("/v1/no-such-thing", headers={"Accept-Language": "fa"})
    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "/problems/not-found" and body["title"] == PROBLEMS["not-found"]["title"]["fa"]


async def test_invalid_parameters_share_one_errors_shape(offline_api: httpx.AsyncClient) -> None:
    for query in ("lat=nan&lon=0&radius_m=100", "lat=91&lon=0&radius_m=100", "lat=1e999&lon=0&radius_m=100"):
        response = await offline_api.get(f"/v1/incidents?{query}")
        assert response.status_code == 422, (query, response.text)
        body = response.json()
        assert body["type"] == "/problems/invalid-request"
        assert body["errors"] and all(set(item) == {"field", "message"} for item in body["errors"])
        assert body["errors"][0]["field"] == "lat"


async def test_success_answers_carry_a_trace_id_too(offline_api: httpx.AsyncClient) -> None:
    response = await offline_api.get("/health")
    assert len(response.headers["x-trace-id"]) == 32


@pytest.mark.parametrize("kind", sorted(PROBLEMS))
async def test_every_problem_type_resolves_to_its_page(offline_api: httpx.AsyncClient, kind: str) -> None:
    page = await offline_api.get(f"/problems/{kind}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for lang in SUPPORTED_LANGUAGES:
        assert PROBLEMS[kind]["title"][lang] in page.text
    assert (await offline_api.get("/problems/no-such-kind")).status_code == 404
