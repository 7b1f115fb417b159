"""Identity paused (it hangs like a SIGSTOPped process): signed-in routes served by other services
keep working from the last known revocation state, for a bounded time (issue 17: "identity is a
single point of failure"). Past the bound they fail closed with 503 + Retry-After."""

from __future__ import annotations

import asyncio

from cityhub_sdk.testing import eventually

from .conftest import StartPlatform, resident


async def test_my_notifications_and_subscriptions_keep_working_while_identity_is_paused(
    start_platform: StartPlatform,
) -> None:
    platform = await start_platform(identity_pausable=True)
    api = platform.client()
    me = await resident(api)
    assert (await api.get("/v1/me/notifications", headers=me)).status_code == 200  # caches warm
    assert platform.identity_proxy is not None
    platform.identity_proxy.pause()
    try:
        for _ in range(3):
            for path in ("/v1/me/notifications", "/v1/me/subscriptions"):
                response = await api.get(path, headers=me)
                assert response.status_code == 200, (path, response.status_code, response.text)
        # identity's own routes fail, and fail as 503/504 problems (nothing hangs forever)
        places = await asyncio.wait_for(api.get("/v1/me/places", headers=me), timeout=30)
        assert places.status_code in (503, 504), places.text
    finally:
        platform.identity_proxy.resume()


async def test_the_stale_revocation_state_is_used_for_a_bounded_time_only(start_platform: StartPlatform) -> None:
    platform = await start_platform(identity_pausable=True, AUTH_REVOCATION_MAX_STALE_S=3)
    api = platform.client()
    me = await resident(api)
    assert (await api.get("/v1/me/subscriptions", headers=me)).status_code == 200
    assert platform.identity_proxy is not None
    platform.identity_proxy.pause()
    try:
        assert (await api.get("/v1/me/subscriptions", headers=me)).status_code == 200

        async def refused() -> bool:
            response = await api.get("/v1/me/subscriptions", headers=me)
            return response.status_code == 503 and response.headers.get("retry-after") is not None

        await eventually(refused, timeout_s=30)
    finally:
        platform.identity_proxy.resume()

    async def recovered() -> bool:
        return (await api.get("/v1/me/subscriptions", headers=me)).status_code == 200

    await eventually(recovered, timeout_s=30)
