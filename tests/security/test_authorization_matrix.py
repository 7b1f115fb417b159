"""The authorization matrix, generated from the gateway's routes and its POLICY table (issue 17).

* every route that a resident may not call (staff, operator or department only) is called with a
  resident's token: 403;
* every route that names an object by id and that residents may call is called with another
  resident's token on an object of the first: 404 (nobody learns that the object exists);
* staff of one department on another department's case: 403.

A route is placed in the matrix by construction: one that names an object must be listed in
OWNED_OBJECTS (how to make one) or NOT_OWNED (why nobody owns it); a new route that is in neither
fails `test_every_object_route_is_in_the_matrix`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from cityhub.identity.v1 import identity_pb2
from cityhub_gateway.policy import POLICY, PUBLIC
from cityhub_sdk.testing import eventually

from .conftest import CENTRE, Platform, StartPlatform, person, report_form, resident

PARAM = re.compile(r"\{[^}]+\}")
RESIDENT = "resident"
# Routes naming an object that belongs to one resident: the object each needs (made by `make_objects`).
OWNED_OBJECTS = {
    "PATCH /v1/me/places/{place_id}": "place",
    "DELETE /v1/me/places/{place_id}": "place",
    "DELETE /v1/me/subscriptions/{subscription_id}": "subscription",
    "DELETE /v1/me/devices/{device_id}": "device",
    "POST /v1/me/notifications/{notification_id}/read": "notification",
    "DELETE /v1/me/check-ins/{check_in_id}": "check_in",
}
# Routes naming something nobody owns, and why another resident may use them.
NOT_OWNED = {
    "POST /v1/incidents/{report_id}/follow": "reports are public; any signed-in person may follow one",
    "DELETE /v1/incidents/{report_id}/follow": "unfollowing acts on the caller's own follow only",
    "DELETE /v1/me/consents/{department}/{purpose}/{field}": "names a department and purpose, not an object; "
    "it acts on the caller's own consents",
    "POST /v1/service-centers/{center_id}/check-ins": "service centres are public places; a check-in is new",
}
BODIES = {"PATCH /v1/me/places/{place_id}": {"label": "mine now"}}


def residents_may_call(roles: frozenset[str]) -> bool:
    return PUBLIC in roles or RESIDENT in roles


def test_every_object_route_is_in_the_matrix() -> None:
    object_routes = {key for key, roles in POLICY.items() if PARAM.search(key) and RESIDENT in roles}
    unplaced = object_routes - set(OWNED_OBJECTS) - set(NOT_OWNED)
    assert not unplaced, f"add these routes to OWNED_OBJECTS or NOT_OWNED: {sorted(unplaced)}"
    assert set(OWNED_OBJECTS) | set(NOT_OWNED) <= set(POLICY), "the matrix lists routes that no longer exist"


async def make_objects(
    platform: Platform, api: httpx.AsyncClient, owner: dict[str, str], other: dict[str, str]
) -> dict[str, str]:
    place = await api.post(
        "/v1/me/places", json={"label": "home", "latitude": CENTRE[0], "longitude": CENTRE[1]}, headers=owner
    )
    assert place.status_code == 201, place.text
    subscription = await api.post(
        "/v1/me/subscriptions", json={"place_id": place.json()["id"], "radius_m": 500}, headers=owner
    )
    assert subscription.status_code == 201, subscription.text
    device = await api.post(
        "/v1/me/devices",
        json={"endpoint": "https://push.example.net/send/owner", "keys": {"p256dh": "B" * 87, "auth": "A" * 22}},
        headers=owner,
    )
    assert device.status_code == 201, device.text
    filed = await api.post("/v1/incidents", files=report_form(CENTRE[0] + 0.001, CENTRE[1]), headers=other)
    assert filed.status_code == 201, filed.text

    async def notified() -> bool:
        return bool((await api.get("/v1/me/notifications", headers=owner)).json()["items"])

    # a check-in needs a queue that is serving: the taxes department's kiosk opens a counter
    kiosk = {"X-API-Key": await platform.api_key("taxes")}
    opened = {"id": "o1", "queue": "payments", "kind": "counter_opened", "occurred_at": datetime.now(UTC).isoformat()}
    opened |= {"ticket": "", "counter": "1"}
    events = await api.post(
        "/v1/staff/service-centers/city-hall/queue-events", json={"events": [opened]}, headers=kiosk
    )
    assert events.status_code == 200, events.text
    check_in = await api.post("/v1/service-centers/city-hall/check-ins", json={"queue": "payments"}, headers=owner)
    assert check_in.status_code == 201, check_in.text
    await eventually(notified, 15)
    notification = (await api.get("/v1/me/notifications", headers=owner)).json()["items"][0]
    return {
        "place": place.json()["id"],
        "subscription": subscription.json()["id"],
        "device": device.json()["id"],
        "notification": notification["id"],
        "check_in": check_in.json()["id"],
    }


def concrete(key: str, object_id: str = "0123456789abcdef") -> tuple[str, str]:
    method, path = key.split(" ", 1)
    return method, PARAM.sub(object_id, path)


async def call(api: httpx.AsyncClient, key: str, headers: dict[str, str], object_id: str = "0123456789abcdef") -> Any:
    method, path = concrete(key, object_id)
    body = BODIES.get(key)
    return await api.request(method, path, headers=headers, json=body if body is not None else None)


async def test_the_matrix(start_platform: StartPlatform) -> None:
    platform: Platform = await start_platform()
    api = platform.client()
    owner, other = await resident(api), await resident(api)

    # 1. staff, operator and department routes with a resident's token: 403
    staff_only = sorted(key for key, roles in POLICY.items() if not residents_may_call(roles))
    assert staff_only, "the policy has no staff routes: the matrix would prove nothing"
    for key in staff_only:
        response = await call(api, key, other)
        assert response.status_code == 403, (key, response.status_code, response.text)

    # 2. another resident's objects by id: 404, and the objects are untouched
    objects = await make_objects(platform, api, owner, other)

    async def owner_state() -> list[Any]:
        paths = ("/v1/me/places", "/v1/me/subscriptions", "/v1/me/devices", "/v1/me/notifications", "/v1/me/check-ins")
        stable = ("id", "label", "latitude", "status", "read", "read_at", "active")
        answers = [(await api.get(path, headers=owner)).json()["items"] for path in paths]
        return [[{k: item.get(k) for k in stable} for item in items] for items in answers]

    before = await owner_state()
    for key, kind in OWNED_OBJECTS.items():
        response = await call(api, key, other, objects[kind])
        assert response.status_code == 404, (key, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await owner_state() == before  # nothing of the owner's changed


async def test_staff_of_one_department_cannot_work_anothers_cases(start_platform: StartPlatform) -> None:
    platform = await start_platform()
    api = platform.client()
    filed = await api.post("/v1/incidents", files=report_form(), headers=await resident(api))
    report_id = filed.json()["id"]
    waste = await person(platform, api, identity_pb2.ROLE_STAFF, "waste")
    attempts: list[Callable[[], Awaitable[httpx.Response]]] = [
        lambda: api.get(f"/v1/staff/incidents/{report_id}", headers=waste),
        lambda: api.post(f"/v1/staff/incidents/{report_id}/status", json={"status": "acknowledged"}, headers=waste),
        lambda: api.post(f"/v1/staff/incidents/{report_id}/notes", json={"text": "mine"}, headers=waste),
        lambda: api.get("/v1/staff/incidents", params={"department": "roads"}, headers=waste),
    ]
    for attempt in attempts:
        response = await attempt()
        assert response.status_code == 403, (response.request.url, response.text)
    roads = await person(platform, api, identity_pb2.ROLE_STAFF, "roads")
    assert (await api.get(f"/v1/staff/incidents/{report_id}", headers=roads)).status_code == 200


async def test_mass_assignment_is_refused(start_platform: StartPlatform) -> None:
    """Fields a client must not set (role, department, id, status) are refused, never applied."""
    platform = await start_platform()
    api = platform.client()
    me = await resident(api)
    for patch in ({"role": "operator"}, {"department": "roads"}, {"id": "someone-else"}, {"email": "x@example.org"}):
        response = await api.patch("/v1/me", json=patch, headers=me)
        assert response.status_code in (400, 422) or (
            response.status_code == 200 and all(response.json().get(k) != v for k, v in patch.items())
        ), (patch, response.text)
    assert (await api.get("/v1/me", headers=me)).json().get("role", "resident") == "resident"
    forged = await api.post("/v1/incidents", files={**report_form(), "status": (None, "closed")}, headers=me)
    assert forged.status_code in (400, 422), forged.text
