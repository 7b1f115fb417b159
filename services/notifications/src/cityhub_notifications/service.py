"""Notifications use cases for the signed-in resident; each owns its transaction."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import sqlalchemy as sa
from cityhub_sdk.db import Database
from cityhub_sdk.errors import InvalidArgument, NotFound, Unavailable
from cityhub_sdk.outbound import BlockedTarget, OutboundPolicy, UnresolvableTarget
from cityhub_sdk.paging import page_window
from cityhub_sdk.tables import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_notifications.cells import covering_cells
from cityhub_notifications.config import NotificationsSettings
from cityhub_notifications.directory import AccountDirectory, IdentityUnavailable, PlaceNotFound
from cityhub_notifications.models import (
    KIND_AREA,
    KIND_REPORT,
    KIND_TOPIC,
    Device,
    Notification,
    Preferences,
    Subscription,
)
from cityhub_notifications.policy import parse_clock, valid_zone
from cityhub_notifications.repository import (
    dao_count_unread,
    dao_create_subscription,
    dao_delete_subscription,
    dao_ensure_preferences,
    dao_get_device,
    dao_get_device_by_endpoint,
    dao_get_notification,
    dao_get_preferences,
    dao_get_subscription,
    dao_get_subscription_by_key,
    dao_insert_area_cells,
    dao_list_devices,
    dao_list_notifications,
    dao_list_subscriptions,
    dao_mark_all_read,
    new_id,
)

MIN_RADIUS_M = 100
INBOX_PAGE_SIZE = 20
TOPIC_TYPES = ("alert_kind", "department", "service")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")
KEY_PART = re.compile(r"^[A-Za-z0-9_-]{8,200}$")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class SubscriptionInput:
    kind: str
    place_id: str = ""
    radius_m: int = 0
    topic_type: str = ""
    topic_value: str = ""
    report_id: str = ""


@dataclass(frozen=True)
class PreferencesInput:
    channels: Sequence[str]
    quiet_start: str
    quiet_end: str
    time_zone: str
    max_per_hour: int


@dataclass(frozen=True)
class InboxPage:
    notifications: Sequence[Notification]
    unread_count: int
    next_page_token: str


@dataclass(frozen=True)
class DeliveryStats:
    notifications: int
    within: int  # handed to a channel within 10 s of the triggering event
    channels: Sequence[tuple[str, str, int]]  # (channel, delivery status, count)


def infer_kind(data: SubscriptionInput) -> str:
    """A request without a kind is read from the fields it carries (place, topic or report)."""
    if data.kind:
        return data.kind
    if data.place_id:
        return KIND_AREA
    if data.topic_type:
        return KIND_TOPIC
    return KIND_REPORT if data.report_id else ""


class NotificationsService:
    def __init__(self, db: Database, settings: NotificationsSettings, directory: AccountDirectory) -> None:
        self.db = db
        self.settings = settings
        self.directory = directory
        self.outbound = OutboundPolicy(settings.outbound_allowed_networks)

    # --- subscriptions ---------------------------------------------------------------------------

    async def create_subscription(self, account_id: str, data: SubscriptionInput) -> tuple[Subscription, bool]:
        kind = infer_kind(data)
        if kind == KIND_AREA:
            return await self._subscribe_area(account_id, data)
        if kind == KIND_TOPIC:
            if data.topic_type not in TOPIC_TYPES:
                raise InvalidArgument(f"topic_type must be one of {', '.join(TOPIC_TYPES)}")
            if not SLUG.match(data.topic_value):
                raise InvalidArgument("topic_value must be a slug (lower-case letters, digits, '_', '-')")
            key = f"topic:{data.topic_type}:{data.topic_value}"
            fields: dict[str, Any] = {"topic_type": data.topic_type, "topic_value": data.topic_value}
        elif kind == KIND_REPORT:
            if not data.report_id or len(data.report_id) > 64:
                raise InvalidArgument("report_id is required")
            key = f"report:{data.report_id}"
            fields = {"report_id": data.report_id}
        else:
            raise InvalidArgument("kind must be area, topic or report")
        language = await self._language(account_id)
        async with self.db.transaction() as session:
            existing = await dao_get_subscription_by_key(session, account_id, key)
            if existing is not None:
                return existing, False
            subscription = Subscription(id=new_id(), account_id=account_id, kind=kind, key=key, **fields)
            await dao_create_subscription(session, subscription)
            await self._ensure_preferences(session, account_id, language)
        return subscription, True

    async def _subscribe_area(self, account_id: str, data: SubscriptionInput) -> tuple[Subscription, bool]:
        if not data.place_id or len(data.place_id) > 64:
            raise InvalidArgument("place_id is required")
        if not MIN_RADIUS_M <= data.radius_m <= self.settings.max_radius_m:
            raise InvalidArgument(f"radius_m must be between {MIN_RADIUS_M} and {self.settings.max_radius_m}")
        try:
            lat, lon = await self.directory.place(account_id, data.place_id)
        except PlaceNotFound as exc:
            raise NotFound("saved place not found") from exc
        except IdentityUnavailable as exc:
            raise Unavailable("identity is unavailable, try again") from exc
        cells = covering_cells(lat, lon, data.radius_m)  # the coordinates go no further than this line
        language = await self._language(account_id)
        key = f"area:{data.place_id}"
        async with self.db.transaction() as session:
            existing = await dao_get_subscription_by_key(session, account_id, key)
            if existing is not None and existing.radius_m == data.radius_m:
                return existing, False
            if existing is not None:
                await dao_delete_subscription(session, existing)
                await session.flush()
            subscription = Subscription(
                id=new_id(),
                account_id=account_id,
                kind=KIND_AREA,
                key=key,
                place_id=data.place_id,
                radius_m=data.radius_m,
                cell_count=len(cells),
            )
            await dao_create_subscription(session, subscription, cells)
            await self._ensure_preferences(session, account_id, language)
        return subscription, True

    async def list_subscriptions(self, account_id: str) -> Sequence[Subscription]:
        async with self.db.session() as session:
            return await dao_list_subscriptions(session, account_id)

    async def delete_subscription(self, account_id: str, subscription_id: str) -> None:
        async with self.db.transaction() as session:
            subscription = await dao_get_subscription(session, account_id, subscription_id)
            if subscription is None:
                raise NotFound("subscription not found")
            await dao_delete_subscription(session, subscription)

    # --- inbox ---------------------------------------------------------------------------------

    async def list_notifications(
        self, account_id: str, page_size: int, page_token: str, unread_only: bool
    ) -> InboxPage:
        window = page_window(page_size, page_token, default=INBOX_PAGE_SIZE)
        async with self.db.session() as session:
            rows = list(
                await dao_list_notifications(
                    session, account_id, offset=window.offset, limit=window.size + 1, unread_only=unread_only
                )
            )
            unread = await dao_count_unread(session, account_id)
        # One row past the page says whether another page follows.
        token = window.next_token(window.offset + len(rows))
        return InboxPage(rows[: window.size], unread, token)

    async def get_notification(self, account_id: str, notification_id: str) -> Notification:
        async with self.db.session() as session:
            notification = await dao_get_notification(session, account_id, notification_id)
        if notification is None:
            raise NotFound("notification not found")
        return notification

    async def mark_read(self, account_id: str, notification_id: str) -> tuple[Notification, int]:
        async with self.db.transaction() as session:
            notification = await dao_get_notification(session, account_id, notification_id)
            if notification is None:
                raise NotFound("notification not found")
            if notification.read_at is None:
                notification.read_at = utcnow()
                session.add(notification)
                await session.flush()
            unread = await dao_count_unread(session, account_id)
        return notification, unread

    async def mark_all_read(self, account_id: str) -> int:
        async with self.db.transaction() as session:
            return await dao_mark_all_read(session, account_id)

    # --- devices -------------------------------------------------------------------------------

    async def register_device(
        self, account_id: str, platform: str, endpoint: str, p256dh: str, auth: str, label: str
    ) -> Device:
        if platform not in ("webpush", ""):
            raise InvalidArgument("platform must be webpush")
        await self._check_endpoint(endpoint)
        if not KEY_PART.match(p256dh) or not KEY_PART.match(auth):
            raise InvalidArgument("p256dh and auth must be base64url keys")
        language = await self._language(account_id)
        async with self.db.transaction() as session:
            device = await dao_get_device_by_endpoint(session, account_id, endpoint)
            if device is None:
                device = Device(
                    id=new_id(), account_id=account_id, platform="webpush", endpoint=endpoint, p256dh=p256dh, auth=auth
                )
            device.p256dh, device.auth, device.label, device.active = p256dh, auth, label[:100], True
            session.add(device)
            await self._ensure_preferences(session, account_id, language)
        return device

    async def _check_endpoint(self, endpoint: str) -> None:
        """An https URL (http only on loopback) of a public push service; sending checks it again."""
        try:
            parsed = urlparse(endpoint)
            secure = parsed.scheme == "https" or (parsed.scheme == "http" and parsed.hostname in LOOPBACK)
            if not secure or not parsed.netloc or len(endpoint) > 2000:
                raise ValueError
            await self.outbound.check_url_resolved(endpoint, schemes=("https", "http"))
        except BlockedTarget as exc:
            raise InvalidArgument("endpoint must be a public push service address, not a private one") from exc
        except UnresolvableTarget:
            pass  # perhaps a passing DNS failure: the send refuses it if it resolves to a private address
        except ValueError as exc:
            raise InvalidArgument("endpoint must be an https URL") from exc

    async def list_devices(self, account_id: str) -> Sequence[Device]:
        async with self.db.session() as session:
            return await dao_list_devices(session, account_id)

    async def delete_device(self, account_id: str, device_id: str) -> None:
        async with self.db.transaction() as session:
            device = await dao_get_device(session, account_id, device_id)
            if device is None:
                raise NotFound("device not found")
            await session.delete(device)

    # --- preferences ---------------------------------------------------------------------------

    async def get_preferences(self, account_id: str) -> Preferences:
        language = await self._language(account_id)
        async with self.db.transaction() as session:
            return await self._ensure_preferences(session, account_id, language)

    async def update_preferences(self, account_id: str, data: PreferencesInput) -> Preferences:
        known = set(self.settings.channels)
        if (
            len(data.channels) > 5
            or any(name not in known for name in data.channels)
            or len(set(data.channels)) != len(data.channels)
        ):
            raise InvalidArgument(f"channels must be distinct names from: {', '.join(sorted(known))}")
        if bool(data.quiet_start) != bool(data.quiet_end):
            raise InvalidArgument("quiet_hours_start and quiet_hours_end go together")
        for value in (data.quiet_start, data.quiet_end):
            if value and parse_clock(value) is None:
                raise InvalidArgument("quiet hours are HH:MM")
        zone = data.time_zone or self.settings.default_time_zone
        if not valid_zone(zone):
            raise InvalidArgument("time_zone must be an IANA time zone")
        if not 0 <= data.max_per_hour <= 1000:
            raise InvalidArgument("max_per_hour must be between 0 and 1000")
        language = await self._language(account_id)
        async with self.db.transaction() as session:
            preferences = await self._ensure_preferences(session, account_id, language)
            preferences.channels = json.dumps(list(data.channels))
            preferences.quiet_start = data.quiet_start
            preferences.quiet_end = data.quiet_end
            preferences.time_zone = zone
            preferences.max_per_hour = data.max_per_hour
            preferences.updated_at = utcnow()
            session.add(preferences)
        return preferences

    async def _language(self, account_id: str) -> str | None:
        """The profile language, when identity answers (notifications keep working when it does not)."""
        try:
            contact = await self.directory.contact(account_id)
        except IdentityUnavailable:
            return None
        return contact.language if contact is not None else None

    async def _ensure_preferences(self, session: AsyncSession, account_id: str, language: str | None) -> Preferences:
        return await dao_ensure_preferences(session, account_id, language, self.settings)

    # --- operators and export ------------------------------------------------------------------

    async def delivery_stats(self) -> DeliveryStats:
        async with self.db.session() as session:
            connection = await session.connection()
            if connection.dialect.name == "sqlite":
                within = "(julianday(created_at) - julianday(event_time)) * 86400.0 <= 10"
            else:
                within = "created_at - event_time <= interval '10 seconds'"
            total, fast = (
                await connection.execute(
                    sa.text(
                        f"SELECT count(*), coalesce(sum(CASE WHEN {within} THEN 1 ELSE 0 END), 0) FROM notifications"
                    )
                )
            ).one()
            channels = (
                await connection.execute(
                    sa.text("SELECT channel, status, count(*) FROM deliveries GROUP BY channel, status")
                )
            ).all()
        return DeliveryStats(
            notifications=int(total),
            within=int(fast),
            channels=[(str(c), str(s), int(n)) for c, s, n in channels],
        )

    async def export(self, account_id: str) -> str:
        async with self.db.session() as session:
            subscriptions = await dao_list_subscriptions(session, account_id)
            devices = await dao_list_devices(session, account_id)
            preferences = await dao_get_preferences(session, account_id)
            notifications = await dao_list_notifications(session, account_id, offset=0, limit=100000, unread_only=False)
        document = {
            "service": "notifications",
            "subscriptions": [
                s.model_dump(
                    mode="json",
                    include={
                        "id",
                        "kind",
                        "place_id",
                        "radius_m",
                        "topic_type",
                        "topic_value",
                        "report_id",
                        "created_at",
                    },
                )
                for s in subscriptions
            ],
            "devices": [
                d.model_dump(
                    mode="json", include={"id", "platform", "label", "active", "created_at", "last_success_at"}
                )
                for d in devices
            ],
            "preferences": preferences.model_dump(mode="json", exclude={"account_id"}) if preferences else None,
            "notifications": [
                n.model_dump(
                    mode="json", include={"id", "event_type", "lang", "title", "body", "created_at", "read_at"}
                )
                for n in notifications
            ],
        }
        return json.dumps(document, ensure_ascii=False, default=str)


__all__ = [
    "DeliveryStats",
    "InboxPage",
    "NotificationsService",
    "PreferencesInput",
    "SubscriptionInput",
    "dao_insert_area_cells",
]
