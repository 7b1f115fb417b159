"""Through the gateway, resident B gets 404 for each of resident A's notification objects by id
(notification read, subscription, device), and A's objects are untouched afterwards."""

from __future__ import annotations

import httpx
import pytest
from cityhub_gateway.config import GatewaySettings
from cityhub_sdk.testing import eventually

from .conftest import SignIn

HOME = (47.6062, -122.3321)


def multipart(form: dict[str, str]) -> dict[str, tuple[None, str]]:
    """A report is multipart/form-data; plain fields are parts without a file name."""
    return {name: (None, value) for name, value in form.items()}


@pytest.fixture
def gateway_settings(full_gateway_settings: GatewaySettings) -> GatewaySettings:
    """This module crosses notifications: every service and NATS."""
    return full_gateway_settings


async def test_resident_b_gets_404_for_every_object_of_resident_a(api: httpx.AsyncClient, sign_in: SignIn) -> None:
    ann = await sign_in("ann@example.org")
    bob = await sign_in("bob@example.org")
    place = await api.post(
        "/v1/me/places", json={"label": "home", "latitude": HOME[0], "longitude": HOME[1]}, headers=ann
    )
    assert place.status_code == 201, place.text
    area = await api.post("/v1/me/subscriptions", json={"place_id": place.json()["id"], "radius_m": 500}, headers=ann)
    assert area.status_code == 201, area.text
    device = await api.post(
        "/v1/me/devices",
        json={"endpoint": "https://push.example.net/send/ann", "keys": {"p256dh": "B" * 87, "auth": "A" * 22}},
        headers=ann,
    )
    assert device.status_code == 201, device.text
    form = {"category": "pothole", "description": "Deep hole", "lat": str(HOME[0] + 0.001), "lon": str(HOME[1])}
    form["attributes"] = '{"size": "large"}'
    assert (await api.post("/v1/incidents", files=multipart(form), headers=bob)).status_code == 201

    async def arrived() -> bool:
        return len((await api.get("/v1/me/notifications", headers=ann)).json()["items"]) == 1

    await eventually(arrived, 10)
    note_id = (await api.get("/v1/me/notifications", headers=ann)).json()["items"][0]["id"]

    attempts = [
        api.post(f"/v1/me/notifications/{note_id}/read", headers=bob),
        api.delete(f"/v1/me/subscriptions/{area.json()['id']}", headers=bob),
        api.delete(f"/v1/me/devices/{device.json()['id']}", headers=bob),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 404, (response.request.url, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")

    # Bob sees nothing of Ann's and read-all touches nothing of hers.
    assert (await api.get("/v1/me/notifications", headers=bob)).json()["items"] == []
    assert (await api.post("/v1/me/notifications/read-all", headers=bob)).status_code == 200
    bobs = (await api.get("/v1/me/subscriptions", headers=bob)).json()["items"]
    assert [s["kind"] for s in bobs] == ["report"]  # only his own report's follow
    assert (await api.get("/v1/me/devices", headers=bob)).json()["items"] == []
    mine = (await api.get("/v1/me/notifications", headers=ann)).json()
    assert mine["unread_count"] == 1
    assert len((await api.get("/v1/me/subscriptions", headers=ann)).json()["items"]) == 1
    assert len((await api.get("/v1/me/devices", headers=ann)).json()["items"]) == 1
