"""The foundation slice end to end: gateway -> gRPC -> catalog -> database, and its error shape."""

from __future__ import annotations

import httpx


async def test_health_reports_every_service_serving(api: httpx.AsyncClient) -> None:
    response = await api.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["services"]["catalog"] == "SERVING"
    assert all(status == "SERVING" for status in body["services"].values())


async def test_departments_come_from_the_catalog_in_the_asked_language(api: httpx.AsyncClient) -> None:
    english = (await api.get("/v1/departments")).json()
    assert len(english["items"]) >= 8
    vietnamese = (await api.get("/v1/departments", headers={"Accept-Language": "vi-VN,vi;q=0.9"})).json()
    assert vietnamese["lang"] == "vi"
    assert [d["slug"] for d in vietnamese["items"]] == [d["slug"] for d in english["items"]]
    assert vietnamese["items"][0]["name"] != english["items"][0]["name"]


async def test_unknown_route_is_problem_json(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


async def test_openapi_schema_is_served(api: httpx.AsyncClient) -> None:
    response = await api.get("/schema/openapi.json")
    assert response.status_code == 200
    assert "/v1/departments" in response.json()["paths"]


async def test_oversized_body_is_refused_with_problem_json(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/departments", content=b"x" * (7 * 1024 * 1024))
    assert response.status_code in (405, 413)
    assert response.headers["content-type"].startswith("application/problem+json")
