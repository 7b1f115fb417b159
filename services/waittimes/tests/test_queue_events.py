"""Kiosk events over real gRPC: estimates from the ordered log, idempotency, out-of-order events,
who may feed a queue (acceptance 2: the same events twice, or shuffled within a minute, give the
same estimate)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from cityhub.waittimes.v1 import waittimes_pb2 as pb
from cityhub.waittimes.v1 import waittimes_pb2_grpc
from cityhub_sdk.testing import People

from .conftest import INTERNAL, StartWaittimes, event

K = pb.QueueEventKind


def busy_morning(start: datetime, prefix: str = "e") -> list[pb.QueueEvent]:
    """Two counters, 12 tickets served (about 4-6 minutes each), then 20 more people waiting."""
    events = [
        event(f"{prefix}-open-1", K.QUEUE_EVENT_KIND_COUNTER_OPENED, start, counter="1"),
        event(f"{prefix}-open-2", K.QUEUE_EVENT_KIND_COUNTER_OPENED, start, counter="2"),
    ]
    at = start
    for n in range(12):
        at += timedelta(seconds=40)
        ticket = f"A{n:03d}"
        events.append(event(f"{prefix}-i{n}", K.QUEUE_EVENT_KIND_TICKET_ISSUED, at, ticket=ticket))
        called = at + timedelta(seconds=30)
        events.append(
            event(f"{prefix}-c{n}", K.QUEUE_EVENT_KIND_TICKET_CALLED, called, ticket=ticket, counter=str(n % 2 + 1))
        )
        handling = timedelta(seconds=240 + (n * 37) % 120)
        events.append(event(f"{prefix}-s{n}", K.QUEUE_EVENT_KIND_TICKET_SERVED, called + handling, ticket=ticket))
    for n in range(20):
        at += timedelta(seconds=20)
        events.append(event(f"{prefix}-w{n}", K.QUEUE_EVENT_KIND_TICKET_ISSUED, at, ticket=f"B{n:03d}"))
    return events


async def figures(stub: waittimes_pb2_grpc.WaitTimesServiceStub, center: str, queue: str) -> pb.QueueState:
    response = await stub.GetCenterWaitTimes(pb.GetCenterWaitTimesRequest(center_id=center))
    return next(q for q in response.queues if q.queue == queue)


def comparable(state: pb.QueueState) -> tuple[Any, ...]:
    return (
        state.people_waiting,
        state.counters_open,
        state.being_served,
        state.estimate.SerializeToString(deterministic=True),
        state.updated_at.ToDatetime(),
        state.last_ticket_issued,
    )


async def feed(
    stub: waittimes_pb2_grpc.WaitTimesServiceStub,
    events: list[pb.QueueEvent],
    batch: int = 7,
    center: str = "city-hall",
) -> pb.RecordQueueEventsResponse:
    totals = pb.RecordQueueEventsResponse()
    for start in range(0, len(events), batch):
        response = await stub.RecordQueueEvents(
            pb.RecordQueueEventsRequest(center_id=center, events=events[start : start + batch]), metadata=INTERNAL
        )
        totals.accepted += response.accepted
        totals.duplicates += response.duplicates
        totals.too_late += response.too_late
    return totals


async def test_every_catalog_queue_is_listed_with_not_enough_data_before_any_event(
    stub: waittimes_pb2_grpc.WaitTimesServiceStub,
) -> None:
    states = (await stub.ListQueueStates(pb.ListQueueStatesRequest())).queues
    assert {(s.center_id, s.queue) for s in states} >= {("city-hall", "payments"), ("west-precinct", "front-desk")}
    first = next(s for s in states if s.center_id == "city-hall" and s.queue == "payments")
    assert first.estimate.state == pb.ESTIMATE_STATE_NOT_ENOUGH_DATA and not first.HasField("updated_at")


async def test_the_same_events_twice_or_shuffled_within_a_minute_give_the_same_estimate(
    start_waittimes: StartWaittimes,
) -> None:
    start = datetime.now(UTC) - timedelta(hours=2)
    events = busy_morning(start)
    first, second = await start_waittimes(), await start_waittimes()
    async with grpc.aio.insecure_channel(first.address) as a, grpc.aio.insecure_channel(second.address) as b:
        stub_a, stub_b = waittimes_pb2_grpc.WaitTimesServiceStub(a), waittimes_pb2_grpc.WaitTimesServiceStub(b)
        sent = await feed(stub_a, events)
        assert (sent.accepted, sent.duplicates, sent.too_late) == (len(events), 0, 0)
        once = await figures(stub_a, "city-hall", "payments")
        assert once.estimate.state == pb.ESTIMATE_STATE_ESTIMATED
        assert once.people_waiting == 20 and once.counters_open == 2
        assert 0 < once.estimate.low_s <= once.estimate.expected_s <= once.estimate.high_s

        again = await feed(stub_a, list(reversed(events)), batch=11)
        assert (again.accepted, again.duplicates) == (0, len(events))
        assert comparable(await figures(stub_a, "city-hall", "payments")) == comparable(once)

        # Shuffled within each minute, in other batch sizes: the order of arrival does not matter.
        rng = random.Random(7)
        by_minute: dict[int, list[pb.QueueEvent]] = {}
        for item in events:
            by_minute.setdefault(int(item.occurred_at.seconds // 60), []).append(item)
        shuffled = []
        for minute in sorted(by_minute):
            chunk = by_minute[minute][:]
            rng.shuffle(chunk)
            shuffled.extend(chunk)
        assert shuffled != events
        await feed(stub_b, shuffled, batch=5)
        assert comparable(await figures(stub_b, "city-hall", "payments")) == comparable(once)


async def test_twenty_tickets_move_the_estimate_and_late_events_beyond_the_window_are_refused(
    stub: waittimes_pb2_grpc.WaitTimesServiceStub,
) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    events = busy_morning(start, prefix="m")
    await feed(stub, events[:-20])
    before = await figures(stub, "city-hall", "payments")
    await feed(stub, events[-20:], batch=20)
    after = await figures(stub, "city-hall", "payments")
    assert after.people_waiting == before.people_waiting + 20
    assert after.estimate.expected_s > before.estimate.expected_s and after.version > before.version

    late = event("m-late", K.QUEUE_EVENT_KIND_TICKET_ISSUED, start + timedelta(seconds=1), ticket="Z001")
    response = await stub.RecordQueueEvents(
        pb.RecordQueueEventsRequest(center_id="city-hall", events=[late]), metadata=INTERNAL
    )
    assert response.too_late == 1 and response.accepted == 0
    assert (await figures(stub, "city-hall", "payments")).people_waiting == after.people_waiting


async def test_only_the_departments_of_a_queue_feed_it(
    stub: waittimes_pb2_grpc.WaitTimesServiceStub, people: People
) -> None:
    now = datetime.now(UTC)
    taxes, roads = await people.api_key("taxes"), await people.api_key("roads")
    opened = event("d-open", K.QUEUE_EVENT_KIND_COUNTER_OPENED, now, counter="1")
    ok = await stub.RecordQueueEvents(
        pb.RecordQueueEventsRequest(center_id="north-service-center", events=[opened]), metadata=taxes
    )
    assert ok.accepted == 1
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.RecordQueueEvents(
            pb.RecordQueueEventsRequest(center_id="north-service-center", events=[opened]), metadata=roads
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await stub.RecordQueueEvents(pb.RecordQueueEventsRequest(center_id="north-service-center", events=[opened]))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    resident = await people.person()
    with pytest.raises(grpc.aio.AioRpcError) as resident_refused:
        await stub.RecordQueueEvents(
            pb.RecordQueueEventsRequest(center_id="north-service-center", events=[opened]), metadata=resident.metadata
        )
    assert resident_refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("center", "change"),
    [
        ("nowhere", {}),
        ("city-hall", {"queue": "no-such-queue"}),
        ("city-hall", {"kind": 0}),
        ("city-hall", {"ticket": ""}),
        ("city-hall", {"event_id": ""}),
        ("city-hall", {"future": True}),
    ],
)
async def test_bad_events_are_refused(
    stub: waittimes_pb2_grpc.WaitTimesServiceStub, center: str, change: dict[str, Any]
) -> None:
    at = datetime.now(UTC) + (timedelta(hours=1) if change.pop("future", False) else timedelta())
    item = event("bad-1", K.QUEUE_EVENT_KIND_TICKET_ISSUED, at, ticket="A1")
    for field, value in change.items():
        setattr(item, field, value)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.RecordQueueEvents(pb.RecordQueueEventsRequest(center_id=center, events=[item]), metadata=INTERNAL)
    assert refused.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
