"""Wait-time routes and the gateway's live projection of every queue.

Current figures are served from memory, never with a gRPC call per request: the app's lifespan
starts the projection (and closes it at shutdown), which subscribes to
`cityhub.waittimes.queue.updated` on a core NATS subscription and loads one snapshot from waittimes
(`ListQueueStates`; each event carries a queue's whole state and a version, so an older version never
overwrites a newer one). A fresh snapshot every `RESNAPSHOT_S` repairs anything a dropped message
left behind. Without NATS the projection re-reads the snapshot when it is older than `NO_BUS_TTL_S`.
If waittimes is not up yet when the gateway starts, the gateway starts anyway: the next read loads
the snapshot (until then wait-time routes answer 503 and centre answers come without wait times).

Residents watch centres on the live stream (`GET /v1/stream?centers=a,b`): the projection pushes
each change of a watched centre into that stream.

Kiosk events, history imports, busy hours and check-ins go to the waittimes service, which owns
every rule (who may feed a queue, positions, reminders).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC
from typing import Annotated, Any, TypeVar

import msgspec
from cityhub.catalog.v1 import catalog_pb2
from cityhub.waittimes.v1 import events_pb2
from cityhub.waittimes.v1 import waittimes_pb2 as pb
from cityhub.waittimes.v1.waittimes_pb2_grpc import WaitTimesServiceStub
from cityhub_sdk.auth import Caller
from cityhub_sdk.logging import get_logger
from cityhub_sdk.subjects import WAITTIMES_QUEUE_UPDATED
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.response import ServerSentEventMessage
from litestar.types import ControllerRouterHandler

from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.errors import ApiError, invalid
from cityhub_gateway.openapi import problems
from cityhub_gateway.params import IdempotencyKey, ObjectId
from cityhub_gateway.waittimes_schemas import (
    BusyHoursOut,
    CenterWaitTimesOut,
    CheckInIn,
    CheckInOut,
    CheckInsOut,
    GeoPointOut,
    QueueEventsIn,
    QueueEventsOut,
    QueueHistoryIn,
    QueueHistoryOut,
    QueueMonitorOut,
    busy_hours_out,
    center_wait_out,
    check_in_out,
    history_hour_message,
    queue_event_message,
)

log = get_logger(__name__)
RESNAPSHOT_S = 60.0
NO_BUS_TTL_S = 2.0
WATCH_QUEUE_SIZE = 100
MAX_WATCHED_CENTERS = 20
NAMES_TTL_S = 300.0
# Centre answers that carry live wait times may be cached this long (the catalog's own are 5 minutes).
LIVE_CACHE_CONTROL = "public, max-age=10"

Watcher = asyncio.Queue[Any]
T = TypeVar("T")


class WaitTimesProjection:
    """Every queue's latest state in memory, fed by events; watchers get each change of their centres."""

    def __init__(self, stub: WaitTimesServiceStub, nats_url: str | None) -> None:
        self.stub = stub
        self.nats_url = nats_url
        self.states: dict[tuple[str, str], pb.QueueState] = {}
        self.watchers: dict[str, set[Watcher]] = defaultdict(set)
        self._connection: Any = None
        self._snapshot_at = float("-inf")
        self._lock = asyncio.Lock()
        self._refresher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe, then load the snapshot (events arriving meanwhile are ordered by version).

        Called once, from the app's lifespan. A NATS failure fails the start (as the live stream's
        does); a waittimes outage does not: the snapshot is loaded by the next read instead."""
        if self.nats_url:
            import nats

            self._connection = await nats.connect(
                servers=[self.nats_url], name="gateway-waittimes", max_reconnect_attempts=-1
            )
            await self._connection.subscribe(WAITTIMES_QUEUE_UPDATED, cb=self._on_message)
            self._refresher = asyncio.create_task(self._refresh(), name="waittimes-resnapshot")
        try:
            await self.current()
        except Exception as exc:  # noqa: BLE001 - waittimes may start after the gateway
            log.warning("waittimes.snapshot_failed", error=type(exc).__name__)

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.drain()
            self._connection = None

    async def _snapshot(self) -> None:
        response = await self.stub.ListQueueStates(pb.ListQueueStatesRequest())
        for state in response.queues:
            self.apply(state)
        self._snapshot_at = time.monotonic()

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(RESNAPSHOT_S)
            try:
                await self._snapshot()
            except Exception as exc:  # noqa: BLE001 - the next round retries
                log.warning("waittimes.resnapshot_failed", error=type(exc).__name__)

    async def _on_message(self, message: Any) -> None:
        try:
            updated = events_pb2.QueueUpdated.FromString(message.data)
        except Exception:  # noqa: BLE001 - a bad message must not stop the subscription
            log.warning("waittimes.bad_message")
            return
        self.apply(updated.state)

    def apply(self, state: pb.QueueState) -> None:
        key = (state.center_id, state.queue)
        known = self.states.get(key)
        if known is not None and known.version > state.version:
            return
        changed = known is None or known.SerializeToString(deterministic=True) != state.SerializeToString(
            deterministic=True
        )
        self.states[key] = state
        if changed and known is not None:
            for watcher in self.watchers.get(state.center_id, ()):
                with contextlib.suppress(asyncio.QueueFull):  # a stalled client loses live updates only
                    watcher.put_nowait(state)

    def _stale(self) -> bool:
        """No snapshot yet, or (without a bus to follow) one older than a couple of seconds."""
        age = time.monotonic() - self._snapshot_at
        return age == float("inf") or (not self.nats_url and age > NO_BUS_TTL_S)

    async def current(self) -> None:
        """Load the snapshot when it is stale; concurrent readers wait for one load."""
        if not self._stale():
            return
        async with self._lock:
            if self._stale():
                await self._snapshot()

    def center(self, center_id: str) -> list[pb.QueueState] | None:
        found = [s for (c, _), s in sorted(self.states.items()) if c == center_id]
        return found or None

    def all(self) -> list[pb.QueueState]:
        return [state for _, state in sorted(self.states.items())]

    def watch(self, center_ids: Iterable[str], watcher: Watcher) -> Callable[[], None]:
        centers = set(center_ids)
        for center_id in centers:
            self.watchers[center_id].add(watcher)

        def unwatch() -> None:
            for center_id in centers:
                watching = self.watchers.get(center_id)
                if watching is not None:
                    watching.discard(watcher)
                    if not watching:
                        self.watchers.pop(center_id, None)

        return unwatch


Unwatch = Callable[[], None]
WatchedCenters = Annotated[
    str | None,
    QueryParameter(
        name="centers",
        required=False,
        max_length=1400,
        description="Comma-separated service centre ids whose live wait times this stream follows (at most 20)",
    ),
]


async def centers_watch(request: Request[Any, Any, Any], centers: str | None) -> Callable[[Watcher], Unwatch] | None:
    """For /v1/stream: checks `centers=` and returns how to attach a stream's queue to them."""
    if not centers:
        return None
    ids = sorted({c.strip() for c in centers.split(",") if c.strip()})
    if len(ids) > MAX_WATCHED_CENTERS or any(len(c) > 64 for c in ids):
        raise invalid("centers", f"at most {MAX_WATCHED_CENTERS} centre ids")
    projection = await projection_of(request.app.state)
    unknown = [c for c in ids if projection.center(c) is None]
    if unknown:
        raise invalid("centers", f"unknown service centre {unknown[0]}")
    return lambda watcher: projection.watch(ids, watcher)


