"""Abuse (issue 17): report floods hit a quota (429 + Retry-After), live streams are bounded per
resident, lookalike emails are one account, control characters are refused in text fields."""

from __future__ import annotations

import contextlib
import uuid

import httpx
import pytest

from .conftest import PASSWORD, StartPlatform, report_form, resident, tokens


def moved(i: int) -> tuple[float, float]:
    return 47.6062 + i * 0.01 / 111.0, -122.3321  # 10 m apart: forced, so no duplicate offers anyway


async def test_one_resident_flooding_reports_hits_the_quota(start_platform: StartPlatform) -> None:
    platform = await start_platform(incidents={"REPORT_QUOTA_PER_REPORTER": 5})
    api = platform.client()
    me = await resident(api)
    statuses = []
    for i in range(7):
        response = await api.post("/v1/incidents", files=report_form(*moved(i)), headers=me)
        statuses.append(response.status_code)
    assert statuses == [201] * 5 + [429] * 2, statuses
    assert 1 < int(response.headers["retry-after"]) <= 3600
    assert response.headers["content-type"].startswith("application/problem+json")
    # another resident is not affected
    assert (
        await api.post("/v1/incidents", files=report_form(*moved(50)), headers=await resident(api))
    ).status_code == 201


async def test_anonymous_floods_are_limited_per_address_and_per_device(start_platform: StartPlatform) -> None:
    platform = await start_platform(incidents={"REPORT_QUOTA_PER_ADDRESS": 4, "REPORT_QUOTA_PER_REPORTER": 2})
    flood = platform.client("198.51.100.66")
    statuses = [
        (await flood.post("/v1/incidents", files=report_form(*moved(i), device_id=f"d{i}"))).status_code
        for i in range(6)
    ]
    assert statuses == [201] * 4 + [429] * 2, statuses
    # one device from many addresses: its own quota
    device = [
        (
            await platform.client(f"203.0.113.{i + 1}").post(
                "/v1/incidents", files=report_form(*moved(100 + i), device_id="phone-7")
            )
        ).status_code
        for i in range(3)
    ]
    assert device == [201, 201, 429]
    assert (
        await platform.client("203.0.113.200").post("/v1/incidents", files=report_form(*moved(200)))
    ).status_code == 201


@pytest.mark.slow
async def test_live_streams_are_bounded_per_resident(start_platform: StartPlatform) -> None:
    platform = await start_platform(MAX_STREAMS_PER_RESIDENT=3)
    base = await platform.serve()
    async with httpx.AsyncClient(base_url=base, timeout=10) as http, contextlib.AsyncExitStack() as streams:
        me = await resident(http)
        for _ in range(3):
            stream = await streams.enter_async_context(http.stream("GET", "/v1/stream", headers=me))
            assert stream.status_code == 200
        refused = await http.get("/v1/stream", headers=me)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        other = await resident(http)
        async with http.stream("GET", "/v1/stream", headers=other) as theirs:
            assert theirs.status_code == 200
    # closing the streams frees the slots
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:

        async def stream_opens() -> bool:
            async with http.stream("GET", "/v1/stream", headers=me) as again:
                return again.status_code == 200

        from cityhub_sdk.testing import eventually

        await eventually(stream_opens, timeout_s=15)


async def test_lookalike_emails_are_one_account(start_platform: StartPlatform) -> None:
    platform = await start_platform()
    api = platform.client()
    name = f"ann{uuid.uuid4().hex[:6]}"
    plain = f"{name}@example.org"
    assert (await api.post("/v1/auth/register", json={"email": plain, "password": PASSWORD})).status_code == 202
    first = await tokens(api, plain)
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in name) + "@example.org"
    zero_width = f"{name[:2]}\u200b{name[2:]}\u200d@example.org"
    for lookalike in (fullwidth, zero_width, plain.upper()):
        registered = await api.post("/v1/auth/register", json={"email": lookalike, "password": "another password 1"})
        assert registered.status_code == 202
        # the lookalike signs into the same account with the first password, and never with its own
        same = await tokens(api, lookalike)
        me = await api.get("/v1/me", headers={"Authorization": f"Bearer {same['access_token']}"})
        first_me = await api.get("/v1/me", headers={"Authorization": f"Bearer {first['access_token']}"})
        assert me.json()["account_id"] == first_me.json()["account_id"], lookalike
        refused = await api.post("/v1/auth/token", json={"email": lookalike, "password": "another password 1"})
        assert refused.status_code == 401


async def test_control_characters_are_refused_in_text_fields(start_platform: StartPlatform) -> None:
    platform = await start_platform()
    api = platform.client()
    me = await resident(api)
    for bad in ("Ann\x00", "Ann\x1b[31m", "Ann\u202eevil"):
        assert (await api.patch("/v1/me", json={"display_name": bad}, headers=me)).status_code == 422, bad
        place = {"label": bad, "latitude": 47.61, "longitude": -122.33}
        assert (await api.post("/v1/me/places", json=place, headers=me)).status_code == 422, bad
        report = await api.post("/v1/incidents", files=report_form(description=f"hole {bad}"), headers=me)
        assert report.status_code == 422, (bad, report.text)
    # multi-line text keeps its line breaks and tabs
    fine = await api.post("/v1/incidents", files=report_form(description="Deep hole\n\tnear the bus stop"), headers=me)
    assert fine.status_code == 201, fine.text
    assert (await api.patch("/v1/me", json={"display_name": "Ann Lee"}, headers=me)).status_code == 200
