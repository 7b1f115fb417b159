"""Open311 GeoReport v2 read side over HTTP, checked field by field against the spec."""

# ruff: noqa: RUF001 -- multilingual test strings are intentional.

from __future__ import annotations

from xml.etree import ElementTree as ET

import httpx

from .test_catalog_api import city_yaml

SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
ATTRIBUTE_FIELDS = {"variable", "code", "datatype", "required", "datatype_description", "order", "description"}
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}


async def test_discovery(api: httpx.AsyncClient) -> None:
    body = (await api.get("/open311/v2/discovery.json")).json()
    assert body["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert body["endpoints"][0]["url"].endswith("/open311/v2")
    assert set(body["endpoints"][0]["formats"]) == {"text/xml", "application/json"}
    xml = await api.get("/open311/v2/discovery.xml")
    assert xml.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(xml.content)
    assert root.tag == "discovery" and root.find("endpoints/endpoint/formats/format") is not None


async def test_discovery_contact_and_jurisdiction_are_the_citys(api: httpx.AsyncClient) -> None:
    record = city_yaml()
    contact = (await api.get("/open311/v2/discovery.json")).json()["contact"]
    assert record["contact"]["phone"] in contact and record["contact"]["email"] in contact
    assert record["name"]["en"] in contact
    xml = ET.fromstring((await api.get("/open311/v2/discovery.xml")).content)
    assert xml.findtext("contact") == contact
    ours = await api.get("/open311/v2/services.json", params={"jurisdiction_id": record["jurisdiction_id"]})
    assert ours.status_code == 200 and ours.json()
    other = await api.get("/open311/v2/services.json", params={"jurisdiction_id": "elsewhere.example"})
    assert other.status_code == 404 and record["jurisdiction_id"] in other.json()[0]["description"]


async def test_services_json(api: httpx.AsyncClient) -> None:
    response = await api.get("/open311/v2/services.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    services = response.json()
    assert isinstance(services, list) and len(services) >= 10
    for item in services:
        assert set(item) == SERVICE_FIELDS
        assert isinstance(item["service_code"], str) and item["service_code"]
        assert isinstance(item["metadata"], bool)
        assert item["type"] in {"realtime", "batch", "blackbox"}
        assert isinstance(item["keywords"], str) and item["group"]
    pothole = next(s for s in services if s["service_code"] == "RD-POTHOLE")
    assert pothole["metadata"] is True and "pothole" in pothole["keywords"].split(", ")
    assert pothole["group"] == "Streets & sidewalks" and pothole["service_name"] == "Pothole"
    ja = (await api.get("/open311/v2/services.json", params={"lang": "ja"})).json()
    assert next(s for s in ja if s["service_code"] == "RD-POTHOLE")["service_name"] == "道路の穴（ポットホール）"


async def test_services_xml(api: httpx.AsyncClient) -> None:
    response = await api.get("/open311/v2/services.xml", params={"jurisdiction_id": "lakeview.example"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "services"
    services = root.findall("service")
    assert len(services) == len((await api.get("/open311/v2/services.json")).json())
    first = services[0]
    assert {child.tag for child in first} == SERVICE_FIELDS
    assert first.findtext("metadata") in {"true", "false"}


async def test_service_definition_json(api: httpx.AsyncClient) -> None:
    response = await api.get("/open311/v2/services/RD-POTHOLE.json")
    assert response.status_code == 200
    definition = response.json()
    assert definition["service_code"] == "RD-POTHOLE"
    attributes = definition["attributes"]
    assert [a["code"] for a in attributes] == ["size", "position", "details"]
    for attr in attributes:
        assert set(attr) >= ATTRIBUTE_FIELDS
        assert attr["datatype"] in DATATYPES and isinstance(attr["required"], bool) and isinstance(attr["order"], int)
        if attr["datatype"].endswith("valuelist"):
            assert attr["values"] and all(set(v) == {"key", "name"} for v in attr["values"])
        else:
            assert "values" not in attr
    assert attributes[0]["values"][0] == {"key": "small", "name": "Smaller than a dinner plate"}
    assert attributes[2]["datatype"] == "text" and attributes[2]["datatype_description"]


async def test_service_definition_xml(api: httpx.AsyncClient) -> None:
    response = await api.get("/open311/v2/services/RD-POTHOLE.xml", params={"lang": "vi"})
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.tag == "service_definition" and root.findtext("service_code") == "RD-POTHOLE"
    attrs = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attrs] == ["size", "position", "details"]
    assert attrs[0].findtext("required") == "true" and attrs[0].findtext("variable") == "true"
    assert [v.findtext("key") for v in attrs[0].findall("values/value")] == ["small", "medium", "large"]
    assert attrs[0].findtext("description") == "Ổ gà lớn cỡ nào?"


async def test_errors_are_the_spec_error_list(api: httpx.AsyncClient) -> None:
    cases = (
        ("services/XX-NOPE", {}),
        ("services", {"jurisdiction_id": "elsewhere.example"}),
        ("services/RD-POTHOLE", {"jurisdiction_id": "elsewhere.example"}),
    )
    for path, params in cases:
        as_json = await api.get(f"/open311/v2/{path}.json", params=params)
        assert as_json.status_code == 404, path
        errors = as_json.json()
        assert isinstance(errors, list) and errors[0]["code"] == 404 and errors[0]["description"]
        as_xml = await api.get(f"/open311/v2/{path}.xml", params=params)
        assert as_xml.status_code == 404 and as_xml.headers["content-type"].startswith("text/xml")
        root = ET.fromstring(as_xml.content)
        assert root.tag == "errors"
        assert root.findtext("error/code") == "404" and root.findtext("error/description")


async def test_definition_needs_an_extension(api: httpx.AsyncClient) -> None:
    response = await api.get("/open311/v2/services/RD-POTHOLE")
    assert response.status_code == 404 and response.json()[0]["code"] == 404


async def test_open311_reads_are_cacheable(api: httpx.AsyncClient) -> None:
    first = await api.get("/open311/v2/services.xml")
    again = await api.get("/open311/v2/services.xml", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and first.headers["cache-control"] == "public, max-age=300"