def wait_times_message(state: pb.QueueState) -> ServerSentEventMessage:
    """A `wait_times` stream event: the centre with the one queue that changed."""
    out = center_wait_out(state.center_id, [state])
    return ServerSentEventMessage(
        event="wait_times",
        id=f"{state.center_id}:{state.queue}:{state.version}",
        data=msgspec.json.encode(out).decode(),
    )


def waittimes_stub(clients: ServiceClients) -> WaitTimesServiceStub:
    """The waittimes client, or 503 when this gateway runs without the service."""
    if clients.waittimes is None:
        raise ApiError("service-unavailable", "wait times are not available")
    return clients.waittimes


async def projection_of(state: State) -> WaitTimesProjection:
    """The projection the app's lifespan started, current; 503 without one (no waittimes, or an
    app whose lifespan has not run)."""
    projection: WaitTimesProjection | None = getattr(state, "waittimes_projection", None)
    if projection is None:
        raise ApiError("service-unavailable", "wait times are not available")
    await projection.current()  # a gRPC error here becomes its problem (UNAVAILABLE: 503)
    return projection


async def center_waits(
    state: State, clients: ServiceClients, center_ids: Iterable[str]
) -> dict[str, CenterWaitTimesOut]:
    """Wait times of the given centres from the projection ({} without waittimes or on its outage)."""
    if clients.waittimes is None:
        return {}
    try:
        projection = await projection_of(state)
    except Exception as exc:  # noqa: BLE001 - the catalog answer stands without wait times
        log.warning("waittimes.unavailable", error=type(exc).__name__)
        return {}
    waits = {}
    for center_id in center_ids:
        states = projection.center(center_id)
        if states is not None:
            waits[center_id] = center_wait_out(center_id, states)
    return waits


