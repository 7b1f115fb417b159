"""The channel interface and the registry that builds the configured channels.

A channel hands one message to one provider and says how that went. The dispatcher owns the
state machine and the fallback chain; channels know only their protocol. A provider such as FCM,
APNs or SMS joins by implementing `Channel` and adding a factory to CHANNEL_FACTORIES; which
channels run is configuration (CHANNELS).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cityhub_notifications.config import NotificationsSettings

DELIVERED = "delivered"
FAILED_TEMPORARY = "failed_temporary"
FAILED_PERMANENT = "failed_permanent"


@dataclass(frozen=True)
class PushTarget:
    device_id: str
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class OutgoingMessage:
    """Everything a channel may need; the email is fetched from identity just before sending."""

    delivery_id: int
    notification_id: str
    account_id: str
    urgency: int
    lang: str
    title: str
    body: str
    data: Mapping[str, str]
    email: str | None = None
    devices: Sequence[PushTarget] = ()


@dataclass
class DeliveryResult:
    status: str  # DELIVERED | FAILED_TEMPORARY | FAILED_PERMANENT
    error: str | None = None
    dead_devices: list[str] = field(default_factory=list)
    delivered_devices: list[str] = field(default_factory=list)


class Channel(Protocol):
    name: str
    needs_contact: bool

    async def send(self, message: OutgoingMessage) -> DeliveryResult: ...

    async def close(self) -> None: ...


ChannelFactory = Callable[[NotificationsSettings, str | None], Channel | None]


def build_channels(
    settings: NotificationsSettings, factories: Mapping[str, ChannelFactory], vapid_private_key: str | None
) -> dict[str, Channel]:
    """The configured channels that could be built (email without SMTP_HOST is left out)."""
    channels: dict[str, Channel] = {}
    for name in settings.channels:
        factory = factories.get(name)
        if factory is None:
            raise ValueError(f"unknown channel {name!r} in CHANNELS")
        channel = factory(settings, vapid_private_key)
        if channel is not None:
            channels[name] = channel
    return channels
