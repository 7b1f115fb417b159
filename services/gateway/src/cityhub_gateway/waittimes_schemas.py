"""Wait times over HTTP: live figures, busy hours, kiosk events, check-ins and the open-data
QueueMonitor shape (msgspec Structs, so the OpenAPI document types every field), and their
conversion from the waittimes service's protobuf messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from cityhub.waittimes.v1 import waittimes_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

from cityhub_gateway.catalog_schemas import Language, ServiceCenterOut, ServiceCentersOut

EstimateStateName = Literal["estimated", "not_enough_data", "no_counter_open"]
QueueEventKindName = Literal[
    "ticket_issued",
    "ticket_called",
    "ticket_served",
    "ticket_no_show",
    "counter_opened",
    "counter_closed",
    "appointment_checked_in",
]
CheckInStatusName = Literal["waiting", "called", "served", "no_show", "cancelled"]
Seconds = Annotated[int, msgspec.Meta(ge=0)]
Name = Annotated[str, msgspec.Meta(max_length=64)]

ESTIMATE_STATES: dict[int, EstimateStateName] = {
    pb.ESTIMATE_STATE_ESTIMATED: "estimated",
    pb.ESTIMATE_STATE_NOT_ENOUGH_DATA: "not_enough_data",
    pb.ESTIMATE_STATE_NO_COUNTER_OPEN: "no_counter_open",
}
EVENT_KINDS: dict[QueueEventKindName, pb.QueueEventKind.ValueType] = {
    "ticket_issued": pb.QUEUE_EVENT_KIND_TICKET_ISSUED,
    "ticket_called": pb.QUEUE_EVENT_KIND_TICKET_CALLED,
    "ticket_served": pb.QUEUE_EVENT_KIND_TICKET_SERVED,
    "ticket_no_show": pb.QUEUE_EVENT_KIND_TICKET_NO_SHOW,
    "counter_opened": pb.QUEUE_EVENT_KIND_COUNTER_OPENED,
    "counter_closed": pb.QUEUE_EVENT_KIND_COUNTER_CLOSED,
    "appointment_checked_in": pb.QUEUE_EVENT_KIND_APPOINTMENT_CHECKED_IN,
}
CHECK_IN_STATUSES: dict[int, CheckInStatusName] = {
    pb.CHECK_IN_STATUS_WAITING: "waiting",
    pb.CHECK_IN_STATUS_CALLED: "called",
    pb.CHECK_IN_STATUS_SERVED: "served",
    pb.CHECK_IN_STATUS_NO_SHOW: "no_show",
    pb.CHECK_IN_STATUS_CANCELLED: "cancelled",
}


class WaitEstimateOut(msgspec.Struct):
    state: Annotated[
        EstimateStateName, msgspec.Meta(description="`not_enough_data` and `no_counter_open` carry no numbers")
    ]
    confidence: Annotated[
        float, msgspec.Meta(ge=0, le=1, description="Share of recent actual waits inside the published range")
    ]
    samples: Annotated[int, msgspec.Meta(description="Served tickets behind the handling-time average")]
    low_s: Seconds | None = None
    expected_s: Annotated[Seconds | None, msgspec.Meta(description="Leans pessimistic")] = None
    high_s: Seconds | None = None


class QueueWaitOut(msgspec.Struct):
    queue: str
    people_waiting: int
    counters_open: int
    being_served: int
    estimate: WaitEstimateOut
    last_ticket_called: str
    served_today: int
    updated_at: Annotated[datetime | None, msgspec.Meta(description="Time of the latest kiosk event")] = None


class CenterWaitTimesOut(msgspec.Struct):
    center_id: str
    queues: list[QueueWaitOut]
    updated_at: datetime | None = None


class BusySlotOut(msgspec.Struct):
    queue: str
    starts_at: datetime
    ends_at: datetime
    has_history: bool
    expected_wait_s: Annotated[Seconds | None, msgspec.Meta(description="Mean past wait at this hour")] = None
    arrivals_per_hour: float | None = None
    level: Annotated[float, msgspec.Meta(ge=0, le=1, description="0 quietest .. 1 busiest")] | None = None


class QueueBusyHoursOut(msgspec.Struct):
    queue: str
    days_of_history: int
    slots: Annotated[list[BusySlotOut], msgspec.Meta(description="Open hours only, in time order")]
    best: Annotated[list[BusySlotOut], msgspec.Meta(description="The quietest open hours, best first")]


class BusyHoursOut(msgspec.Struct):
    center_id: str
    timezone: str
    queues: list[QueueBusyHoursOut]
    best: Annotated[list[BusySlotOut], msgspec.Meta(description="Across queues, best first")]


class QueueEventIn(msgspec.Struct, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="Unique per kiosk system")]
    queue: Name
    kind: QueueEventKindName
    occurred_at: Annotated[datetime, msgspec.Meta(tz=True, description="The kiosk's time, with its offset")]
    ticket: Name = ""
    counter: Name = ""


class QueueEventsIn(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[QueueEventIn], msgspec.Meta(min_length=1, max_length=500)]


class QueueEventsOut(msgspec.Struct):
    accepted: int
    duplicates: int
    too_late: Annotated[int, msgspec.Meta(description="Older than the queue's settled checkpoint: refused")]


class HistoryHourIn(msgspec.Struct, forbid_unknown_fields=True):
    queue: Name
    hour_start: Annotated[datetime, msgspec.Meta(tz=True)]
    arrivals: Annotated[int, msgspec.Meta(ge=0)]
    waits: Annotated[int, msgspec.Meta(ge=0)]
    mean_wait_s: Annotated[float, msgspec.Meta(ge=0)]


class QueueHistoryIn(msgspec.Struct, forbid_unknown_fields=True):
    hours: Annotated[list[HistoryHourIn], msgspec.Meta(min_length=1, max_length=2000)]


class QueueHistoryOut(msgspec.Struct):
    imported: int


class CheckInIn(msgspec.Struct, forbid_unknown_fields=True):
    queue: Name
    appointment: Annotated[bool, msgspec.Meta(description="I hold an appointment at this queue now")] = False


class CheckInOut(msgspec.Struct):
    id: str
    center_id: str
    queue: str
    ticket: str
    appointment: bool
    status: CheckInStatusName
    people_ahead: int
    created_at: datetime | None
    estimate: WaitEstimateOut | None = None
    counter: str | None = None
    called_at: datetime | None = None
    ended_at: datetime | None = None


class CheckInsOut(msgspec.Struct):
    items: list[CheckInOut]


class GeoPointOut(msgspec.Struct):
    type: Literal["Point"]
    coordinates: Annotated[list[float], msgspec.Meta(description="[longitude, latitude]")]


class QueueMonitorOut(msgspec.Struct, rename="camel"):
    """FIWARE Smart Data Models `QueueMonitor` (dataModel.QueueManagement), no personal data."""

    id: str
    type: Literal["QueueMonitor"]
    office_name: str
    service_name: str
    service_id: str
    service_status: Literal["Open", "Closed"]
    last_ticket_issued: str
    ticket_served: str
    tickets_to_serve: int
    location: GeoPointOut
    date_modified: datetime | None = None
    estimated_waiting_time_low: Annotated[Seconds | None, msgspec.Meta(description="CityHub: seconds")] = None
    estimated_waiting_time_high: Annotated[Seconds | None, msgspec.Meta(description="CityHub: seconds")] = None


class ServiceCenterWithWaitOut(ServiceCenterOut, kw_only=True):
    """A service centre with its live wait times (absent when the gateway runs without waittimes)."""

    wait_times: CenterWaitTimesOut | None = None


class ServiceCentersWithWaitOut(msgspec.Struct):
    items: list[ServiceCenterWithWaitOut]
    lang: Language
    rtl: bool
    total: int
    next_page_token: str | None = None


def _time(stamp: Timestamp, present: bool) -> datetime | None:
    return stamp.ToDatetime(tzinfo=UTC) if present else None


def estimate_out(estimate: pb.WaitEstimate) -> WaitEstimateOut:
    out = WaitEstimateOut(
        state=ESTIMATE_STATES.get(estimate.state, "not_enough_data"),
        confidence=round(estimate.confidence, 3),
        samples=estimate.samples,
    )
    if estimate.state == pb.ESTIMATE_STATE_ESTIMATED:
        out.low_s, out.expected_s, out.high_s = estimate.low_s, estimate.expected_s, estimate.high_s
    return out


def queue_wait_out(state: pb.QueueState) -> QueueWaitOut:
    return QueueWaitOut(
        queue=state.queue,
        people_waiting=state.people_waiting,
        counters_open=state.counters_open,
        being_served=state.being_served,
        estimate=estimate_out(state.estimate),
        last_ticket_called=state.last_ticket_called,
        served_today=state.served_today,
        updated_at=_time(state.updated_at, state.HasField("updated_at")),
    )


def center_wait_out(center_id: str, states: list[pb.QueueState]) -> CenterWaitTimesOut:
    queues = [queue_wait_out(s) for s in states]
    times = [q.updated_at for q in queues if q.updated_at is not None]
    return CenterWaitTimesOut(center_id=center_id, queues=queues, updated_at=max(times) if times else None)


def slot_out(slot: pb.BusySlot) -> BusySlotOut:
    out = BusySlotOut(
        queue=slot.queue,
        starts_at=slot.starts_at.ToDatetime(tzinfo=UTC),
        ends_at=slot.ends_at.ToDatetime(tzinfo=UTC),
        has_history=slot.has_history,
    )
    if slot.has_history:
        out.expected_wait_s, out.arrivals_per_hour, out.level = slot.expected_wait_s, slot.arrivals_per_hour, slot.level
    return out


def busy_hours_out(response: pb.GetBusyHoursResponse) -> BusyHoursOut:
    return BusyHoursOut(
        center_id=response.center_id,
        timezone=response.timezone,
        queues=[
            QueueBusyHoursOut(
                queue=q.queue,
                days_of_history=q.days_of_history,
                slots=[slot_out(s) for s in q.slots],
                best=[slot_out(s) for s in q.best],
            )
            for q in response.queues
        ],
        best=[slot_out(s) for s in response.best],
    )


def _stamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value.astimezone(UTC))
    return stamp


def queue_event_message(event: QueueEventIn) -> pb.QueueEvent:
    return pb.QueueEvent(
        event_id=event.id,
        queue=event.queue,
        kind=EVENT_KINDS[event.kind],
        ticket=event.ticket,
        counter=event.counter,
        occurred_at=_stamp(event.occurred_at),
    )


def history_hour_message(hour: HistoryHourIn) -> pb.HistoryHour:
    return pb.HistoryHour(
        queue=hour.queue,
        hour_start=_stamp(hour.hour_start),
        arrivals=hour.arrivals,
        waits=hour.waits,
        mean_wait_s=hour.mean_wait_s,
    )


def check_in_out(check_in: pb.CheckIn) -> CheckInOut:
    return CheckInOut(
        id=check_in.check_in_id,
        center_id=check_in.center_id,
        queue=check_in.queue,
        ticket=check_in.ticket,
        appointment=check_in.appointment,
        status=CHECK_IN_STATUSES.get(check_in.status, "waiting"),
        people_ahead=check_in.people_ahead,
        created_at=_time(check_in.created_at, check_in.HasField("created_at")),
        estimate=estimate_out(check_in.estimate) if check_in.HasField("estimate") else None,
        counter=check_in.counter or None,
        called_at=_time(check_in.called_at, check_in.HasField("called_at")),
        ended_at=_time(check_in.ended_at, check_in.HasField("ended_at")),
    )


def with_wait(center: ServiceCenterOut, wait: CenterWaitTimesOut | None) -> ServiceCenterWithWaitOut:
    fields = {name: getattr(center, name) for name in center.__struct_fields__}
    return ServiceCenterWithWaitOut(**fields, wait_times=wait)


def centers_with_wait(page: ServiceCentersOut, waits: dict[str, CenterWaitTimesOut]) -> ServiceCentersWithWaitOut:
    return ServiceCentersWithWaitOut(
        items=[with_wait(c, waits.get(c.id)) for c in page.items],
        lang=page.lang,
        rtl=page.rtl,
        total=page.total,
        next_page_token=page.next_page_token,
    )
