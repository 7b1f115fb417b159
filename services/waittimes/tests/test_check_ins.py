"""Remote check-in over real gRPC: a virtual ticket with position and estimate, appointments ahead
of walk-ins, one reminder at 3 ahead, the call, cancel, no-show after the grace period frees the
place, and erasure on account deletion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import nats
import pytest
import pytest_asyncio
from cityhub.identity.v1 import events_pb2 as identity_events
from cityhub.waittimes.v1 import events_pb2, waittimes_pb2_grpc
from cityhub.waittimes.v1 import waittimes_pb2 as pb
from cityhub_sdk.bus import EventBus
from cityhub_sdk.events import new_event
from cityhub_sdk.subjects import (
    IDENTITY_ACCOUNT_DELETED,
    WAITTIMES_ACCOUNT_ERASED,
    WAITTIMES_CHECKIN_CALLED,
    WAITTIMES_CHECKIN_REMINDED,
)
from cityhub_sdk.testing import People, eventually

from .conftest import INTERNAL, StartWaittimes, event
from .test_queue_events import busy_morning, feed

K = pb.QueueEventKind
CENTER, QUEUE = "city-hall", "payments"


class Heard:
    """Every message on the given subjects, seen on a core NATS subscription."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def of(self, subject: str) -> list[bytes]:
        return [data for name, data in self.messages if name == subject]


@pytest_asyncio.fixture(loop_scope="session")
async def heard(nats_url: str) -> AsyncIterator[Heard]:
    connection = await nats.connect(nats_url)
    found = Heard()

    async def keep(message: Any) -> None:
        found.messages.append((message.subject, message.data))

    await connection.subscribe("cityhub.waittimes.>", cb=keep)
    try:
        yield found
    finally:
        await connection.close()


async def serving_queue(stub: waittimes_pb2_grpc.WaitTimesServiceStub, prefix: str) -> None:
    """A queue with two counters, a handling-time average and 20 walk-ins waiting."""
    await feed(stub, busy_morning(datetime.now(UTC) - timedelta(minutes=40), prefix=prefix))


async def call_next(stub: waittimes_pb2_grpc.WaitTimesServiceStub, ticket: str, counter: str = "1") -> None:
    now = datetime.now(UTC)
    await stub.RecordQueueEvents(
        pb.RecordQueueEventsRequest(
            center_id=CENTER,
            events=[
                event(
                    f"call-{ticket}-{now.timestamp()}",
                    K.QUEUE_EVENT_KIND_TICKET_CALLED,
                    now,
                    ticket=ticket,
                    counter=counter,
                )
            ],
        ),
        metadata=INTERNAL,
    )


async def mine(stub: waittimes_pb2_grpc.WaitTimesServiceStub, metadata: Any) -> list[pb.CheckIn]:
    return list((await stub.ListCheckIns(pb.ListCheckInsRequest(), metadata=metadata)).check_ins)


async def test_a_check_in_is_reminded_at_three_ahead_then_called(
    stub: waittimes_pb2_grpc.WaitTimesServiceStub, people: People, heard: Heard
) -> None:
    await serving_queue(stub, "r")
    ann = await people.person()
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await stub.CreateCheckIn(pb.CreateCheckInRequest(center_id=CENTER, queue=QUEUE))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    created = (
        await stub.CreateCheckIn(
            pb.CreateCheckInRequest(center_id=CENTER, queue=QUEUE, idempotency_key="ann-1"), metadata=ann.metadata
        )
    ).check_in
    assert created.status == pb.CHECK_IN_STATUS_WAITING and created.people_ahead == 20
    assert created.estimate.state == pb.ESTIMATE_STATE_ESTIMATED and created.estimate.expected_s > 0
    replay = await stub.CreateCheckIn(
        pb.CreateCheckInRequest(center_id=CENTER, queue=QUEUE, idempotency_key="ann-1"), metadata=ann.metadata
    )
    assert replay.check_in.check_in_id == created.check_in_id
    with pytest.raises(grpc.aio.AioRpcError) as twice:
        await stub.CreateCheckIn(pb.CreateCheckInRequest(center_id=CENTER, queue=QUEUE), metadata=ann.metadata)
    assert twice.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # An appointment holder checking in goes ahead of every walk-in (the merge rule).
    bob = await people.person()
    appointment = (
        await stub.CreateCheckIn(
            pb.CreateCheckInRequest(center_id=CENTER, queue=QUEUE, appointment=True), metadata=bob.metadata
        )
    ).check_in
    assert appointment.people_ahead == 0
    assert (await mine(stub, ann.metadata))[0].people_ahead == 21

    await call_next(stub, appointment.ticket, counter="2")
    for n in range(17):
        await call_next(stub, f"B{n:03d}")
    assert (await mine(stub, ann.metadata))[0].people_ahead == 3

    def reminders() -> list[events_pb2.CheckInReminded]:
        return [events_pb2.CheckInReminded.FromString(d) for d in heard.of(WAITTIMES_CHECKIN_REMINDED)]

    await eventually(lambda: any(r.check_in_id == created.check_in_id for r in reminders()))
    annes = [r for r in reminders() if r.check_in_id == created.check_in_id]
    assert len(annes) == 1 and annes[0].people_ahead == 3 and annes[0].account_id == ann.account_id

    for n in range(17, 20):
        await call_next(stub, f"B{n:03d}")
    assert (await mine(stub, ann.metadata))[0].people_ahead == 0
    await call_next(stub, created.ticket, counter="2")
    now_mine = (await mine(stub, ann.metadata))[0]
    assert now_mine.status == pb.CHECK_IN_STATUS_CALLED and now_mine.counter == "2"
    await eventually(lambda: len(heard.of(WAITTIMES_CHECKIN_CALLED)) >= 2)
    called = {events_pb2.CheckInCalled.FromString(d).check_in_id for d in heard.of(WAITTIMES_CHECKIN_CALLED)}
    assert called == {created.check_in_id, appointment.check_in_id}
    # Bob (0 ahead at once) and Ann, once each.
    assert sorted(r.check_in_id for r in reminders()) == sorted([created.check_in_id, appointment.check_in_id])


