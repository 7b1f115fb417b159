"""Acceptance 5: an independent Open311 client posts a request with an API key and reads it back,
against the gateway served over real HTTP.

The read side is the PyPI `georeport` library (its own requests + json / xmltodict parsing).
georeport 0.3.1 has no POST method (and `three` 0.8.0, the other PyPI client, is Python 2 only),
so the POST is made with plain `requests` exactly as GeoReport v2 describes it: form-encoded,
`api_key`, `service_code`, `lat`/`long`, `attribute[code]`.
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
from georeport import GeoReport  # type: ignore[import-untyped]

from .conftest import INTERNAL_TOKEN, ServiceSpec, StartPlatform

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
                metadata=internal_metadata(INTERNAL_TOKEN),
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
    created = await asyncio.to_thread(post, form)
    assert created.status_code == 201, created.text
    [receipt] = created.json()
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
