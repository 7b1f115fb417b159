"""Catalog over HTTP: listing in five languages, search, lookups, proximity, caching, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cityhub_catalog
import httpx
import yaml

PROBLEM = "application/problem+json"


def city_yaml() -> dict[str, Any]:
    """The demo city's facts as the catalog ships them (what the gateway must serve, not constants)."""
    path = Path(cityhub_catalog.__file__).parent / "data" / "city.yaml"
    record: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return record


async def _all(api: httpx.AsyncClient, path: str, **params: str) -> list[dict]:
    items: list[dict] = []
    query = {**params, "page_size": "20"}
    while True:
        body = (await api.get(path, params=query)).json()
        items.extend(body["items"])
        if not body.get("next_page_token"):
            return items
        query["page_token"] = body["next_page_token"]


async def test_services_listed_from_8_departments_and_translated(api: httpx.AsyncClient) -> None:
    english = await _all(api, "/v1/services")
    assert len(english) >= 30
    assert len({s["department"] for s in english}) >= 8
    for lang in ("vi", "zh-Hant", "ja", "fa"):
        response = await api.get("/v1/services", params={"lang": lang, "page_size": "100"})
        body = response.json()
        assert body["lang"] == lang and body["rtl"] == (lang == "fa")
        assert len(body["items"]) == len(english)
        for en, tr in zip(english, body["items"], strict=True):
            assert tr["slug"] == en["slug"] and tr["name"] and tr["name"] != en["name"], (lang, tr["slug"])


async def test_accept_language_and_search(api: httpx.AsyncClient) -> None:
    body = (await api.get("/v1/services", params={"q": "ổ gà"}, headers={"Accept-Language": "vi"})).json()
    assert body["lang"] == "vi" and body["items"][0]["slug"] == "pothole"
    assert body["items"][0]["name"] == "Ổ gà trên đường"
    body = (await api.get("/v1/services", params={"q": "grafiti", "lang": "en"})).json()
    assert body["items"][0]["slug"] == "graffiti"
    body = (await api.get("/v1/services", params={"category": "waste"})).json()
    assert body["items"] and {s["category"] for s in body["items"]} == {"waste"}


async def test_service_detail(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/services/pothole", params={"lang": "fa"})
    assert response.status_code == 200, response.text
    service = response.json()
    assert service["service_code"] == "RD-POTHOLE" and service["rtl"] is True and service["lang"] == "fa"
    assert service["form"][0]["code"] == "size" and service["form"][0]["values"]
    for field in ("summary", "steps", "eligibility", "channels", "keywords", "category_name", "version"):
        assert service[field], field


async def test_unknown_slug_is_404_problem(api: httpx.AsyncClient) -> None:
    for path in ("/v1/services/no-such-service", "/v1/service-centers/nowhere"):
        response = await api.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["status"] == 404


async def test_nearby_centers(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/service-centers", params={"lat": "47.6062", "lon": "-122.3321", "radius_m": "3000"})
    assert response.status_code == 200
    items = response.json()["items"]
    assert items and items[0]["distance_m"] <= items[-1]["distance_m"] <= 3000
    assert all(c["queues"] and c["hours"] for c in items)
    everything = await _all(api, "/v1/service-centers")
    assert len(everything) >= 10 and all(c["distance_m"] is None for c in everything)
    one = (await api.get(f"/v1/service-centers/{items[0]['id']}", params={"lang": "ja"})).json()
    assert one["id"] == items[0]["id"] and one["lang"] == "ja"


BAD_PROXIMITY = (
    {"lat": "91", "lon": "0"},
    {"lat": "-91", "lon": "0"},
    {"lat": "0", "lon": "181"},
    {"lat": "abc", "lon": "0"},
    {"lat": "nan", "lon": "0"},
    {"lat": "47.6", "lon": "inf"},
    {"lat": "47.6", "lon": "-122.3", "radius_m": "0"},
    {"lat": "47.6", "lon": "-122.3", "radius_m": "-1"},
    {"lat": "47.6", "lon": "-122.3", "radius_m": "50001"},
    {"lat": "47.6", "lon": "-122.3", "radius_m": "nan"},
    {"lat": "47.6", "lon": "-122.3", "radius_m": "lots"},
    {"lat": "47.6"},
    {"radius_m": "100"},
)


async def test_bad_proximity_is_422_problem(api: httpx.AsyncClient) -> None:
    for params in BAD_PROXIMITY:
        response = await api.get("/v1/service-centers", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["status"] == 422


async def test_bad_paging_is_422_problem(api: httpx.AsyncClient) -> None:
    for params in ({"page_size": "0"}, {"page_size": "101"}, {"page_size": "x"}, {"page_token": "!!"}):
        response = await api.get("/v1/services", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_etag_and_cache_headers(api: httpx.AsyncClient) -> None:
    for path in ("/v1/departments", "/v1/services", "/v1/services/pothole", "/v1/service-centers", "/v1/city"):
        first = await api.get(path)
        assert first.status_code == 200, path
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "public, max-age=300"
        assert "Accept-Language" in first.headers["vary"]
        again = await api.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        other = await api.get(path, params={"lang": "ja"}, headers={"If-None-Match": etag})
        assert other.status_code == 200 and other.headers["etag"] != etag


async def test_city_serves_the_catalogs_contact_and_jurisdiction(api: httpx.AsyncClient) -> None:
    record = city_yaml()
    response = await api.get("/v1/city", params={"lang": "vi"})
    assert response.status_code == 200, response.text
    city = response.json()
    assert city["name"] == record["name"]["vi"] and city["timezone"] == record["timezone"]
    assert (city["contact_phone"], city["contact_email"], city["website"]) == (
        record["contact"]["phone"],
        record["contact"]["email"],
        record["contact"]["website"],
    )
    assert (city["emergency_phone"], city["jurisdiction_id"]) == (record["emergency_phone"], record["jurisdiction_id"])
    assert city["center"] == {"lat": record["centre"]["lat"], "lon": record["centre"]["lon"]}