async def test_no_show_after_the_grace_period_and_cancel_free_the_place(
    start_waittimes: StartWaittimes, people: People
) -> None:
    service = await start_waittimes(CHECKIN_GRACE_S=0.5, CHECKIN_SWEEP_INTERVAL_S=0.2)
    async with grpc.aio.insecure_channel(service.address) as channel:
        stub = waittimes_pb2_grpc.WaitTimesServiceStub(channel)
        await serving_queue(stub, "n")
        ann, cy, dee = await people.person(), await people.person(), await people.person()
        first = (
            await stub.CreateCheckIn(pb.CreateCheckInRequest(center_id=CENTER, queue=QUEUE), metadata=ann.metadata)
        ).check_in
        second = (
            await stub.CreateCheckIn(pb.CreateCheckInRequest(center_id=CENTER, queue=QUEUE), metadata=cy.metadata)
        ).check_in
        third = (
            await stub.CreateCheckIn(pb.CreateCheckInRequest(center_id=CENTER, queue=QUEUE), metadata=dee.metadata)
        ).check_in
        assert (first.people_ahead, second.people_ahead, third.people_ahead) == (20, 21, 22)

        cancelled = await stub.CancelCheckIn(
            pb.CancelCheckInRequest(check_in_id=second.check_in_id), metadata=cy.metadata
        )
        assert cancelled.check_in.status == pb.CHECK_IN_STATUS_CANCELLED
        assert (await mine(stub, dee.metadata))[0].people_ahead == 21
        with pytest.raises(grpc.aio.AioRpcError) as not_yours:
            await stub.CancelCheckIn(pb.CancelCheckInRequest(check_in_id=first.check_in_id), metadata=dee.metadata)
        assert not_yours.value.code() == grpc.StatusCode.NOT_FOUND

        # A kiosk "no-show" on a waiting ticket frees its place at once.
        now = datetime.now(UTC)
        await stub.RecordQueueEvents(
            pb.RecordQueueEventsRequest(
                center_id=CENTER, events=[event("ns-B000", K.QUEUE_EVENT_KIND_TICKET_NO_SHOW, now, ticket="B000")]
            ),
            metadata=INTERNAL,
        )
        assert (await mine(stub, dee.metadata))[0].people_ahead == 20

        # Ann is called but never comes: after the grace period she is a no-show and the counter is free.
        await call_next(stub, first.ticket)
        before = (await stub.GetCenterWaitTimes(pb.GetCenterWaitTimesRequest(center_id=CENTER))).queues
        busy_before = next(q for q in before if q.queue == QUEUE).being_served

        async def no_show() -> bool:
            return (await mine(stub, ann.metadata))[0].status == pb.CHECK_IN_STATUS_NO_SHOW

        await eventually(no_show)
        after = (await stub.GetCenterWaitTimes(pb.GetCenterWaitTimesRequest(center_id=CENTER))).queues
        assert next(q for q in after if q.queue == QUEUE).being_served == busy_before - 1


async def test_account_deletion_frees_the_places_forgets_check_ins_and_confirms(
    stub: waittimes_pb2_grpc.WaitTimesServiceStub, people: People, heard: Heard, nats_url: str
) -> None:
    await serving_queue(stub, "x")
    eve = await people.person()
    await stub.CreateCheckIn(pb.CreateCheckInRequest(center_id=CENTER, queue=QUEUE), metadata=eve.metadata)
    waiting = (await stub.GetCenterWaitTimes(pb.GetCenterWaitTimesRequest(center_id=CENTER))).queues
    assert next(q for q in waiting if q.queue == QUEUE).people_waiting == 21

    bus = EventBus(nats_url, service_name="identity")
    await bus.connect()
    try:
        deleted = identity_events.AccountDeleted(account_id=eve.account_id)
        await bus.publish(new_event(IDENTITY_ACCOUNT_DELETED, deleted, source="identity"))
    finally:
        await bus.close()

    def confirmed() -> bool:
        return any(
            identity_events.AccountErased.FromString(d).account_id == eve.account_id
            for d in heard.of(WAITTIMES_ACCOUNT_ERASED)
        )

    await eventually(confirmed)
    after = (await stub.GetCenterWaitTimes(pb.GetCenterWaitTimesRequest(center_id=CENTER))).queues
    assert next(q for q in after if q.queue == QUEUE).people_waiting == 20
    assert await mine(stub, eve.metadata) == []
