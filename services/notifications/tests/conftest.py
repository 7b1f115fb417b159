"""Notifications under test: the real service and identity in-process on free ports, a real NATS,
a fresh database each, a real SMTP server (aiosmtpd) and residents made through identity's API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import grpc
import jwt
import pytest
from aiosmtpd.controller import Controller
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub.notifications.v1 import notifications_pb2_grpc
from cityhub_identity.app import DEFINITION as IDENTITY
from cityhub_notifications.app import DEFINITION as NOTIFICATIONS
from cityhub_sdk.app import RunningService
from cityhub_sdk.bus import EventBus
from cityhub_sdk.events import new_event
from cityhub_sdk.testing import (
    FAST_AUTH_ENV,
    IDENTITY_TEST_ENV,
    Metadata,
    bearer,
    free_port,
    sign_in,
    start_service,
)
from cityhub_sdk.testing.plugin import DatabaseFactory
from google.protobuf.message import Message


class MailSink:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Any:
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, sink
    finally:
        controller.stop()


@pytest.fixture
async def identity_service(database_factory: DatabaseFactory, clean_nats: str) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    async with start_service(IDENTITY, database_factory, clean_nats, **IDENTITY_TEST_ENV, **FAST_AUTH_ENV) as service:
        yield service


ServiceFactory = Callable[..., Any]


@pytest.fixture
def notifications_env(identity_service: RunningService, smtp_server: Any) -> dict[str, Any]:  # type: ignore[type-arg]
    controller, _ = smtp_server
    return {
        "IDENTITY_ADDR": identity_service.address,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": controller.port,
        "DISPATCH_INTERVAL_S": 0.1,
        "RETRY_BACKOFF_S": [0.2, 0.5],
        **FAST_AUTH_ENV,
    }


@pytest.fixture
async def notifications_service(
    database_url: str, clean_nats: str, notifications_env: dict[str, Any]
) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    async with start_service(NOTIFICATIONS, database_url, clean_nats, **notifications_env) as service:
        yield service


@pytest.fixture
async def bus(clean_nats: str) -> AsyncIterator[EventBus]:
    event_bus = EventBus(clean_nats, service_name="test-publisher")
    await event_bus.connect()
    try:
        yield event_bus
    finally:
        await event_bus.close()


Publish = Callable[..., Awaitable[str]]


@pytest.fixture
def publish(bus: EventBus) -> Publish:
    """`await publish(subject, message, event_id=...)`: a real event on the real bus; returns its id."""

    async def _publish(subject: str, message: Message, *, event_id: str | None = None) -> str:
        source = subject.split(".")[1]
        event = new_event(subject, message, source=source, event_id=event_id)
        await bus.publish(event)
        return event.id

    return _publish


@dataclass
class Resident:
    account_id: str
    token: str
    identity: identity_pb2_grpc.IdentityServiceStub
    notifications: notifications_pb2_grpc.NotificationsServiceStub
    places: dict[str, str] = field(default_factory=dict)

    @property
    def metadata(self) -> Metadata:
        return bearer(self.token)

    async def save_place(self, label: str, lat: float, lon: float) -> str:
        response = await self.identity.CreatePlace(
            identity_pb2.CreatePlaceRequest(label=label, latitude=lat, longitude=lon), metadata=self.metadata
        )
        self.places[label] = response.place.id
        return str(response.place.id)


ResidentFactory = Callable[..., Awaitable[Resident]]


@pytest.fixture
async def residents(
    identity_service: RunningService,  # type: ignore[type-arg]
    notifications_service: RunningService,  # type: ignore[type-arg]
) -> AsyncIterator[ResidentFactory]:
    """`ann = await residents("ann@example.org", language="vi")`: registered and signed in through identity."""
    identity_channel = grpc.aio.insecure_channel(identity_service.address)
    notifications_channel = grpc.aio.insecure_channel(notifications_service.address)
    identity = identity_pb2_grpc.IdentityServiceStub(identity_channel)
    notifications = notifications_pb2_grpc.NotificationsServiceStub(notifications_channel)

    async def _make(email: str, language: str = "en") -> Resident:
        token = await sign_in(
            identity, email, register=True, display_name=email.split("@")[0], preferred_language=language
        )
        claims = jwt.decode(token, options={"verify_signature": False})
        return Resident(str(claims["sub"]), token, identity, notifications)

    try:
        yield _make
    finally:
        await identity_channel.close()
        await notifications_channel.close()


async def settle(seconds: float = 0.5) -> None:
    """Give the consumer a moment when asserting that something did NOT happen."""
    await asyncio.sleep(seconds)
