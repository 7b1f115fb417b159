"""Through the gateway, resident B gets 404 for each of resident A's notification objects by id
(notification read, subscription, device), and A's objects are untouched afterwards."""

from __future__ import annotations

import httpx
import pytest
from cityhub_gateway.config import GatewaySettings
from cityhub_sdk.app import RunningService
from cityhub_sdk.testing import eventually

from .conftest import INTERNAL_TOKEN, SignIn

HOME = (47.6062, -122.3321)


@pytest.fixture
def gateway_settings(  # overrides conftest: this module also needs notifications and NATS
    catalog_service: RunningService,  # type: ignore[type-arg]
    identity_service: RunningService,  # type: ignore[type-arg]
    incidents_service: RunningService,  # type: ignore[type-arg]
    notifications_service: RunningService,  # type: ignore[type-arg]
    clean_nats: str,
) -> GatewaySettings:
    return GatewaySettings(  # type: ignore[call-arg]
        CATALOG_ADDR=catalog_service.address,
        IDENTITY_ADDR=identity_service.address,
        INCIDENTS_ADDR=incidents_service.address,
        NOTIFICATIONS_ADDR=notifications_service.address,
        NATS_URL=clean_nats,
        INTERNAL_API_TOKEN=INTERNAL_TOKEN,
        JWKS_MIN_REFRESH_S=0,
        AUTH_REVOCATION_TTL_S=0,
        AUTH_RATE_LIMIT_PER_MINUTE=10_000,
        LOG_JSON=False,
    )


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
    form["attribute[size]"] = "large"
    assert (await api.post("/v1/incidents", data=form, headers=bob)).status_code == 201

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
