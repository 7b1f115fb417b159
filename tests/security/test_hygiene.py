"""HTTP and gRPC hygiene (issue 17): security headers, no-store on tokens, public URLs from
configuration (never the Host header), errors without another layer's internals, malformed
protobuf answered INVALID_ARGUMENT by every service."""

from __future__ import annotations

import uuid

import grpc
import pytest

from .conftest import CENTRE, PASSWORD, Platform, StartPlatform, report_form, resident


@pytest.fixture
async def platform(start_platform: StartPlatform) -> Platform:
    return await start_platform(PUBLIC_BASE_URL="https://api.lakeview.example")


async def test_every_answer_carries_the_security_headers(platform: Platform) -> None:
    api = platform.client()
    for path in ("/health", "/v1/services", "/v1/me", "/open311/v2/services.json", "/schema/openapi.json"):
        response = await api.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
    assert (await api.get("/v1/services")).headers["content-security-policy"].startswith("default-src 'none'")


async def test_html_pages_get_a_policy_that_allows_only_their_own_scripts(platform: Platform) -> None:
    api = platform.client()
    for path in ("/schema", "/problems", "/problems/not-found"):
        response = await api.get(path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html"), path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    swagger = await api.get("/schema")
    assert "'sha256-" in swagger.headers["content-security-policy"]  # its inline start-up script, by hash
    assert "/schema/assets/swagger-ui-bundle.js" in swagger.text


async def test_token_answers_are_never_cached(platform: Platform) -> None:
    api = platform.client()
    email = f"nostore-{uuid.uuid4().hex[:6]}@example.org"
    await api.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    signed_in = await api.post("/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 200 and signed_in.headers["cache-control"] == "no-store"
    refreshed = await api.post("/v1/auth/refresh", json={"refresh_token": signed_in.json()["refresh_token"]})
    assert refreshed.status_code == 200 and refreshed.headers["cache-control"] == "no-store"


async def test_open311_discovery_urls_come_from_configuration_never_the_host_header(platform: Platform) -> None:
    api = platform.client()
    for fmt in ("json", "xml"):
        response = await api.get(f"/open311/v2/discovery.{fmt}", headers={"Host": "evil.example"})
        assert response.status_code == 200
        assert "evil.example" not in response.text
        assert "https://api.lakeview.example/open311/v2" in response.text


async def test_without_a_public_url_the_gateway_names_its_own_address(start_platform: StartPlatform) -> None:
    platform = await start_platform()
    response = await platform.client().get("/open311/v2/discovery.json", headers={"Host": "evil.example"})
    assert response.json()["endpoints"][0]["url"] == "http://127.0.0.1:8000/open311/v2"


async def test_a_huge_attribute_key_is_a_plain_400_without_grpc_internals(platform: Platform) -> None:
    api = platform.client()
    key = await platform.api_key("roads")
    form = {
        "service_code": "RD-POTHOLE",
        "lat": str(CENTRE[0]),
        "long": str(CENTRE[1]),
        "description": "Deep hole",
        "api_key": key,
        "attribute[size]": "small",
        f"attribute[{'k' * 20_000}]": "x",
    }
    response = await api.post("/open311/v2/requests.json", data=form)
    assert response.status_code == 400, response.text
    assert "metadata" not in response.text.lower() and len(response.text) < 2000
    me = await resident(api)
    report = await api.post("/v1/incidents", files=report_form(attributes='{"' + "k" * 20_000 + '": "x"}'), headers=me)
    assert report.status_code == 422, report.text
    assert "metadata" not in report.text.lower() and len(report.text) < 3000


@pytest.mark.parametrize("service", ["identity", "catalog", "incidents", "notifications"])
async def test_malformed_protobuf_is_invalid_argument_and_the_service_stays_up(
    platform: Platform, service: str
) -> None:
    address = platform.services[service].address
    method = {
        "identity": "/cityhub.identity.v1.IdentityService/CreateToken",
        "catalog": "/cityhub.catalog.v1.CatalogService/ListServices",
        "incidents": "/cityhub.incidents.v1.IncidentsService/SearchReports",
        "notifications": "/cityhub.notifications.v1.NotificationsService/ListSubscriptions",
    }[service]
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        for garbage in (b"\xff\xff\xff\xff\xff", b"\x0a\xff\xff\xff\x0f", b"\x08" + b"\xff" * 20):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(garbage, timeout=5)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (garbage, refused.value.details())
            assert "Error" not in (refused.value.details() or "")
        health = channel.unary_unary(
            "/grpc.health.v1.Health/Check", request_serializer=lambda b: b, response_deserializer=lambda b: b
        )
        assert await health(b"", timeout=5) == b"\x08\x01"  # SERVING
