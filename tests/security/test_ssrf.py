"""SSRF (issue 17): URLs residents hand the platform never make it reach into its own network.

A Web Push endpoint comes from a resident's browser and the notifications service POSTs to it. An
endpoint on a loopback, private, link-local, multicast, reserved or unspecified address (IPv4,
IPv6, IPv4-mapped IPv6, or a name resolving to one) is refused at registration with a 422 problem;
sending checks again (the name may resolve elsewhere by then: DNS rebinding) and every connection
is checked as it is made, so a redirect to such an address is not followed. Only
OUTBOUND_ALLOWED_NETWORKS opens a network (here 127.0.0.1/32 for the stand-in push services).
The catalog's health checks of department addresses go through the same guard
(services/catalog/tests/test_department_address_guard.py).
"""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from cityhub_notifications.channels import DELIVERED, OutgoingMessage, PushTarget
from cityhub_notifications.vapid import generate_private_key
from cityhub_notifications.webpush_channel import WebPushChannel
from cityhub_sdk.outbound import OutboundPolicy
from cityhub_sdk.testing import free_port
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .conftest import Platform, StartPlatform, resident

PRIVATE_ENDPOINTS = [
    "http://127.0.0.1:9/push",
    "https://127.8.9.10/push",
    "https://localhost/push",
    "https://10.1.2.3/push",
    "https://172.16.0.1/push",
    "https://192.168.1.1/push",
    "https://100.64.0.1/push",  # carrier-grade NAT
    "https://169.254.169.254/latest/meta-data",  # cloud metadata
    "https://0.0.0.0/push",
    "https://224.0.0.1/push",
    "https://240.0.0.1/push",
    "https://[::1]/push",
    "https://[::]/push",
    "https://[fd00::1]/push",
    "https://[fe80::1]/push",
    "https://[ff02::1]/push",
    "https://[::ffff:127.0.0.1]/push",
    "https://[::ffff:a9fe:a9fe]/push",  # 169.254.169.254, mapped
    "https://[64:ff9b::a00:1]/push",  # 10.0.0.1 through NAT64
]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def browser_keys() -> tuple[str, str]:
    """A real subscription's p256dh and auth (keys that cannot encrypt would end the device anyway)."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return b64url(point), b64url(os.urandom(16))


def local_name() -> str:
    """This machine's host name, when it resolves to a non-public address (it usually does)."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)}
    except OSError:
        pytest.skip(f"{name} does not resolve")
    if all(OutboundPolicy().allows(str(a)) for a in addresses):
        pytest.skip(f"{name} resolves to public addresses only")
    return name


@pytest.fixture
async def platform(start_platform: StartPlatform) -> Platform:
    return await start_platform()


async def test_registering_a_push_endpoint_on_a_private_address_is_refused(platform: Platform) -> None:
    api = platform.client()
    me = await resident(api)
    p256dh, auth = browser_keys()
    for endpoint in [*PRIVATE_ENDPOINTS, f"https://{local_name()}/push"]:
        response = await api.post(
            "/v1/me/devices", json={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}, headers=me
        )
        assert response.status_code == 422, (endpoint, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "public push service" in response.json()["detail"], response.text
    assert (await api.get("/v1/me/devices", headers=me)).json()["items"] == []

    # A public push service is accepted (the name need not resolve from here: sending checks it).
    public = {"endpoint": "https://push.example.net/send/abc", "keys": {"p256dh": p256dh, "auth": auth}}
    assert (await api.post("/v1/me/devices", json=public, headers=me)).status_code == 201


class PushServer:
    """A stand-in push service on a loopback address: counts pushes, answers 201 or a redirect."""

    def __init__(self, host: str, redirect_to: str | None = None) -> None:
        self.host, self.port = host, free_port()
        self.redirect_to = redirect_to
        self.received = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/push/1"

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.received += 1
        if self.redirect_to:
            return web.Response(status=307, headers={"Location": self.redirect_to})
        return web.Response(status=201)


@pytest.fixture
async def servers() -> AsyncIterator[list[web.AppRunner]]:
    runners: list[web.AppRunner] = []
    yield runners
    for runner in runners:
        await runner.cleanup()


async def serve(runners: list[web.AppRunner], server: PushServer) -> PushServer:
    app = web.Application()
    app.router.add_post("/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, server.host, server.port).start()
    runners.append(runner)
    return server


async def push(channel: WebPushChannel, endpoint: str) -> tuple[str, list[str]]:
    p256dh, auth = browser_keys()
    message = OutgoingMessage(
        delivery_id=1,
        notification_id="n-1",
        account_id="a-1",
        urgency=0,
        lang="en",
        title="Pothole fixed",
        body="Filled.",
        data={},
        devices=[PushTarget(device_id="d-1", endpoint=endpoint, p256dh=p256dh, auth=auth)],
    )
    try:
        result = await channel.send(message)
    finally:
        await channel.close()
    return result.status, result.dead_devices


def channel(allowed: str = "") -> WebPushChannel:
    return WebPushChannel(generate_private_key(), "mailto:ops@lakeview.example", 5.0, OutboundPolicy(allowed))


async def test_sending_checks_the_endpoint_again_where_it_resolves_now(servers: list[web.AppRunner]) -> None:
    """A name that resolved publicly at registration and privately now (DNS rebinding) is not sent to."""
    server = await serve(servers, PushServer("127.0.0.1"))
    by_name = server.url.replace("127.0.0.1", local_name())
    resolved = {info[4][0] for info in socket.getaddrinfo(local_name(), server.port, type=socket.SOCK_STREAM)}
    if "127.0.0.1" not in resolved:
        pytest.skip("the host name does not resolve to 127.0.0.1 here")

    assert await push(channel(), by_name) == ("failed_permanent", ["d-1"])
    assert await push(channel(), server.url) == ("failed_permanent", ["d-1"])
    assert server.received == 0
    # The same push reaches it once its network is allowed: the refusals above were the guard's.
    assert (await push(channel("127.0.0.1/32"), by_name))[0] == DELIVERED
    assert server.received == 1


async def test_a_redirect_to_a_private_address_is_not_followed(servers: list[web.AppRunner]) -> None:
    inner = await serve(servers, PushServer("127.0.0.2"))
    outer = await serve(servers, PushServer("127.0.0.1", redirect_to=inner.url))

    status, _ = await push(channel("127.0.0.1/32"), outer.url)
    assert outer.received == 1 and inner.received == 0, status
    assert status != DELIVERED
    # Allowed as well, the redirect is followed: the guard, not the client, stopped it above.
    assert (await push(channel("127.0.0.1/32,127.0.0.2/32"), outer.url))[0] == DELIVERED
    assert inner.received == 1
