"""The gRPC face of notifications: check the caller, translate messages, call a use case."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import grpc
from cityhub.notifications.v1 import events_pb2, notifications_pb2, notifications_pb2_grpc
from cityhub_sdk.auth import ROLE_OPERATOR, ROLE_RESIDENT, ROLE_SERVICE, ROLE_STAFF, require
from google.protobuf.timestamp_pb2 import Timestamp

from cityhub_notifications.errors import InvalidArgument, NotFound, NotificationsError, Unavailable
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
from cityhub_notifications.policy import ensure_aware
from cityhub_notifications.service import NotificationsService, PreferencesInput, SubscriptionInput

pb = notifications_pb2
PEOPLE = (ROLE_RESIDENT, ROLE_STAFF, ROLE_OPERATOR)
KINDS = {
    pb.SUBSCRIPTION_KIND_AREA: KIND_AREA,
    pb.SUBSCRIPTION_KIND_TOPIC: KIND_TOPIC,
    pb.SUBSCRIPTION_KIND_REPORT: KIND_REPORT,
}
KINDS_BACK = {value: key for key, value in KINDS.items()}
STATUS = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(ensure_aware(value))
    return stamp


def subscription_pb(s: Subscription) -> notifications_pb2.Subscription:
    return pb.Subscription(
        subscription_id=s.id,
        kind=KINDS_BACK.get(s.kind, pb.SUBSCRIPTION_KIND_UNSPECIFIED),
        place_id=s.place_id or "",
        radius_m=s.radius_m or 0,
        topic_type=s.topic_type or "",
        topic_value=s.topic_value or "",
        report_id=s.report_id or "",
        created_at=_ts(s.created_at),
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
        created_at=_ts(n.created_at),
        read_at=_ts(n.read_at),
        read=n.read_at is not None,
    )


def device_pb(d: Device) -> notifications_pb2.Device:
    return pb.Device(
        device_id=d.id,
        platform=d.platform,
        label=d.label,
        created_at=_ts(d.created_at),
        last_success_at=_ts(d.last_success_at),
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


class NotificationsServicer(notifications_pb2_grpc.NotificationsServiceServicer):
    def __init__(self, service: NotificationsService, vapid_public_key: str) -> None:
        self.service = service
        self.vapid_public_key = vapid_public_key

    async def _account(self, context: grpc.aio.ServicerContext) -> str:
        caller = await require(context, *PEOPLE)
        assert caller.subject is not None
        return caller.subject

    async def _call(self, context: grpc.aio.ServicerContext, coro: Any) -> Any:
        try:
            return await coro
        except NotificationsError as exc:
            await context.abort(STATUS.get(type(exc), grpc.StatusCode.INTERNAL), str(exc))

    async def CreateSubscription(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        data = SubscriptionInput(
            kind=KINDS.get(request.kind, ""),
            place_id=request.place_id,
            radius_m=request.radius_m,
            topic_type=request.topic_type,
            topic_value=request.topic_value,
            report_id=request.report_id,
        )
        subscription, created = await self._call(context, self.service.create_subscription(account, data))
        return pb.CreateSubscriptionResponse(subscription=subscription_pb(subscription), created=created)

    async def ListSubscriptions(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        subscriptions = await self.service.list_subscriptions(account)
        return pb.ListSubscriptionsResponse(subscriptions=[subscription_pb(s) for s in subscriptions])

    async def DeleteSubscription(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        await self._call(context, self.service.delete_subscription(account, request.subscription_id))
        return pb.DeleteSubscriptionResponse()

    async def ListNotifications(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        page = await self._call(
            context,
            self.service.list_notifications(account, request.page_size, request.page_token, request.unread_only),
        )
        return pb.ListNotificationsResponse(
            notifications=[notification_pb(n) for n in page.notifications],
            unread_count=page.unread_count,
            next_page_token=page.next_page_token,
        )

    async def GetNotification(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        notification = await self._call(context, self.service.get_notification(account, request.notification_id))
        return pb.GetNotificationResponse(notification=notification_pb(notification))

    async def MarkNotificationRead(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        notification, unread = await self._call(context, self.service.mark_read(account, request.notification_id))
        return pb.MarkNotificationReadResponse(notification=notification_pb(notification), unread_count=unread)

    async def MarkAllNotificationsRead(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        return pb.MarkAllNotificationsReadResponse(marked=await self.service.mark_all_read(account))

    async def RegisterDevice(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        device = await self._call(
            context,
            self.service.register_device(
                account, request.platform, request.endpoint, request.p256dh, request.auth, request.label
            ),
        )
        return pb.RegisterDeviceResponse(device=device_pb(device))

    async def ListDevices(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        return pb.ListDevicesResponse(devices=[device_pb(d) for d in await self.service.list_devices(account)])

    async def DeleteDevice(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        await self._call(context, self.service.delete_device(account, request.device_id))
        return pb.DeleteDeviceResponse()

    async def GetPushConfig(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return pb.GetPushConfigResponse(vapid_public_key=self.vapid_public_key)

    async def GetNotificationPreferences(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        return pb.GetNotificationPreferencesResponse(
            preferences=preferences_pb(await self.service.get_preferences(account))
        )

    async def UpdateNotificationPreferences(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        p = request.preferences
        data = PreferencesInput(
            channels=list(p.channels),
            quiet_start=p.quiet_hours_start,
            quiet_end=p.quiet_hours_end,
            time_zone=p.time_zone,
            max_per_hour=p.max_per_hour,
        )
        preferences = await self._call(context, self.service.update_preferences(account, data))
        return pb.UpdateNotificationPreferencesResponse(preferences=preferences_pb(preferences))

    async def GetDeliveryStats(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await require(context, ROLE_OPERATOR, ROLE_SERVICE)
        stats = await self.service.delivery_stats()
        by_channel: dict[str, Any] = {}
        for channel, status, count in stats["channels"]:
            entry = by_channel.setdefault(channel or "queued", pb.ChannelStats(channel=channel or "queued"))
            if status == "delivered":
                entry.delivered += count
            elif status == "failed_temporary":
                entry.failed_temporary += count
            elif status == "failed_permanent":
                entry.failed_permanent += count
            else:
                entry.pending += count
        total = stats["notifications"]
        return pb.GetDeliveryStatsResponse(
            notifications=total,
            handed_within_10s=stats["within"],
            handed_within_10s_ratio=stats["within"] / total if total else 1.0,
            channels=list(by_channel.values()),
        )

    async def ExportAccountData(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        caller = await require(context, ROLE_SERVICE, *PEOPLE)
        account = request.account_id if caller.role == ROLE_SERVICE else caller.subject
        if not account:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "account_id is required")
        return pb.ExportAccountDataResponse(json=await self.service.export(str(account)))
