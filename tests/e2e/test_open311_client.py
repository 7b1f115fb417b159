"""An independent Open311 client (the PyPI `georeport` library, not written here) against the
gateway served over real HTTP, in both of its formats: it lists the services and reads a
service definition, parsing our answers with its own code (requests + json / xmltodict)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.seed import seed_catalog
from cityhub_identity.app import DEFINITION as IDENTITY
from georeport import GeoReport  # type: ignore[import-untyped]

from .conftest import ServiceSpec, StartPlatform

pytestmark = pytest.mark.e2e


async def _seed(service: Any) -> None:
    await seed_catalog(service.db)


@pytest.fixture
async def open311_root(serve_platform: StartPlatform) -> str:
    platform = await serve_platform(
        {"identity": ServiceSpec(IDENTITY), "catalog": ServiceSpec(CATALOG, seed=_seed)},
        JWKS_MIN_REFRESH_S=0,
    )
    return platform.gateway_url + "/open311/v2"


async def test_georeport_lists_services_and_reads_a_definition(open311_root: str) -> None:
    client = GeoReport(open311_root, jurisdiction="lakeview.example")
    services = await asyncio.to_thread(client.get_service_list)
    assert len(services) >= 10
    codes = {s["service_code"]: s for s in services}
    pothole = codes["RD-POTHOLE"]
    assert pothole["service_name"] == "Pothole" and pothole["metadata"] is True and pothole["type"] == "realtime"
    assert pothole["group"] and "pothole" in pothole["keywords"]

    definition = await asyncio.to_thread(client.get_service_definition, "RD-POTHOLE")
    assert definition["service_code"] == "RD-POTHOLE"
    size = definition["attributes"][0]
    assert size["code"] == "size" and size["datatype"] == "singlevaluelist" and size["required"] is True
    assert [v["key"] for v in size["values"]] == ["small", "medium", "large"]


async def test_georeport_in_xml(open311_root: str) -> None:
    client = GeoReport(open311_root, output_format="xml")
    services = await asyncio.to_thread(client.get_service_list)
    pothole = next(s for s in services if s["service_code"] == "RD-POTHOLE")
    assert pothole["metadata"] == "true" and pothole["service_name"] == "Pothole"
    definition = await asyncio.to_thread(client.get_service_definition, "RD-POTHOLE")
    attributes = definition["attributes"]["attribute"]
    assert attributes[0]["code"] == "size"
    assert [v["key"] for v in attributes[0]["values"]["value"]] == ["small", "medium", "large"]


async def test_georeport_sees_spec_errors(open311_root: str) -> None:
    client = GeoReport(open311_root)
    with pytest.raises(requests.HTTPError) as info:
        await asyncio.to_thread(client.get_service_definition, "XX-NOPE")
    response = info.value.response
    assert response is not None and response.status_code == 404 and response.json()[0]["code"] == 404
    other_city = GeoReport(open311_root, jurisdiction="elsewhere.example")
    with pytest.raises(requests.HTTPError):
        await asyncio.to_thread(other_city.get_service_list)
