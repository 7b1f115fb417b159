"""Regression tests for the 500s on cheap input (issue 17): every one is a 4xx problem, never a 5xx.

Deep nesting and invalid UTF-8 are refused by the gateway's body guard; integers beyond int32 and
absurdly long numbers by the typed parameters and bodies, before any gRPC message is built (a
protobuf int32 field would raise ValueError on them).
"""

from __future__ import annotations

import httpx
import pytest

from .conftest import CENTRE, Platform, StartPlatform, report_form, resident

HUGE_INTS = ["2147483648", "-2147483649", "99999999999999999999", "1" * 400]
LONG_LATITUDE = "47." + "6" * 400


@pytest.fixture
async def platform(start_platform: StartPlatform) -> Platform:
    return await start_platform()


def assert_refused(response: object, *statuses: int) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert 400 <= status < 500, (status, response.text[:300])  # type: ignore[attr-defined]
    if statuses:
        assert status in statuses, (status, response.text[:300])  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith(("application/problem+json", "application/json"))  # type: ignore[attr-defined]


async def test_deep_nesting_and_invalid_utf8_are_400_on_json_and_multipart(platform: Platform) -> None:
    api = platform.client()
    me = await resident(api)
    deep = b"[" * 5000 + b"]" * 5000
    for path in ("/v1/auth/register", "/v1/auth/token", "/v1/me/places", "/v1/me/subscriptions"):
        assert_refused(await api.post(path, content=deep, headers={**me, "content-type": "application/json"}), 400)
        bad = b'{"email": "\xff\xfe@example.org", "label": "\xc3"}'
        assert_refused(await api.post(path, content=bad, headers={**me, "content-type": "application/json"}), 400)
    boundary = "x1y2z3"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\n'.encode()
        + b"\xff\xfe broken"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    refused = await api.post(
        "/v1/incidents", content=body, headers={**me, "content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert_refused(refused, 400)


async def test_integers_beyond_int32_are_refused(platform: Platform) -> None:
    api = platform.client()
    me = await resident(api)
    place = await api.post("/v1/me/places", json={"label": "home", "latitude": 47.6, "longitude": -122.3}, headers=me)
    assert place.status_code == 201, place.text
    for value in HUGE_INTS:
        await _refused_everywhere(api, me, place.json()["id"], value)


async def _refused_everywhere(api: httpx.AsyncClient, me: dict[str, str], place_id: str, value: str) -> None:
    for path, params in (
        ("/v1/incidents", {"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": value}),
        ("/v1/service-centers", {"lat": CENTRE[0], "lon": CENTRE[1], "radius_m": value}),
        ("/v1/services", {"page_size": value}),
        ("/v1/incidents", {"lat": CENTRE[0], "lon": CENTRE[1], "page_size": value}),
        ("/v1/me/notifications", {"page_size": value}),
        ("/v1/staff/incidents", {"page_size": value}),
    ):
        assert_refused(await api.get(path, params=params, headers=me), 401, 403, 422)
    preferences = await api.get("/v1/me/notification-preferences", headers=me)
    assert preferences.status_code == 200, preferences.text
    body = preferences.text.replace('"max_per_hour":10', f'"max_per_hour":{value}')
    assert value in body
    put = await api.put(
        "/v1/me/notification-preferences", content=body, headers={**me, "content-type": "application/json"}
    )
    assert_refused(put, 400, 422)
    subscription = await api.post(
        "/v1/me/subscriptions",
        content=f'{{"kind": "area", "place_id": "{place_id}", "radius_m": {value}}}',
        headers={**me, "content-type": "application/json"},
    )
    assert_refused(subscription, 400, 422)


async def test_a_400_digit_latitude_is_refused_everywhere(platform: Platform) -> None:
    api = platform.client()
    me = await resident(api)
    for path in ("/v1/incidents", "/v1/alerts", "/v1/service-centers"):
        # 400 digits of a valid latitude are that latitude; 400 digits of a number are out of range
        assert (await api.get(path, params={"lat": LONG_LATITUDE, "lon": CENTRE[1]})).status_code == 200
        assert_refused(await api.get(path, params={"lat": "9" * 400, "lon": CENTRE[1]}), 422)
    place = await api.post(
        "/v1/me/places",
        content=f'{{"label": "home", "latitude": {LONG_LATITUDE}, "longitude": -122.3}}',
        headers={**me, "content-type": "application/json"},
    )
    assert place.status_code in (201, 400, 422), place.text  # 400 digits of a valid latitude round to it
    assert_refused(
        await api.post(
            "/v1/me/places",
            content=f'{{"label": "home", "latitude": 1{"0" * 400}, "longitude": -122.3}}',
            headers={**me, "content-type": "application/json"},
        ),
        400,
        422,
    )
    report = await api.post("/v1/incidents", files=report_form(lat=LONG_LATITUDE), headers=me)  # type: ignore[arg-type]
    assert report.status_code in (201, 200, 409, 422), report.text
    assert_refused(await api.post("/v1/incidents", files=report_form(lat="9" * 400), headers=me), 422)  # type: ignore[arg-type]
    open311 = await api.post(
        "/open311/v2/requests.json",
        data={"service_code": "RD-POTHOLE", "lat": "9" * 400, "long": "-122.3", "api_key": "x", "description": "d"},
    )
    assert 400 <= open311.status_code < 500, open311.text
