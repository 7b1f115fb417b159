"""The gRPC face of notifications: check the caller, translate the request, call a use case.

Use-case errors are SDK `ServiceError`s; the SDK's interceptor turns them into gRPC statuses.
"""

from __future__ import annotations

from typing import Any

import grpc
from cityhub.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from cityhub_sdk.auth import ROLE_OPERATOR, ROLE_RESIDENT, ROLE_SERVICE, ROLE_STAFF, require
from cityhub_sdk.errors import InvalidArgument

from cityhub_notifications.messages import (
    delivery_stats_pb,
    device_pb,
    kind_name,
    notification_pb,
    preferences_pb,
    subscription_pb,
)
from cityhub_notifications.service import NotificationsService, PreferencesInput, SubscriptionInput

pb = notifications_pb2
PEOPLE = (ROLE_RESIDENT, ROLE_STAFF, ROLE_OPERATOR)


class NotificationsServicer(notifications_pb2_grpc.NotificationsServiceServicer):
    def __init__(self, service: NotificationsService, vapid_public_key: str) -> None:
        self.service = service
        self.vapid_public_key = vapid_public_key

    async def _account(self, context: grpc.aio.ServicerContext) -> str:
        caller = await require(context, *PEOPLE)
        assert caller.subject is not None
        return caller.subject

    async def CreateSubscription(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        data = SubscriptionInput(
            kind=kind_name(request.kind),
            place_id=request.place_id,
            radius_m=request.radius_m,
            topic_type=request.topic_type,
            topic_value=request.topic_value,
            report_id=request.report_id,
        )
        subscription, created = await self.service.create_subscription(account, data)
        return pb.CreateSubscriptionResponse(subscription=subscription_pb(subscription), created=created)

    async def ListSubscriptions(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        subscriptions = await self.service.list_subscriptions(account)
        return pb.ListSubscriptionsResponse(subscriptions=[subscription_pb(s) for s in subscriptions])

    async def DeleteSubscription(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        await self.service.delete_subscription(account, request.subscription_id)
        return pb.DeleteSubscriptionResponse()

    async def ListNotifications(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        page = await self.service.list_notifications(
            account, request.page_size, request.page_token, request.unread_only
        )
        return pb.ListNotificationsResponse(
            notifications=[notification_pb(n) for n in page.notifications],
            unread_count=page.unread_count,
            next_page_token=page.next_page_token,
        )

    async def GetNotification(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        notification = await self.service.get_notification(account, request.notification_id)
        return pb.GetNotificationResponse(notification=notification_pb(notification))

    async def MarkNotificationRead(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        notification, unread = await self.service.mark_read(account, request.notification_id)
        return pb.MarkNotificationReadResponse(notification=notification_pb(notification), unread_count=unread)

    async def MarkAllNotificationsRead(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        return pb.MarkAllNotificationsReadResponse(marked=await self.service.mark_all_read(account))

    async def RegisterDevice(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        device = await self.service.register_device(
            account, request.platform, request.endpoint, request.p256dh, request.auth, request.label
        )
        return pb.RegisterDeviceResponse(device=device_pb(device))

    async def ListDevices(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        return pb.ListDevicesResponse(devices=[device_pb(d) for d in await self.service.list_devices(account)])

    async def DeleteDevice(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        await self.service.delete_device(account, request.device_id)
        return pb.DeleteDeviceResponse()

    async def GetPushConfig(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return pb.GetPushConfigResponse(vapid_public_key=self.vapid_public_key)

    async def GetNotificationPreferences(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        account = await self._account(context)
        preferences = await self.service.get_preferences(account)
        return pb.GetNotificationPreferencesResponse(preferences=preferences_pb(preferences))

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
        preferences = await self.service.update_preferences(account, data)
        return pb.UpdateNotificationPreferencesResponse(preferences=preferences_pb(preferences))

    async def GetDeliveryStats(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await require(context, ROLE_OPERATOR, ROLE_SERVICE)
        return delivery_stats_pb(await self.service.delivery_stats())

    async def ExportAccountData(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        caller = await require(context, ROLE_SERVICE, *PEOPLE)
        account = request.account_id if caller.role == ROLE_SERVICE else caller.subject
        if not account:
            raise InvalidArgument("account_id is required")
        return pb.ExportAccountDataResponse(json=await self.service.export(str(account)))
