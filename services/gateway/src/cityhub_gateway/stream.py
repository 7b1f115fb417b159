"""GET /v1/stream: live notifications for the signed-in app over Server-Sent Events.

Notifications publishes `NOTIFICATIONS_CREATED` (references only) through its outbox; the gateway listens with a core NATS subscription and fans each reference out to the
open streams of that resident in this process, then fetches the rendered notification with the
resident's own token. The inbox stays the durable record: a stream that was closed misses nothing
the app cannot read from GET /v1/me/notifications.

Authentication: the bearer token (apps), or `?access_token=` for browsers' EventSource, which
cannot set headers. A token in a URL can end up in proxy and server logs; it is short-lived (at
most 15 minutes) and the gateway never logs query strings, but apps should prefer the header.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Annotated, Any

import grpc
import msgspec
from cityhub.notifications.v1 import events_pb2, notifications_pb2
from cityhub_sdk.auth import Caller
from cityhub_sdk.logging import get_logger
from cityhub_sdk.subjects import NOTIFICATIONS_CREATED
from litestar import Request, get
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage
from litestar.types import ControllerRouterHandler

from cityhub_gateway.auth import Authenticator, connection_caller, unauthorized
from cityhub_gateway.errors import ApiError
from cityhub_gateway.notifications_schemas import LiveNotification, notification_out
from cityhub_gateway.openapi import problems
from cityhub_gateway.quotas import too_many_requests
from cityhub_gateway.waittimes import Unwatch, WatchedCenters, centers_watch, wait_times_message

log = get_logger(__name__)
EVENT_STREAM = "text/event-stream"
HEARTBEAT_S = 15.0
QUEUE_SIZE = 100
STREAM_RETRY_AFTER_S = 30  # a closed stream frees its slot at once; this is a polite guess


class StreamHub:
    """In-process fan-out: account id -> the queues of that resident's open streams."""

    def __init__(self) -> None:
        self._streams: dict[str, set[asyncio.Queue[events_pb2.NotificationRef]]] = defaultdict(set)
        self._connection: Any = None

    async def connect(self, nats_url: str) -> None:
        import nats

        self._connection = await nats.connect(servers=[nats_url], name="gateway-stream", max_reconnect_attempts=-1)
        await self._connection.subscribe(NOTIFICATIONS_CREATED, cb=self._on_message)

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.drain()
            self._connection = None

    async def _on_message(self, message: Any) -> None:
        try:
            created = events_pb2.NotificationsCreated.FromString(message.data)
        except Exception:  # noqa: BLE001 - a bad message must not stop the subscription
            log.warning("stream.bad_message")
            return
        for ref in created.notifications:
            for queue in self._streams.get(ref.account_id, ()):
                with contextlib.suppress(asyncio.QueueFull):  # a stalled client loses live events, not the inbox
                    queue.put_nowait(ref)

    def open(self, account_id: str) -> asyncio.Queue[events_pb2.NotificationRef]:
        queue: asyncio.Queue[events_pb2.NotificationRef] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._streams[account_id].add(queue)
        return queue

    def close_stream(self, account_id: str, queue: asyncio.Queue[events_pb2.NotificationRef]) -> None:
        streams = self._streams.get(account_id)
        if streams is not None:
            streams.discard(queue)
            if not streams:
                self._streams.pop(account_id, None)

    def open_streams(self, account_id: str) -> int:
        return len(self._streams.get(account_id, ()))


async def _caller(request: Request[Any, Any, Any], access_token: str | None) -> Caller:
    caller = connection_caller(request)
    if not caller.is_authenticated and access_token:
        authenticator: Authenticator = request.app.state.authenticator
        caller = await authenticator.authenticate({"authorization": f"Bearer {access_token}"})
    if not caller.is_authenticated or caller.subject is None or caller.role not in ("resident", "staff", "operator"):
        raise unauthorized()
    return caller


