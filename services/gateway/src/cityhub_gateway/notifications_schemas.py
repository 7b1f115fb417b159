"""The notification routes' bodies and answers, as the API contract shows them, and their mapping
from the notifications service's messages.

Bounds here keep a request within its protobuf field (int32, short ids) and document the shape;
which combinations are valid (a kind's fields, radius limits, channel names, time zones) is the
notifications service's rule, and its INVALID_ARGUMENT answers 422.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from cityhub.notifications.v1 import events_pb2
from cityhub.notifications.v1 import notifications_pb2 as pb
from cityhub_sdk.timestamps import from_timestamp

SubscriptionKind = Literal["area", "topic", "report"]
TopicType = Literal["alert_kind", "department", "service"]

KIND_NAMES: dict[pb.SubscriptionKind.ValueType, SubscriptionKind] = {
    pb.SUBSCRIPTION_KIND_AREA: "area",
    pb.SUBSCRIPTION_KIND_TOPIC: "topic",
    pb.SUBSCRIPTION_KIND_REPORT: "report",
}
KINDS = {name: value for value, name in KIND_NAMES.items()}

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Int32 = Annotated[int, msgspec.Meta(ge=0, le=2_147_483_647)]
Clock = Annotated[str, msgspec.Meta(max_length=5, description="Local time, HH:MM", examples=["22:00"])]


class NotificationOut(msgspec.Struct):
    id: str
    event_type: str
    urgent: bool
    lang: str
    title: str
    body: str
    data: dict[str, str]
    created_at: datetime | None
    read: bool
    read_at: datetime | None


class InboxOut(msgspec.Struct):
    items: list[NotificationOut]
    unread_count: int
    next_page_token: str | None = None


class MarkedOut(msgspec.Struct):
    notification: NotificationOut
    unread_count: int


class MarkedAllOut(msgspec.Struct):
    marked: int


class SubscriptionIn(msgspec.Struct, forbid_unknown_fields=True):
    """`area` (place_id, radius_m), `topic` (topic_type, topic_value) or `report` (report_id).

    Without `kind` the service reads it from the fields that are present.
    """

    kind: SubscriptionKind | None = None
    place_id: Id | None = None
    radius_m: (
        Annotated[Int32, msgspec.Meta(description="Metres around the saved place (the service allows 100 to 5,000)")]
        | None
    ) = None
    topic_type: TopicType | None = None
    topic_value: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    report_id: Id | None = None


class SubscriptionOut(msgspec.Struct):
    id: str
    kind: SubscriptionKind
    created_at: datetime | None
    place_id: str | None = None
    radius_m: int | None = None
    cell_count: int | None = None
    topic_type: str | None = None
    topic_value: str | None = None
    report_id: str | None = None


class SubscriptionsOut(msgspec.Struct):
    items: list[SubscriptionOut]


class PushKeys(msgspec.Struct):
    p256dh: Annotated[str, msgspec.Meta(max_length=200)]
    auth: Annotated[str, msgspec.Meta(max_length=200)]


class DeviceIn(msgspec.Struct):
    """The browser's PushSubscription JSON (`endpoint`, `keys`), plus an optional label."""

    endpoint: Annotated[str, msgspec.Meta(max_length=2000, description="The push service's https URL")]
    keys: PushKeys
    platform: Literal["webpush"] = "webpush"
    label: Annotated[str, msgspec.Meta(max_length=100)] = ""


class DeviceOut(msgspec.Struct):
    """A device; its endpoint is a capability URL and never leaves the service."""

    id: str
    platform: str
    label: str
    active: bool
    created_at: datetime | None
    last_success_at: datetime | None


class DevicesOut(msgspec.Struct):
    items: list[DeviceOut]


class PushConfigOut(msgspec.Struct):
    vapid_public_key: str


class PreferencesIn(msgspec.Struct):
    """The whole preferences document; `language` is read-only (it follows the profile) and ignored."""

    channels: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=32)]],
        msgspec.Meta(max_length=5, description='Fallback chain beyond the inbox, e.g. ["push", "email"]'),
    ]
    quiet_hours_start: Clock | None = None
    quiet_hours_end: Clock | None = None
    time_zone: Annotated[str, msgspec.Meta(max_length=64, description="IANA time zone")] | None = None
    max_per_hour: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 10


class LiveNotification(msgspec.Struct, omit_defaults=True):
    """One `notification` event of GET /v1/stream: the reference, and the rendered text when the
    resident's token still reads it (else the app reads it from the inbox)."""

    id: str
    event_type: str
    urgent: bool
    title: str | None = None
    body: str | None = None
    lang: str | None = None
    data: dict[str, str] | None = None
    created_at: datetime | None = None


class PreferencesOut(msgspec.Struct):
    channels: list[str]
    quiet_hours_start: str | None
    quiet_hours_end: str | None
    time_zone: str
    max_per_hour: int
    language: str


def notification_out(n: pb.Notification) -> NotificationOut:
    return NotificationOut(
        id=n.notification_id,
        event_type=n.event_type,
        urgent=n.urgency == events_pb2.URGENCY_URGENT,
        lang=n.lang,
        title=n.title,
        body=n.body,
        data=dict(n.data),
        created_at=from_timestamp(n.created_at, n.HasField("created_at")),
        read=n.read,
        read_at=from_timestamp(n.read_at, n.HasField("read_at")),
    )


def subscription_out(s: pb.Subscription) -> SubscriptionOut:
    kind = KIND_NAMES[s.kind]
    out = SubscriptionOut(
        id=s.subscription_id, kind=kind, created_at=from_timestamp(s.created_at, s.HasField("created_at"))
    )
    if kind == "area":
        out.place_id, out.radius_m, out.cell_count = s.place_id, s.radius_m, s.cell_count
    elif kind == "topic":
        out.topic_type, out.topic_value = s.topic_type, s.topic_value
    else:
        out.report_id = s.report_id
    return out


def subscription_request(data: SubscriptionIn) -> pb.CreateSubscriptionRequest:
    return pb.CreateSubscriptionRequest(
        kind=KINDS[data.kind] if data.kind else pb.SUBSCRIPTION_KIND_UNSPECIFIED,
        place_id=data.place_id or "",
        radius_m=data.radius_m or 0,
        topic_type=data.topic_type or "",
        topic_value=data.topic_value or "",
        report_id=data.report_id or "",
    )


def device_out(d: pb.Device) -> DeviceOut:
    return DeviceOut(
        id=d.device_id,
        platform=d.platform,
        label=d.label,
        active=d.active,
        created_at=from_timestamp(d.created_at, d.HasField("created_at")),
        last_success_at=from_timestamp(d.last_success_at, d.HasField("last_success_at")),
    )


def preferences_out(p: pb.NotificationPreferences) -> PreferencesOut:
    return PreferencesOut(
        channels=list(p.channels),
        quiet_hours_start=p.quiet_hours_start or None,
        quiet_hours_end=p.quiet_hours_end or None,
        time_zone=p.time_zone,
        max_per_hour=p.max_per_hour,
        language=p.language,
    )


def preferences_message(data: PreferencesIn) -> pb.NotificationPreferences:
    return pb.NotificationPreferences(
        channels=data.channels,
        quiet_hours_start=data.quiet_hours_start or "",
        quiet_hours_end=data.quiet_hours_end or "",
        time_zone=data.time_zone or "",
        max_per_hour=data.max_per_hour,
    )
