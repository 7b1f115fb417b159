"""Acceptance 5: an independent Open311 client posts a request with an API key and reads it back,
against the gateway served over real HTTP.

Two PyPI clients, neither written here: `civicbot`'s Open311Client posts the request (it first
validates the form against our live service definition, then sends it form-encoded with the
API key), and `georeport` reads it back in JSON and XML. A request without an API key, made with
plain `requests`, shows the spec's error list.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
import requests
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.seed import seed_catalog
from cityhub_identity.app import DEFINITION as IDENTITY
from cityhub_incidents.app import DEFINITION as INCIDENTS
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.testing import TEST_INTERNAL_TOKEN
from civicbot.open311 import Open311Client  # type: ignore[import-untyped]
from civicbot.registry import Endpoint  # type: ignore[import-untyped]
from georeport import GeoReport  # type: ignore[import-untyped]

from .conftest import ServiceSpec, StartPlatform

pytestmark = pytest.mark.e2e


async def _seed(service: Any) -> None:
    await seed_catalog(service.db)


async def test_open311_client_posts_with_api_key_and_reads_back(serve_platform: StartPlatform, tmp_path: Any) -> None:
    platform = await serve_platform(
        {
            "identity": ServiceSpec(IDENTITY),
            "catalog": ServiceSpec(CATALOG, seed=_seed),
            "incidents": ServiceSpec(INCIDENTS, env={"PHOTO_STORAGE_URL": f"file://{tmp_path / 'photos'}"}),
        },
        JWKS_MIN_REFRESH_S=0,
    )
    async with grpc.aio.insecure_channel(platform.services["identity"].address) as channel:
        key = (
            await identity_pb2_grpc.IdentityServiceStub(channel).CreateApiKey(
                identity_pb2.CreateApiKeyRequest(department="roads", label="e2e open311 client"),
                metadata=internal_metadata(TEST_INTERNAL_TOKEN),
            )
        ).key
    root = platform.gateway_url + "/open311/v2"
    form = {
        "api_key": key,
        "jurisdiction_id": "lakeview.example",
        "service_code": "RD-POTHOLE",
        "lat": "47.6101",
        "long": "-122.3402",
        "address_string": "400 Pine St",
        "description": "Pothole filed by an Open311 client",
        "attribute[size]": "medium",
        "email": "someone@example.org",
    }

    def post(data: dict[str, str]) -> requests.Response:
        return requests.post(f"{root}/requests.json", data=data, timeout=15)

    refused = await asyncio.to_thread(post, {k: v for k, v in form.items() if k != "api_key"})
    assert refused.status_code == 400 and refused.json()[0]["code"] == 400
    writer = Open311Client(
        Endpoint(id="lakeview", name="Lakeview", base_url=root, write=True), jurisdiction_id="lakeview.example"
    )
    filed = await asyncio.to_thread(
        lambda: writer.create_request(
            "RD-POTHOLE",
            dry_run=False,
            confirm="SEND",
            api_key=key,
            validate_remote=True,
            lat=47.6101,
            lng=-122.3402,
            address_string="400 Pine St",
            description="Pothole filed by an Open311 client",
            attributes={"size": "medium"},
            email="someone@example.org",
        )
    )
    [receipt] = filed.response
    request_id = receipt["service_request_id"]
    assert isinstance(request_id, str) and request_id

    client = GeoReport(root, jurisdiction="lakeview.example")
    one = await asyncio.to_thread(client.get_service_request, request_id)
    assert one["service_request_id"] == request_id
    assert (one["status"], one["service_code"], one["agency_responsible"]) == ("open", "RD-POTHOLE", "roads")
    assert one["address"] == "400 Pine St" and abs(float(one["lat"]) - 47.6101) < 1e-9
    assert "someone@example.org" not in str(one)
    listed = await asyncio.to_thread(client.get_service_requests, service_code="RD-POTHOLE", status="open")
    assert [r["service_request_id"] for r in listed] == [request_id]

    xml_client = GeoReport(root, jurisdiction="lakeview.example", output_format="xml")
    as_xml = await asyncio.to_thread(xml_client.get_service_request, request_id)
    assert as_xml["service_request_id"] == request_id and as_xml["status"] == "open"
