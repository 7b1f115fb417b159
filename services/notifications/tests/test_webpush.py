"""Web Push against a real HTTP push service on loopback (aiohttp), playing the browser vendor's part:
it checks the VAPID header (ES256 JWT signed by the key in `k`, `aud` = its origin, `exp` ahead),
aes128gcm encoding and TTL, and decrypts the payload with the subscription's private key, as a browser would.
A 410 Gone ends the device and the delivery falls back to email (a real SMTP server)."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import http_ece  # type: ignore[import-untyped]
import jwt
import pytest
from aiohttp import web
from cityhub.incidents.v1 import events_pb2 as incidents
from cityhub.notifications.v1 import notifications_pb2 as pb
from cityhub_sdk import subjects
from cityhub_sdk.app import RunningService
from cityhub_sdk.testing import eventually, free_port
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .conftest import Publish, Resident, ResidentFactory
from .test_inbox import count


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """A browser's push subscription keys: a P-256 key pair and a 16-byte auth secret."""

    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm")
        data: dict[str, Any] = json.loads(plain)
        return data


@dataclass
class Push:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    claims: dict[str, Any]


class PushService:
    """Records each push; answers 201, or 410 for paths starting with /gone/. Invalid VAPID gets 401."""

    def __init__(self) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.received: list[Push] = []
        self.rejected: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            claims = self.verify(request, body)
        except (AssertionError, jwt.PyJWTError, ValueError, KeyError) as exc:
            self.rejected.append(repr(exc))
            return web.Response(status=401)
        self.received.append(Push(request.path, {k.lower(): v for k, v in request.headers.items()}, body, claims))
        return web.Response(status=410 if request.path.startswith("/gone/") else 201)

    def verify(self, request: web.Request, body: bytes) -> dict[str, Any]:
        scheme, _, params = request.headers["Authorization"].partition(" ")
        assert scheme == "vapid", scheme
        parts = dict(part.strip().split("=", 1) for part in params.split(","))
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
        claims: dict[str, Any] = jwt.decode(parts["t"], public_key, algorithms=["ES256"], audience=self.origin)
        assert claims["exp"] > time.time() and str(claims["sub"]).startswith("mailto:")
        assert request.headers["Content-Encoding"] == "aes128gcm"
        assert int(request.headers["TTL"]) > 0
        assert body
        return claims


