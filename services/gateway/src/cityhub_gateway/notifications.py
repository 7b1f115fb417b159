"""Notification routes for the signed-in resident: inbox, subscriptions, devices, preferences."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from cityhub.notifications.v1 import events_pb2
from cityhub.notifications.v1 import notifications_pb2 as pb
from cityhub_sdk.auth import Caller
from google.protobuf.timestamp_pb2 import Timestamp
from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from cityhub_gateway.clients import ServiceClients

KIND_NAMES = {
    pb.SUBSCRIPTION_KIND_AREA: "area",
    pb.SUBSCRIPTION_KIND_TOPIC: "topic",
    pb.SUBSCRIPTION_KIND_REPORT: "report",
}
KINDS = {name: value for value, name in KIND_NAMES.items()}


def _time(stamp: Timestamp, present: bool) -> str | None:
    return stamp.ToDatetime().isoformat() + "Z" if present else None


class NotificationOut(msgspec.Struct):
    id: str
    event_type: str
    urgent: bool
    lang: str
    title: str
    body: str
    data: dict[str, str]
    created_at: str | None
    read: bool
    read_at: str | None


class InboxOut(msgspec.Struct):
    items: list[NotificationOut]
    unread_count: int
    next_page_token: str | None = None


class MarkedOut(msgspec.Struct):
    notification: NotificationOut
    unread_count: int


class SubscriptionIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str | None = None  # inferred from the fields when absent
    place_id: str | None = None
    radius_m: int | None = None
    topic_type: str | None = None
    topic_value: str | None = None
    report_id: str | None = None


class SubscriptionOut(msgspec.Struct):
    id: str
    kind: str
    created_at: str | None
    place_id: str | None = None
    radius_m: int | None = None
    cell_count: int | None = None
    topic_type: str | None = None
    topic_value: str | None = None
    report_id: str | None = None


class SubscriptionsOut(msgspec.Struct):
    items: list[SubscriptionOut]


class PushKeys(msgspec.Struct):
    p256dh: str
    auth: str


class DeviceIn(msgspec.Struct):
    endpoint: str
    keys: PushKeys
    platform: str = "webpush"
    label: str = ""


class DeviceOut(msgspec.Struct):
    id: str
    platform: str
    label: str
    active: bool
    created_at: str | None
    last_success_at: str | None


class DevicesOut(msgspec.Struct):
    items: list[DeviceOut]


class PushConfigOut(msgspec.Struct):
    vapid_public_key: str


class PreferencesBody(msgspec.Struct):
    channels: list[str]
    quiet_hours_start: str | None = None
    quiet_hours_end: str | None = None
    time_zone: str | None = None
    max_per_hour: int = 10
    language: str | None = None  # read-only: follows the profile


def notification_out(n: pb.Notification) -> NotificationOut:
    return NotificationOut(
        id=n.notification_id,
        event_type=n.event_type,
        urgent=n.urgency == events_pb2.URGENCY_URGENT,
        lang=n.lang,
        title=n.title,
        body=n.body,
        data=dict(n.data),
        created_at=_time(n.created_at, n.HasField("created_at")),
        read=n.read,
        read_at=_time(n.read_at, n.HasField("read_at")),
    )


def subscription_out(s: pb.Subscription) -> SubscriptionOut:
    kind = KIND_NAMES.get(s.kind, "unknown")
    out = SubscriptionOut(id=s.subscription_id, kind=kind, created_at=_time(s.created_at, s.HasField("created_at")))
    if kind == "area":
        out.place_id, out.radius_m, out.cell_count = s.place_id, s.radius_m, s.cell_count
    elif kind == "topic":
        out.topic_type, out.topic_value = s.topic_type, s.topic_value
    elif kind == "report":
        out.report_id = s.report_id
    return out


def device_out(d: pb.Device) -> DeviceOut:
    return DeviceOut(
        id=d.device_id,
        platform=d.platform,
        label=d.label,
        active=d.active,
        created_at=_time(d.created_at, d.HasField("created_at")),
        last_success_at=_time(d.last_success_at, d.HasField("last_success_at")),
    )


def preferences_out(p: pb.NotificationPreferences) -> PreferencesBody:
    return PreferencesBody(
        channels=list(p.channels),
        quiet_hours_start=p.quiet_hours_start or None,
        quiet_hours_end=p.quiet_hours_end or None,
        time_zone=p.time_zone,
        max_per_hour=p.max_per_hour,
        language=p.language,
    )


def _kind(data: SubscriptionIn) -> int:
    name = data.kind or (
        "area" if data.place_id else "topic" if data.topic_type else "report" if data.report_id else ""
    )
    if name not in KINDS:
        raise HTTPException(status_code=422, detail="kind must be area, topic or report")
    return KINDS[name]


def notifications_stub(clients: ServiceClients) -> Any:
    stub = getattr(clients, "notifications", None)
    if stub is None:
        raise HTTPException(status_code=503, detail="notifications are not available")
    return stub


PageSize = Annotated[int | None, QueryParameter(name="page_size", required=False, ge=1, le=100)]
PageToken = Annotated[str | None, QueryParameter(name="page_token", required=False, max_length=300)]
UnreadOnly = Annotated[bool, QueryParameter(name="unread_only", required=False)]


class InboxController(Controller):
    path = "/v1/me/notifications"
    tags = ["notifications"]

    @get("/", summary="My notifications, newest first, with the unread count")
    async def list_notifications(
        self,
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        page_size: PageSize = None,
        page_token: PageToken = None,
        unread_only: UnreadOnly = False,
    ) -> InboxOut:
        response = await notifications_stub(clients).ListNotifications(
            pb.ListNotificationsRequest(
                page_size=page_size or 20, page_token=page_token or "", unread_only=unread_only
            ),
            metadata=caller.metadata(),
        )
        return InboxOut(
            items=[notification_out(n) for n in response.notifications],
            unread_count=response.unread_count,
            next_page_token=response.next_page_token or None,
        )

    @post("/{notification_id:str}/read", summary="Mark one notification read", status_code=200)
    async def mark_read(
        self, notification_id: FromPath[str], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> MarkedOut:
        response = await notifications_stub(clients).MarkNotificationRead(
            pb.MarkNotificationReadRequest(notification_id=notification_id), metadata=caller.metadata()
        )
        return MarkedOut(notification=notification_out(response.notification), unread_count=response.unread_count)

    @post("/read-all", summary="Mark every notification read", status_code=200)
    async def mark_all_read(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> dict[str, int]:
        response = await notifications_stub(clients).MarkAllNotificationsRead(
            pb.MarkAllNotificationsReadRequest(), metadata=caller.metadata()
        )
        return {"marked": response.marked}


class SubscriptionController(Controller):
    path = "/v1/me/subscriptions"
    tags = ["notifications"]

    @get("/", summary="My subscriptions")
    async def list_subscriptions(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> SubscriptionsOut:
        response = await notifications_stub(clients).ListSubscriptions(
            pb.ListSubscriptionsRequest(), metadata=caller.metadata()
        )
        return SubscriptionsOut(items=[subscription_out(s) for s in response.subscriptions])

    @post("/", summary="Subscribe to an area around a saved place, a topic or a report")
    async def create_subscription(
        self, data: JSONBody[SubscriptionIn], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> Response[SubscriptionOut]:
        request = pb.CreateSubscriptionRequest(
            kind=_kind(data),  # type: ignore[arg-type]
            place_id=data.place_id or "",
            radius_m=data.radius_m or 0,
            topic_type=data.topic_type or "",
            topic_value=data.topic_value or "",
            report_id=data.report_id or "",
        )
        response = await notifications_stub(clients).CreateSubscription(request, metadata=caller.metadata())
        return Response(subscription_out(response.subscription), status_code=201 if response.created else 200)

    @delete("/{subscription_id:str}", summary="Unsubscribe", status_code=204)
    async def delete_subscription(
        self, subscription_id: FromPath[str], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> None:
        await notifications_stub(clients).DeleteSubscription(
            pb.DeleteSubscriptionRequest(subscription_id=subscription_id), metadata=caller.metadata()
        )


class DeviceController(Controller):
    path = "/v1/me/devices"
    tags = ["notifications"]

    @get("/", summary="My devices registered for push")
    async def list_devices(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> DevicesOut:
        response = await notifications_stub(clients).ListDevices(pb.ListDevicesRequest(), metadata=caller.metadata())
        return DevicesOut(items=[device_out(d) for d in response.devices])

    @post("/", summary="Register a Web Push subscription (the browser's PushSubscription JSON)", status_code=201)
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

    @delete("/{device_id:str}", summary="Remove a device", status_code=204)
    async def delete_device(
        self, device_id: FromPath[str], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> None:
        await notifications_stub(clients).DeleteDevice(
            pb.DeleteDeviceRequest(device_id=device_id), metadata=caller.metadata()
        )


class PreferencesController(Controller):
    path = "/v1/me/notification-preferences"
    tags = ["notifications"]

    @get("/", summary="My notification preferences: fallback chain, quiet hours, hourly limit")
    async def get_preferences(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> PreferencesBody:
        response = await notifications_stub(clients).GetNotificationPreferences(
            pb.GetNotificationPreferencesRequest(), metadata=caller.metadata()
        )
        return preferences_out(response.preferences)

    @put("/", summary="Replace my notification preferences")
    async def put_preferences(
        self, data: JSONBody[PreferencesBody], clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> PreferencesBody:
        preferences = pb.NotificationPreferences(
            channels=data.channels,
            quiet_hours_start=data.quiet_hours_start or "",
            quiet_hours_end=data.quiet_hours_end or "",
            time_zone=data.time_zone or "",
            max_per_hour=data.max_per_hour,
        )
        response = await notifications_stub(clients).UpdateNotificationPreferences(
            pb.UpdateNotificationPreferencesRequest(preferences=preferences), metadata=caller.metadata()
        )
        return preferences_out(response.preferences)


@get("/v1/push/config", summary="The VAPID public key for Web Push subscriptions", tags=["notifications"])
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