async def _events(
    hub: StreamHub,
    stub: Any,
    caller: Caller,
    heartbeat_s: float,
    queue: asyncio.Queue[events_pb2.NotificationRef],
    unwatch: Unwatch | None = None,
) -> AsyncIterator[ServerSentEventMessage]:
    assert caller.subject is not None
    try:
        yield ServerSentEventMessage(event="ready", data=json.dumps({"streams": hub.open_streams(caller.subject)}))
        while True:
            try:
                ref = await asyncio.wait_for(queue.get(), timeout=heartbeat_s)
            except TimeoutError:
                yield ServerSentEventMessage(comment="heartbeat")
                continue
            if not isinstance(ref, events_pb2.NotificationRef):  # a watched centre's wait times changed
                yield wait_times_message(ref)
                continue
            payload = LiveNotification(
                id=ref.notification_id, event_type=ref.event_type, urgent=ref.urgency == events_pb2.URGENCY_URGENT
            )
            with contextlib.suppress(grpc.aio.AioRpcError):  # e.g. the token expired: send the reference only
                response = await stub.GetNotification(
                    notifications_pb2.GetNotificationRequest(notification_id=ref.notification_id),
                    metadata=caller.metadata(),
                )
                out = notification_out(response.notification)
                payload.title, payload.body, payload.lang = out.title, out.body, out.lang
                payload.data, payload.created_at = out.data, out.created_at
            yield ServerSentEventMessage(
                event="notification", id=ref.notification_id, data=msgspec.json.encode(payload).decode()
            )
    finally:
        if unwatch is not None:
            unwatch()
        hub.close_stream(caller.subject, queue)


AccessToken = Annotated[
    str | None,
    QueryParameter(
        name="access_token",
        required=False,
        max_length=4096,
        description="For EventSource, which cannot send headers; prefer the Authorization header",
    ),
]
STREAM_DESCRIPTION = (
    'Server-Sent Events: `ready` once (`{"streams": n}`), then one `notification` event per new '
    "notification, its `data` a LiveNotification JSON object (`id`, `event_type`, `urgent`, and when "
    "readable `title`, `body`, `lang`, `data`, `created_at`); a comment every 15 s keeps it open. "
    "With `centers=a,b`, a `wait_times` event (a CenterWaitTimesOut with the changed queue) each time "
    "the live figures of a watched centre change."
)


@get(
    "/v1/stream",
    operation_id="streamEvents",
    summary="Live notifications (Server-Sent Events)",
    description=STREAM_DESCRIPTION,
    tags=["notifications"],
    responses={
        200: ResponseSpec(
            data_container=str,
            media_type=EVENT_STREAM,
            description="An event stream",
            generate_examples=False,
            examples=[
                Example(
                    summary="ready, then one notification",
                    value='event: ready\ndata: {"streams": 1}\n\nevent: notification\nid: 4f2c\n'
                    'data: {"id": "4f2c", "event_type": "report.created.nearby", "urgent": false}\n\n',
                )
            ],
        ),
        **problems(401),
    },
)
async def stream(
    request: Request[Any, Any, Any], access_token: AccessToken = None, centers: WatchedCenters = None
) -> ServerSentEvent:
    hub: StreamHub | None = getattr(request.app.state, "stream_hub", None)
    stub = getattr(request.app.state.clients, "notifications", None)
    if hub is None or stub is None:
        raise ApiError("service-unavailable", "live notifications are not available")
    caller = await _caller(request, access_token)
    assert caller.subject is not None
    # One resident, a few devices: more open streams than that is a leak or an attack (429).
    if hub.open_streams(caller.subject) >= request.app.state.settings.max_streams_per_resident:
        raise too_many_requests(STREAM_RETRY_AFTER_S, "too many live streams open for this account")
    watch = await centers_watch(request, centers)  # before the slot is taken: it may refuse
    queue = hub.open(caller.subject)  # reserved now, so concurrent requests cannot all pass the check
    unwatch = watch(queue) if watch is not None else None
    heartbeat = float(getattr(request.app.state, "stream_heartbeat_s", HEARTBEAT_S))
    return ServerSentEvent(
        _events(hub, stub, caller, heartbeat, queue, unwatch),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


STREAM_ROUTES: list[ControllerRouterHandler] = [stream]