def live_cache(response: Response[T], live: bool) -> Response[T]:
    """Shorten the cache lifetime of an answer that carries live figures."""
    if live:
        response.headers["Cache-Control"] = LIVE_CACHE_CONTROL
    return response


Days = Annotated[int | None, QueryParameter(name="days", required=False, ge=1, le=7, description="Default 3")]
ActiveOnly = Annotated[bool, QueryParameter(name="active", required=False, description="Only waiting or called")]


class CenterWaitTimesController(Controller):
    path = "/v1/service-centers/{center_id:str}"
    tags = ["wait times"]

    @get(
        "/wait-times",
        operation_id="getWaitTimes",
        summary="Live wait per queue: people waiting, counters open, estimated range and confidence",
        responses=problems(503),
    )
    async def wait_times(
        self, request: Request[Any, Any, Any], center_id: ObjectId, clients: NamedDependency[ServiceClients]
    ) -> CenterWaitTimesOut:
        waittimes_stub(clients)
        states = (await projection_of(request.app.state)).center(center_id)
        if states is None:
            raise ApiError("not-found", "service centre not found")
        return center_wait_out(center_id, states)

    @get(
        "/busy-hours",
        operation_id="getBusyHours",
        summary="How busy each open hour of the coming days usually is, and the best times to come",
        responses=problems(503),
    )
    async def busy_hours(
        self, center_id: ObjectId, clients: NamedDependency[ServiceClients], days: Days = None
    ) -> BusyHoursOut:
        response = await waittimes_stub(clients).GetBusyHours(
            pb.GetBusyHoursRequest(center_id=center_id, days=days or 0)
        )
        return busy_hours_out(response)

    @post(
        "/check-ins",
        operation_id="checkIn",
        summary="Take a virtual ticket: position and estimate now, a reminder when 3 are ahead, a call",
        description="Appointments go ahead of walk-ins; repeat the Idempotency-Key to retry safely.",
        status_code=201,
        responses=problems(409, 503),
    )
    async def check_in(
        self,
        center_id: ObjectId,
        data: JSONBody[CheckInIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        idempotency_key: IdempotencyKey = None,
    ) -> CheckInOut:
        response = await waittimes_stub(clients).CreateCheckIn(
            pb.CreateCheckInRequest(
                center_id=center_id,
                queue=data.queue,
                appointment=data.appointment,
                idempotency_key=idempotency_key or "",
            ),
            metadata=caller.metadata(),
        )
        return check_in_out(response.check_in)


class MyCheckInsController(Controller):
    path = "/v1/me/check-ins"
    tags = ["wait times"]

    @get("/", operation_id="listCheckIns", summary="My check-ins, newest first", responses=problems(503))
    async def list_check_ins(
        self, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller], active: ActiveOnly = False
    ) -> CheckInsOut:
        response = await waittimes_stub(clients).ListCheckIns(
            pb.ListCheckInsRequest(active_only=active), metadata=caller.metadata()
        )
        return CheckInsOut(items=[check_in_out(c) for c in response.check_ins])

    @delete(
        "/{check_in_id:str}",
        operation_id="cancelCheckIn",
        summary="Give up my place",
        status_code=200,
        responses=problems(409, 503),
    )
    async def cancel(
        self, check_in_id: ObjectId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> CheckInOut:
        response = await waittimes_stub(clients).CancelCheckIn(
            pb.CancelCheckInRequest(check_in_id=check_in_id), metadata=caller.metadata()
        )
        return check_in_out(response.check_in)


class StaffQueueController(Controller):
    path = "/v1/staff/service-centers/{center_id:str}"
    tags = ["staff"]

    @post(
        "/queue-events",
        operation_id="recordQueueEvents",
        summary="Kiosk feed: ticket and counter events (idempotent by id, any order within the window)",
        status_code=200,
        responses=problems(503),
    )
    async def record(
        self,
        center_id: ObjectId,
        data: JSONBody[QueueEventsIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> QueueEventsOut:
        response = await waittimes_stub(clients).RecordQueueEvents(
            pb.RecordQueueEventsRequest(center_id=center_id, events=[queue_event_message(e) for e in data.events]),
            metadata=caller.metadata(),
        )
        return QueueEventsOut(accepted=response.accepted, duplicates=response.duplicates, too_late=response.too_late)

    @post(
        "/queue-history",
        operation_id="importQueueHistory",
        summary="Past hourly figures from the kiosk system's reports (the same hours are replaced)",
        status_code=200,
        responses=problems(503),
    )
    async def import_history(
        self,
        center_id: ObjectId,
        data: JSONBody[QueueHistoryIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> QueueHistoryOut:
        response = await waittimes_stub(clients).ImportQueueHistory(
            pb.ImportQueueHistoryRequest(center_id=center_id, hours=[history_hour_message(h) for h in data.hours]),
            metadata=caller.metadata(),
        )
        return QueueHistoryOut(imported=response.imported)


_names: dict[int, tuple[float, dict[str, catalog_pb2.ServiceCenter]]] = {}


async def _centers(clients: ServiceClients) -> dict[str, catalog_pb2.ServiceCenter]:
    """Centre names, places and queue names for open data (public catalog data, cached)."""
    hit = _names.get(id(clients.catalog))
    if hit is not None and time.monotonic() - hit[0] < NAMES_TTL_S:
        return hit[1]
    centers: dict[str, catalog_pb2.ServiceCenter] = {}
    token = ""
    while True:
        page = await clients.catalog.ListServiceCenters(
            catalog_pb2.ListServiceCentersRequest(lang="en", page_size=100, page_token=token)
        )
        centers.update({c.id: c for c in page.centers})
        token = page.next_page_token
        if not token:
            break
    _names[id(clients.catalog)] = (time.monotonic(), centers)
    return centers


@get(
    "/v1/open-data/queues",
    operation_id="listQueueMonitors",
    summary="Every queue as a FIWARE QueueMonitor (open data, no personal data)",
    tags=["open data"],
    responses=problems(503),
)
async def open_data_queues(
    request: Request[Any, Any, Any], clients: NamedDependency[ServiceClients]
) -> list[QueueMonitorOut]:
    waittimes_stub(clients)
    projection = await projection_of(request.app.state)
    centers = await _centers(clients)
    out = []
    for state in projection.all():
        center = centers.get(state.center_id)
        if center is None:
            continue
        names = {q.slug: q.name for q in center.queues}
        estimated = state.estimate.state == pb.ESTIMATE_STATE_ESTIMATED
        out.append(
            QueueMonitorOut(
                id=f"urn:ngsi-ld:QueueMonitor:{state.center_id}:{state.queue}",
                type="QueueMonitor",
                office_name=center.name,
                service_name=names.get(state.queue, state.queue),
                service_id=state.queue,
                service_status="Open" if state.counters_open else "Closed",
                last_ticket_issued=state.last_ticket_issued,
                ticket_served=state.last_ticket_called,
                tickets_to_serve=state.people_waiting,
                location=GeoPointOut(type="Point", coordinates=[center.lon, center.lat]),
                date_modified=state.updated_at.ToDatetime(tzinfo=UTC) if state.HasField("updated_at") else None,
                estimated_waiting_time_low=state.estimate.low_s if estimated else None,
                estimated_waiting_time_high=state.estimate.high_s if estimated else None,
            )
        )
    return out


WAITTIMES_ROUTES: list[ControllerRouterHandler] = [
    CenterWaitTimesController,
    MyCheckInsController,
    StaffQueueController,
    open_data_queues,
]
