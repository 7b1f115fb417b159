"""Rows to protobuf messages: the one place notifications' models become its API's shapes."""

from __future__ import annotations

import json

from cityhub.notifications.v1 import events_pb2, notifications_pb2
from cityhub_sdk.timestamps import to_timestamp

from cityhub_notifications.models import (
    KIND_AREA,
    KIND_REPORT,
    KIND_TOPIC,
    URGENCY_URGENT,
    Device,
    Notification,
    Preferences,
    Subscription,
)
from cityhub_notifications.service import DeliveryStats

pb = notifications_pb2

KINDS = {
    pb.SUBSCRIPTION_KIND_AREA: KIND_AREA,
    pb.SUBSCRIPTION_KIND_TOPIC: KIND_TOPIC,
    pb.SUBSCRIPTION_KIND_REPORT: KIND_REPORT,
}
KINDS_BACK = {value: key for key, value in KINDS.items()}


def kind_name(kind: notifications_pb2.SubscriptionKind.ValueType) -> str:
    """The stored kind for a request's enum; "" (unspecified) lets the use case infer it."""
    return KINDS.get(kind, "")


def subscription_pb(s: Subscription) -> notifications_pb2.Subscription:
    return pb.Subscription(
        subscription_id=s.id,
        kind=KINDS_BACK.get(s.kind, pb.SUBSCRIPTION_KIND_UNSPECIFIED),
        place_id=s.place_id or "",
        radius_m=s.radius_m or 0,
        topic_type=s.topic_type or "",
        topic_value=s.topic_value or "",
        report_id=s.report_id or "",
        created_at=to_timestamp(s.created_at),
        cell_count=s.cell_count,
    )


def notification_pb(n: Notification) -> notifications_pb2.Notification:
    return pb.Notification(
        notification_id=n.id,
        event_type=n.event_type,
        urgency=events_pb2.URGENCY_URGENT if n.urgency == URGENCY_URGENT else events_pb2.URGENCY_NORMAL,
        lang=n.lang,
        title=n.title,
        body=n.body,
        data=json.loads(n.data),
        created_at=to_timestamp(n.created_at),
        read_at=to_timestamp(n.read_at),
        read=n.read_at is not None,
    )


def device_pb(d: Device) -> notifications_pb2.Device:
    return pb.Device(
        device_id=d.id,
        platform=d.platform,
        label=d.label,
        created_at=to_timestamp(d.created_at),
        last_success_at=to_timestamp(d.last_success_at),
        active=d.active,
    )


def preferences_pb(p: Preferences) -> notifications_pb2.NotificationPreferences:
    return pb.NotificationPreferences(
        channels=json.loads(p.channels),
        quiet_hours_start=p.quiet_start,
        quiet_hours_end=p.quiet_end,
        time_zone=p.time_zone,
        max_per_hour=p.max_per_hour,
        language=p.language,
    )


def delivery_stats_pb(stats: DeliveryStats) -> notifications_pb2.GetDeliveryStatsResponse:
    """Per-channel counts by outcome; rows not yet on a channel count as "queued"."""
    by_channel: dict[str, notifications_pb2.ChannelStats] = {}
    for channel, status, count in stats.channels:
        name = channel or "queued"
        entry = by_channel.setdefault(name, pb.ChannelStats(channel=name))
        if status == "delivered":
            entry.delivered += count
        elif status == "failed_temporary":
            entry.failed_temporary += count
        elif status == "failed_permanent":
            entry.failed_permanent += count
        else:
            entry.pending += count
    total = stats.notifications
    return pb.GetDeliveryStatsResponse(
        notifications=total,
        handed_within_10s=stats.within,
        handed_within_10s_ratio=stats.within / total if total else 1.0,
        channels=list(by_channel.values()),
    )