@pytest.fixture
def notifications_env(notifications_env: dict[str, Any]) -> dict[str, Any]:
    """The stand-in push service listens on loopback, which the SSRF guard refuses unless allowed."""
    return {**notifications_env, "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32"}


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    service = PushService()
    app = web.Application()
    app.router.add_post("/{tail:.*}", service.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", service.port).start()
    try:
        yield service
    finally:
        await runner.cleanup()


async def register(resident: Resident, endpoint: str, browser: Browser) -> pb.Device:
    response = await resident.notifications.RegisterDevice(
        pb.RegisterDeviceRequest(
            platform="webpush", endpoint=endpoint, p256dh=browser.p256dh, auth=b64url(browser.auth)
        ),
        metadata=resident.metadata,
    )
    return response.device


async def follow_and_fix(publish: Publish, resident: Resident, report_id: str) -> None:
    """The resident follows a report (as its reporter would) and then it is fixed: a real event each."""
    await publish(
        subjects.INCIDENTS_REPORT_FOLLOWED,
        incidents.ReportFollowed(report_id=report_id, account_id=resident.account_id),
    )

    async def following() -> bool:
        listed = await resident.notifications.ListSubscriptions(
            pb.ListSubscriptionsRequest(), metadata=resident.metadata
        )
        return any(s.report_id == report_id for s in listed.subscriptions)

    await eventually(following, 10)
    change = incidents.ReportStatusChanged(
        report_id=report_id, category="pothole", old_status="open", new_status="fixed", public_note="Filled."
    )
    await publish(subjects.INCIDENTS_REPORT_STATUS_CHANGED, change)


async def test_push_reaches_the_push_service_signed_encrypted_and_in_japanese(
    residents: ResidentFactory,
    publish: Publish,
    push_service: PushService,
    smtp_server: Any,
    notifications_service: RunningService,  # type: ignore[type-arg]
) -> None:
    _, sink = smtp_server
    aya = await residents("aya@example.org", language="ja")
    browser = Browser()
    device = await register(aya, f"{push_service.origin}/push/aya-1", browser)

    await follow_and_fix(publish, aya, "r-push")
    await eventually(lambda: len(push_service.received) == 1, 15)
    assert push_service.rejected == []
    push = push_service.received[0]
    assert push.path == "/push/aya-1"
    assert push.claims["aud"] == push_service.origin
    assert push.headers["urgency"] == "normal" and int(push.headers["ttl"]) == 86400
    payload = browser.decrypt(push.body)
    assert payload["lang"] == "ja" and "修理済み" in payload["title"]
    assert payload["data"]["report_id"] == "r-push"
    inbox = await aya.notifications.ListNotifications(pb.ListNotificationsRequest(), metadata=aya.metadata)
    assert payload["notification_id"] == inbox.notifications[0].notification_id

    async def delivered() -> bool:
        sql = "SELECT count(*) FROM deliveries WHERE status = 'delivered' AND channel = 'push'"
        return await count(notifications_service, sql) == 1

    await eventually(delivered, 10)
    assert sink.messages == []  # delivered by push: no fallback email
    devices = await aya.notifications.ListDevices(pb.ListDevicesRequest(), metadata=aya.metadata)
    assert devices.devices[0].device_id == device.device_id
    assert devices.devices[0].active and devices.devices[0].HasField("last_success_at")


async def test_gone_device_is_marked_dead_and_delivery_falls_back_to_email(
    residents: ResidentFactory,
    publish: Publish,
    push_service: PushService,
    smtp_server: Any,
    notifications_service: RunningService,  # type: ignore[type-arg]
) -> None:
    _, sink = smtp_server
    ben = await residents("ben@example.org")
    await register(ben, f"{push_service.origin}/gone/ben-1", Browser())

    await follow_and_fix(publish, ben, "r-gone")
    await eventually(lambda: len(sink.messages) == 1, 15)
    assert len(push_service.received) == 1 and push_service.rejected == []
    assert sink.messages[0]["To"] == "ben@example.org"
    devices = await ben.notifications.ListDevices(pb.ListDevicesRequest(), metadata=ben.metadata)
    assert [d.active for d in devices.devices] == [False]
    attempts = "SELECT count(*) FROM delivery_attempts WHERE channel = :c AND status = :s"
    assert await count(notifications_service, attempts, c="push", s="failed_permanent") == 1
    assert await count(notifications_service, attempts, c="email", s="delivered") == 1

    # The dead device is not tried again: the next notification goes straight to email.
    await publish(
        subjects.INCIDENTS_REPORT_STATUS_CHANGED,
        incidents.ReportStatusChanged(report_id="r-gone", category="pothole", old_status="fixed", new_status="closed"),
    )
    await eventually(lambda: len(sink.messages) == 2, 15)
    assert len(push_service.received) == 1


async def test_device_with_unusable_keys_is_dead_and_mail_still_goes(
    residents: ResidentFactory, publish: Publish, push_service: PushService, smtp_server: Any
) -> None:
    """Keys that pass the format check but are no P-256 point cannot encrypt: the device ends,
    the delivery falls back to email, and the dispatcher does not stall on it."""
    _, sink = smtp_server
    cy = await residents("cy@example.org")
    await cy.notifications.RegisterDevice(
        pb.RegisterDeviceRequest(endpoint=f"{push_service.origin}/push/cy", p256dh="B" * 87, auth="A" * 22),
        metadata=cy.metadata,
    )
    await follow_and_fix(publish, cy, "r-bad-keys")
    await eventually(lambda: len(sink.messages) == 1, 15)
    assert push_service.received == []
    devices = await cy.notifications.ListDevices(pb.ListDevicesRequest(), metadata=cy.metadata)
    assert [d.active for d in devices.devices] == [False]
