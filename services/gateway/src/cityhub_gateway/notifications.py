"""Notification routes for the signed-in resident: inbox, subscriptions, devices, preferences.

Each route translates a typed body into the notifications service's request and its answer back
(`notifications_schemas`); the service owns every rule and its errors arrive as problem+json.
"""

from __future__ import annotations

from typing import Annotated

from cityhub.notifications.v1 import notifications_pb2 as pb
from cityhub.notifications.v1.notifications_pb2_grpc import NotificationsServiceStub
from cityhub_sdk.auth import Caller
from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.errors import ApiError
from cityhub_gateway.notifications_schemas import (
    DeviceIn,
    DeviceOut,
    DevicesOut,
    InboxOut,
    MarkedAllOut,
    MarkedOut,
    PreferencesIn,
    PreferencesOut,
    PushConfigOut,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionsOut,
    device_out,
    notification_out,
    preferences_message,
    preferences_out,
    subscription_out,
    subscription_request,
)
from cityhub_gateway.params import ObjectId, PageSize, PageToken

UnreadOnly = Annotated[
    bool, QueryParameter(name="unread_only", required=False, description="Only notifications not read yet")
]


def notifications_stub(clients: ServiceClients) -> NotificationsServiceStub:
    """The notifications client, or 503 when this gateway runs without the service."""
    if clients.notifications is None:
        raise ApiError("service-unavailable", "notifications are not available")
    return clients.notifications


class InboxController(Controller):
    path = "/v1/me/notifications"
    tags = ["notifications"]

    @get("/", operation_id="listNotifications", summary="My notifications, newest first, with the unread count")
    async def list_notifications(
        self,
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        page_size: PageSize = None,
        page_token: PageToken = None,
        unread_only: UnreadOnly = False,
    ) -> InboxOut:
        response = await notifications_stub(clients).ListNotifications(
            pb.ListNotificationsRequest(page_size=page_size or 0, page_token=page_token or "", unread_only=unread_only),
            metadata=caller.metadata(),
        )
        return InboxOut(
            items=[notification_out(n) for n in response.notifications],
            unread_count=response.unread_count,
            next_page_token=response.next_page_token or None,
        )

    @post(
        "/{notification_id:str}/read",
        operation_id="markNotificationRead",
        summary="Mark one notification read",
        status_code=200,
    )
    async def mark_read(
        self, notification_id: ObjectId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> MarkedOut:
        response = await notifications_stub(clients).MarkNotificationRead(
            pb.MarkNotificationReadRequest(notification_id=notification_id), metadata=caller.metadata()
        )
        return MarkedOut(notification=notification_out(response.notification), unread_count=response.unread_count)

    @post("/read-all", operation_id="markAllNotificationsRead", summary="Mark every notification read", status_code=200)
    async def mark_all_read(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> MarkedAllOut:
        response = await notifications_stub(clients).MarkAllNotificationsRead(
            pb.MarkAllNotificationsReadRequest(), metadata=caller.metadata()
        )
        return MarkedAllOut(marked=response.marked)


class SubscriptionController(Controller):
    path = "/v1/me/subscriptions"
    tags = ["notifications"]

    @get("/", operation_id="listSubscriptions", summary="My subscriptions")
    async def list_subscriptions(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> SubscriptionsOut:
        response = await notifications_stub(clients).ListSubscriptions(
            pb.ListSubscriptionsRequest(), metadata=caller.metadata()
        )
        return SubscriptionsOut(items=[subscription_out(s) for s in response.subscriptions])

    @post(
        "/",
        operation_id="createSubscription",
        summary="Subscribe to an area around a saved place, a topic or a report",
        description="201 for a new subscription, 200 with the existing one when it is already there.",
        status_code=201,
        responses={
            200: ResponseSpec(data_container=SubscriptionOut, description="Already subscribed: the existing one")
        },
    )
    async def create_subscription(
        self, data: JSONBody[SubscriptionIn], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> Response[SubscriptionOut]:
        response = await notifications_stub(clients).CreateSubscription(
            subscription_request(data), metadata=caller.metadata()
        )
        return Response(subscription_out(response.subscription), status_code=201 if response.created else 200)

    @delete("/{subscription_id:str}", operation_id="deleteSubscription", summary="Unsubscribe", status_code=204)
    async def delete_subscription(
        self, subscription_id: ObjectId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> None:
        await notifications_stub(clients).DeleteSubscription(
            pb.DeleteSubscriptionRequest(subscription_id=subscription_id), metadata=caller.metadata()
        )


class DeviceController(Controller):
    path = "/v1/me/devices"
    tags = ["notifications"]

    @get("/", operation_id="listDevices", summary="My devices registered for push")
    async def list_devices(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> DevicesOut:
        response = await notifications_stub(clients).ListDevices(pb.ListDevicesRequest(), metadata=caller.metadata())
        return DevicesOut(items=[device_out(d) for d in response.devices])

    @post(
        "/",
        operation_id="registerDevice",
        summary="Register a Web Push subscription (the browser's PushSubscription JSON)",
        status_code=201,
    )
    async def register_device(
        self, data: JSONBody[DeviceIn], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> DeviceOut:
        response = await notifications_stub(clients).RegisterDevice(
            pb.RegisterDeviceRequest(
                platform=data.platform,
                endpoint=data.endpoint,
                p256dh=data.keys.p256dh,
                auth=data.keys.auth,
                label=data.label,
            ),
            metadata=caller.metadata(),
        )
        return device_out(response.device)

    @delete("/{device_id:str}", operation_id="deleteDevice", summary="Remove a device", status_code=204)
    async def delete_device(
        self, device_id: ObjectId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> None:
        await notifications_stub(clients).DeleteDevice(
            pb.DeleteDeviceRequest(device_id=device_id), metadata=caller.metadata()
        )


class PreferencesController(Controller):
    path = "/v1/me/notification-preferences"
    tags = ["notifications"]

    @get(
        "/",
        operation_id="getNotificationPreferences",
        summary="My notification preferences: fallback chain, quiet hours, hourly limit",
    )
    async def get_preferences(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> PreferencesOut:
        response = await notifications_stub(clients).GetNotificationPreferences(
            pb.GetNotificationPreferencesRequest(), metadata=caller.metadata()
        )
        return preferences_out(response.preferences)

    @put("/", operation_id="putNotificationPreferences", summary="Replace my notification preferences")
    async def put_preferences(
        self, data: JSONBody[PreferencesIn], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> PreferencesOut:
        response = await notifications_stub(clients).UpdateNotificationPreferences(
            pb.UpdateNotificationPreferencesRequest(preferences=preferences_message(data)), metadata=caller.metadata()
        )
        return preferences_out(response.preferences)


@get(
    "/v1/push/config",
    operation_id="getPushConfig",
    summary="The VAPID public key for Web Push subscriptions",
    tags=["notifications"],
)
async def push_config(clients: NamedDependency[ServiceClients]) -> PushConfigOut:
    response = await notifications_stub(clients).GetPushConfig(pb.GetPushConfigRequest())
    return PushConfigOut(vapid_public_key=response.vapid_public_key)


NOTIFICATIONS_ROUTES: list[ControllerRouterHandler] = [
    InboxController,
    SubscriptionController,
    DeviceController,
    PreferencesController,
    push_config,
]
