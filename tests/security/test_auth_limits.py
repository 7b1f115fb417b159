"""Limits on /v1/auth/* (issue 17, "the NAT refresh case"): refresh is limited per refresh token and
never per address; sign-in and registration per address AND per account; Retry-After is the real
time until the window resets; X-Forwarded-For counts only from TRUSTED_PROXIES."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from .conftest import PASSWORD, StartPlatform, tokens

CARRIER_NAT = "100.64.0.1"


async def register(client: httpx.AsyncClient, email: str) -> int:
    response = await client.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    return response.status_code


async def test_a_hundred_residents_behind_one_nat_address_all_refresh_and_still_sign_in(
    start_platform: StartPlatform,
) -> None:
    platform = await start_platform()  # defaults: 30 per address or account, 10 per refresh token, per minute
    emails = [f"nat-{i}-{uuid.uuid4().hex[:6]}@example.org" for i in range(100)]
    refresh_tokens = []
    for i, email in enumerate(emails):  # each signed in from home first
        home = platform.client(f"192.0.2.{i + 1}")
        assert await register(home, email) == 202
        refresh_tokens.append(str((await tokens(home, email))["refresh_token"]))
    nat = platform.client(CARRIER_NAT)
    answers = [await nat.post("/v1/auth/refresh", json={"refresh_token": token}) for token in refresh_tokens]
    assert [a.status_code for a in answers] == [200] * 100, {a.status_code for a in answers}
    assert all(a.headers["cache-control"] == "no-store" for a in answers)
    # ... and sign-in from that same address still works
    signed_in = await nat.post("/v1/auth/token", json={"email": emails[0], "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.headers["cache-control"] == "no-store"


async def test_one_refresh_token_hammered_is_limited_by_itself(start_platform: StartPlatform) -> None:
    platform = await start_platform(AUTH_REFRESH_RATE_LIMIT_PER_MINUTE=3)
    client = platform.client(CARRIER_NAT)
    email = f"hammer-{uuid.uuid4().hex[:6]}@example.org"
    assert await register(client, email) == 202
    stolen = "not-a-real-refresh-token-" + "x" * 20
    statuses = [(await client.post("/v1/auth/refresh", json={"refresh_token": stolen})).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    # another resident's refresh from the same address is not affected
    token = str((await tokens(client, email))["refresh_token"])
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": token})).status_code == 200


async def test_sign_in_is_limited_per_address_and_per_account(start_platform: StartPlatform) -> None:
    platform = await start_platform(AUTH_RATE_LIMIT_PER_MINUTE=6, AUTH_ACCOUNT_RATE_LIMIT_PER_MINUTE=3)
    victim = f"victim-{uuid.uuid4().hex[:6]}@example.org"
    assert await register(platform.client("192.0.2.50"), victim) == 202
    # per account: three addresses, one wrong password each, then the account's window is full
    for i in range(3):
        wrong = await platform.client(f"203.0.113.{i + 1}").post(
            "/v1/auth/token", json={"email": victim, "password": "wrong password!"}
        )
        assert wrong.status_code == 401
    blocked = await platform.client("203.0.113.99").post("/v1/auth/token", json={"email": victim, "password": PASSWORD})
    assert blocked.status_code == 429, blocked.text
    assert 1 < int(blocked.headers["retry-after"]) <= 60
    # a lookalike spelling of the same account is the same account
    lookalike = await platform.client("203.0.113.98").post(
        "/v1/auth/token", json={"email": victim.upper().replace("@", "\u200b@"), "password": PASSWORD}
    )
    assert lookalike.status_code == 429
    # per address: one address trying many accounts
    sprayer = platform.client("198.51.100.200")
    statuses = [
        (
            await sprayer.post("/v1/auth/token", json={"email": f"spray{i}@example.org", "password": "x" * 12})
        ).status_code
        for i in range(8)
    ]
    assert statuses == [401] * 6 + [429] * 2


async def test_registration_flood_from_one_address_is_limited(start_platform: StartPlatform) -> None:
    platform = await start_platform(AUTH_RATE_LIMIT_PER_MINUTE=5)
    flood = platform.client("198.51.100.77")
    statuses = [await register(flood, f"flood-{i}-{uuid.uuid4().hex[:4]}@example.org") for i in range(7)]
    assert statuses == [202] * 5 + [429] * 2
    assert await register(platform.client("198.51.100.78"), f"other-{uuid.uuid4().hex[:4]}@example.org") == 202


async def test_retry_after_is_the_real_window_reset(start_platform: StartPlatform) -> None:
    platform = await start_platform(AUTH_RATE_LIMIT_PER_MINUTE=2, AUTH_RATE_WINDOW_S=4)
    client = platform.client("198.51.100.5")
    for i in range(2):
        assert await register(client, f"w{i}-{uuid.uuid4().hex[:4]}@example.org") == 202
    refused = await client.post("/v1/auth/register", json={"email": "w3@example.org", "password": PASSWORD})
    assert refused.status_code == 429
    wait = int(refused.headers["retry-after"])
    assert 1 <= wait <= 4
    await asyncio.sleep(wait)  # exactly what the client was told to wait
    assert await register(client, f"w4-{uuid.uuid4().hex[:4]}@example.org") == 202


async def test_forwarded_for_counts_only_from_trusted_proxies(start_platform: StartPlatform) -> None:
    # Default: no proxy trusted, so a client cannot escape its bucket by writing the header.
    platform = await start_platform(AUTH_RATE_LIMIT_PER_MINUTE=2)
    direct = platform.client("198.51.100.9")
    statuses = [
        (
            await direct.post(
                "/v1/auth/register",
                json={"email": f"f{i}-{uuid.uuid4().hex[:4]}@example.org", "password": PASSWORD},
                headers={"X-Forwarded-For": f"192.0.2.{i}"},
            )
        ).status_code
        for i in range(3)
    ]
    assert statuses == [202, 202, 429]


async def test_behind_a_trusted_load_balancer_each_client_has_its_own_bucket(start_platform: StartPlatform) -> None:
    platform = await start_platform(AUTH_RATE_LIMIT_PER_MINUTE=2, TRUSTED_PROXIES="10.0.0.0/8")
    ingress = platform.client("10.1.2.3")

    async def via_ingress(client_ip: str, spoofed: str = "") -> int:
        chain = f"{spoofed}, {client_ip}" if spoofed else client_ip
        response = await ingress.post(
            "/v1/auth/register",
            json={"email": f"lb-{uuid.uuid4().hex[:8]}@example.org", "password": PASSWORD},
            headers={"X-Forwarded-For": chain},
        )
        return response.status_code

    assert [await via_ingress("203.0.113.1") for _ in range(3)] == [202, 202, 429]
    assert await via_ingress("203.0.113.2") == 202  # another client behind the same ingress
    # a client that writes its own X-Forwarded-For stays in its own bucket: the ingress appends the real one
    assert await via_ingress("203.0.113.1", spoofed="198.51.100.1") == 429
