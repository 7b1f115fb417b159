"""Notifications through the gateway, on a real HTTP server (uvicorn) so that Server-Sent Events
stream: the acceptance-1 flow in-process (A subscribes 500 m around home, B reports a pothole
200 m away, A's stream and inbox get it within 2 s, C 3 km away gets nothing) and the REST routes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cityhub_gateway.config import GatewaySettings
from cityhub_sdk.testing import TEST_PASSWORD, eventually

HOME = (47.6062, -122.3321)


def multipart(form: dict[str, str]) -> dict[str, tuple[None, str]]:
    """A report is multipart/form-data; plain fields are parts without a file name."""
    return {name: (None, value) for name, value in form.items()}


def north(metres: float) -> tuple[float, float]:
    return HOME[0] + metres / 111_195.0, HOME[1]


@pytest.fixture
def gateway_settings(full_gateway_settings: GatewaySettings) -> GatewaySettings:
    """This module crosses notifications: every service and NATS."""
    return full_gateway_settings


async def resident(http: httpx.AsyncClient, email: str, **profile: str) -> dict[str, str]:
    registered = await http.post("/v1/auth/register", json={"email": email, "password": TEST_PASSWORD, **profile})
    assert registered.status_code == 202, registered.text
    token = (await http.post("/v1/auth/token", json={"email": email, "password": TEST_PASSWORD})).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def subscribe_around(http: httpx.AsyncClient, headers: dict[str, str], at: tuple[float, float]) -> dict[str, Any]:
    place = await http.post(
        "/v1/me/places", json={"label": "home", "latitude": at[0], "longitude": at[1]}, headers=headers
    )
    assert place.status_code == 201, place.text
    response = await http.post(
        "/v1/me/subscriptions", json={"place_id": place.json()["id"], "radius_m": 500}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def next_event(lines: AsyncIterator[str], name: str) -> dict[str, Any]:
    event = ""
    async for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == name:
            data: dict[str, Any] = json.loads(line.split(":", 1)[1].strip())
            return data
    raise AssertionError("stream ended")


async def test_nearby_report_reaches_stream_and_inbox_within_2s_and_not_far_residents(http: httpx.AsyncClient) -> None:
    ann = await resident(http, "ann@example.org")
    bob = await resident(http, "bob@example.org")
    cho = await resident(http, "cho@example.org")
    subscription = await subscribe_around(http, ann, HOME)
    assert subscription["kind"] == "area" and subscription["radius_m"] == 500 and subscription["cell_count"] > 0
    await subscribe_around(http, cho, north(3000))

    assert (await http.get("/v1/stream")).status_code == 401
    async with http.stream("GET", "/v1/stream", headers=ann, timeout=30) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        await next_event(lines, "ready")
        reported_at = time.monotonic()
        form = {
            "category": "pothole",
            "description": "Deep hole",
            "lat": str(north(200)[0]),
            "lon": str(HOME[1]),
            "attributes": '{"size": "large"}',
        }
        created = await http.post("/v1/incidents", files=multipart(form), headers=bob)
        assert created.status_code == 201, created.text
        pushed = await asyncio.wait_for(next_event(lines, "notification"), timeout=5)
        elapsed = time.monotonic() - reported_at
    assert pushed["event_type"] == "report.created.nearby" and pushed["data"]["report_id"] == created.json()["id"]
    assert elapsed < 2.0, f"stream took {elapsed:.2f} s"
    inbox = (await http.get("/v1/me/notifications", headers=ann)).json()
    assert inbox["unread_count"] == 1 and inbox["items"][0]["id"] == pushed["id"]
    await asyncio.sleep(0.5)
    assert (await http.get("/v1/me/notifications", headers=cho)).json()["items"] == []


async def test_inbox_subscriptions_devices_and_preferences_routes(http: httpx.AsyncClient) -> None:
    ann = await resident(http, "ann@example.org", preferred_language="zh-Hant")
    bob = await resident(http, "bob@example.org")
    await subscribe_around(http, ann, HOME)
    topic = await http.post(
        "/v1/me/subscriptions", json={"topic_type": "alert_kind", "topic_value": "water"}, headers=ann
    )
    assert topic.status_code == 201 and topic.json()["kind"] == "topic"
    again = await http.post(
        "/v1/me/subscriptions", json={"topic_type": "alert_kind", "topic_value": "water"}, headers=ann
    )
    assert again.status_code == 200 and again.json()["id"] == topic.json()["id"]
    refused = [
        {"radius_m": 500},  # no kind and nothing to read one from: the service refuses it
        {"kind": "weather", "topic_type": "alert_kind", "topic_value": "water"},
        {"kind": "area", "place_id": "p", "radius_m": 10**12},  # beyond int32: refused before the service
        {"kind": "topic", "topic_type": "alert_kind", "topic_value": "water", "colour": "red"},
    ]
    for body in refused:
        answer = await http.post("/v1/me/subscriptions", json=body, headers=ann)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    listed = (await http.get("/v1/me/subscriptions", headers=ann)).json()["items"]
    assert len(listed) == 2
    assert (await http.delete(f"/v1/me/subscriptions/{topic.json()['id']}", headers=bob)).status_code == 404
    assert (await http.delete(f"/v1/me/subscriptions/{topic.json()['id']}", headers=ann)).status_code == 204

    form = {
        "category": "pothole",
        "description": "Deep hole",
        "lat": str(north(100)[0]),
        "lon": str(HOME[1]),
        "attributes": '{"size": "large"}',
    }
    assert (await http.post("/v1/incidents", files=multipart(form), headers=bob)).status_code == 201

    async def arrived() -> bool:
        return len((await http.get("/v1/me/notifications", headers=ann)).json()["items"]) >= 1

    await eventually(arrived, 10)
    note = (await http.get("/v1/me/notifications", headers=ann)).json()["items"][0]
    assert note["lang"] == "zh-Hant" and note["title"].startswith("附近的新報告")
    assert (await http.post(f"/v1/me/notifications/{note['id']}/read", headers=bob)).status_code == 404
    marked = await http.post(f"/v1/me/notifications/{note['id']}/read", headers=ann)
    assert marked.status_code == 200 and marked.json()["unread_count"] == 0
    assert marked.json()["notification"]["read"] and marked.json()["notification"]["read_at"].endswith("Z")
    read_all = await http.post("/v1/me/notifications/read-all", headers=ann)
    assert read_all.status_code == 200 and read_all.json() == {"marked": 0}
    assert (await http.get("/v1/me/notifications", params={"page_size": 101}, headers=ann)).status_code == 422

    preferences = (await http.get("/v1/me/notification-preferences", headers=ann)).json()
    assert preferences["channels"] == ["push", "email"] and preferences["language"] == "zh-Hant"
    bad = await http.put("/v1/me/notification-preferences", json={"channels": ["pigeon"]}, headers=ann)
    assert bad.status_code == 422
    put = await http.put(
        "/v1/me/notification-preferences",
        json={"channels": ["push"], "quiet_hours_start": "22:00", "quiet_hours_end": "07:00", "max_per_hour": 3},
        headers=ann,
    )
    assert put.status_code == 200 and put.json()["quiet_hours_start"] == "22:00"

    key = (await http.get("/v1/push/config")).json()["vapid_public_key"]
    assert len(key) > 80
    device = await http.post(
        "/v1/me/devices",
        json={"endpoint": "https://push.example.net/send/abc", "keys": {"p256dh": "B" * 87, "auth": "A" * 22}},
        headers=ann,
    )
    assert device.status_code == 201, device.text
    assert "endpoint" not in device.json()
    assert len((await http.get("/v1/me/devices", headers=ann)).json()["items"]) == 1
    assert (await http.delete(f"/v1/me/devices/{device.json()['id']}", headers=bob)).status_code == 404
    assert (await http.delete(f"/v1/me/devices/{device.json()['id']}", headers=ann)).status_code == 204
    assert (await http.get("/v1/me/notifications")).status_code == 401
