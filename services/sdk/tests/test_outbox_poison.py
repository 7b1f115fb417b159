"""Poison on the event path, against a real nats-server and a real database.

A row the bus refuses is retried with back-off, its error recorded, and the rows after it go out in
the same relay round; after `max_attempts` it becomes a dead letter and is counted. A consumed
message that cannot be decoded is terminated on its first delivery instead of being redelivered.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cityhub.catalog.v1 import events_pb2
from cityhub_sdk.bus import EventBus
from cityhub_sdk.consumer import ConsumerSpec, EventConsumer
from cityhub_sdk.db import Database
from cityhub_sdk.event_metrics import METER_NAME
from cityhub_sdk.events import Event, new_event
from cityhub_sdk.outbox import DEAD_LETTER_CONSUMER, OutboxRelay, add_event
from cityhub_sdk.subjects import CATALOG_SERVICE_UPDATED
from cityhub_sdk.tables import DeadLetter, OutboxEvent, ProcessedEvent
from cityhub_sdk.telemetry import configure_telemetry
from cityhub_sdk.testing import eventually
from cityhub_sdk.timestamps import utc
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

UNROUTED = "unrouted.outbox.test"  # no stream captures it: JetStream answers "no responders"


@pytest.fixture
def metric_reader() -> Iterator[InMemoryMetricReader]:
    """Sees what the process measures from now on (added to the one process-wide meter provider)."""
    reader = InMemoryMetricReader()
    configure_telemetry("sdk-tests", metric_reader=reader)
    yield reader
    provider = metrics.get_meter_provider()
    assert isinstance(provider, MeterProvider)
    provider.remove_metric_reader(reader)


def measured(reader: InMemoryMetricReader, name: str, **attributes: str) -> float:
    """The value of one instrument's point with exactly these attributes (0 when never recorded)."""
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            if scope.scope.name != METER_NAME:
                continue
            for metric in scope.metrics:
                if metric.name != name:
                    continue
                for point in metric.data.data_points:
                    if dict(point.attributes or {}) == attributes:
                        return float(point.value)  # type: ignore[union-attr]
    return 0.0


class Clock:
    """The relay's notion of now, moved by the test instead of waiting out a back-off."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


async def stage(db: Database, subject: str, slug: str) -> Event:
    async with db.transaction() as session:
        return add_event(session, subject, events_pb2.ServiceUpdated(slug=slug), source="catalog")


async def outbox_row(db: Database, event_id: str) -> OutboxEvent | None:
    async with db.session() as session:
        return await session.get(OutboxEvent, event_id)


async def dead_letters(db: Database, consumer: str) -> list[DeadLetter]:
    async with db.session() as session:
        return list((await session.exec(select(DeadLetter).where(DeadLetter.consumer == consumer))).all())


async def test_poisoned_row_does_not_hold_back_a_later_event(db: Database, bus: EventBus) -> None:
    poisoned = await stage(db, UNROUTED, "lost-in-transit")
    good = await stage(db, CATALOG_SERVICE_UPDATED, "pothole-report")
    assert poisoned.time < good.time  # the poisoned row is first in line

    relay = OutboxRelay(db, bus, clock=Clock())
    assert await relay.run_once() == 2  # one round handles both rows

    sent = await outbox_row(db, good.id)
    assert sent is not None and sent.published_at is not None and sent.attempts == 1
    stuck = await outbox_row(db, poisoned.id)
    assert stuck is not None and stuck.published_at is None
    assert stuck.attempts == 1 and stuck.next_attempt_at is not None
    assert stuck.last_error is not None and stuck.last_error.startswith("NoStreamResponseError")
    assert "lost-in-transit" not in stuck.last_error  # the error, never the payload
    assert (await bus.stream_info("CATALOG")).state.messages == 1
    assert await relay.run_once() == 0  # the poisoned row waits for its back-off

    seen: list[str] = []

    async def handle(_: AsyncSession, event: Event) -> None:
        seen.append(event.decode(events_pb2.ServiceUpdated).slug)

    consumer = EventConsumer(
        ConsumerSpec(durable="after-poison", stream="CATALOG", subjects=[CATALOG_SERVICE_UPDATED]),
        handle,
        bus=bus,
        db=db,
    )
    consumer.start()
    try:
        await eventually(lambda: bool(seen))
    finally:
        await consumer.stop()
    assert seen == ["pothole-report"]


async def test_row_backs_off_exponentially_then_becomes_a_counted_dead_letter(
    db: Database, bus: EventBus, metric_reader: InMemoryMetricReader
) -> None:
    before = measured(metric_reader, "outbox_dead_letters_total", subject=UNROUTED)
    poisoned = await stage(db, UNROUTED, "never-delivered")
    clock = Clock()
    relay = OutboxRelay(db, bus, max_attempts=3, backoff_base_s=2.0, backlog_interval_s=0, clock=clock)

    schedule: list[timedelta] = []
    for attempt in (1, 2):
        assert await relay.run_once() == 1
        row = await outbox_row(db, poisoned.id)
        assert row is not None and row.attempts == attempt and row.next_attempt_at is not None
        schedule.append(utc(row.next_attempt_at) - clock.now)
        assert await relay.run_once() == 0  # not due yet: nothing is tried during the back-off
        clock.advance(schedule[-1])
    assert schedule == [timedelta(seconds=2), timedelta(seconds=4)]  # exponential

    assert await relay.run_once() == 1  # the third and last attempt
    assert await outbox_row(db, poisoned.id) is None  # moved out of the outbox
    (letter,) = await dead_letters(db, DEAD_LETTER_CONSUMER)
    assert letter.event_id == poisoned.id and letter.subject == UNROUTED
    assert letter.deliveries == 3 and letter.error.startswith("NoStreamResponseError")
    assert letter.payload == poisoned.data  # kept for an operator to stage again
    assert measured(metric_reader, "outbox_dead_letters_total", subject=UNROUTED) == before + 1
    assert measured(metric_reader, "outbox_backlog", service="sdk-tests") == 0
    assert await relay.run_once() == 0


async def test_a_bus_outage_charges_no_attempt(db: Database, bus: EventBus) -> None:
    staged = await stage(db, CATALOG_SERVICE_UPDATED, "waiting-for-nats")
    await bus.close()
    assert await OutboxRelay(db, bus, max_attempts=1).run_once() == 0
    row = await outbox_row(db, staged.id)
    assert row is not None and row.attempts == 0 and row.next_attempt_at is None  # not a dead letter
    assert await dead_letters(db, DEAD_LETTER_CONSUMER) == []


async def test_undecodable_messages_are_terminated_on_first_delivery(
    db: Database, bus: EventBus, metric_reader: InMemoryMetricReader
) -> None:
    before = measured(
        metric_reader,
        "consumer_dead_letters_total",
        consumer="decode-test",
        subject=CATALOG_SERVICE_UPDATED,
        reason="undecodable",
    )
    calls: list[str] = []

    async def handle(_: AsyncSession, event: Event) -> None:
        calls.append(event.id)
        event.decode(events_pb2.ServiceUpdated)

    # Redelivery would be quick and the dead letter would come only at the third delivery, if decode
    # failures were treated like other failures.
    spec = ConsumerSpec(
        durable="decode-test", stream="CATALOG", subjects=[CATALOG_SERVICE_UPDATED], max_deliver=3, backoff_s=(0.1,)
    )
    consumer = EventConsumer(spec, handle, bus=bus, db=db)
    consumer.start()
    try:
        wrong = new_event(CATALOG_SERVICE_UPDATED, events_pb2.ServiceUpdated(slug="x"), source="catalog")
        wrong_schema = {**wrong.headers, "ce-dataschema": "cityhub.catalog.v1.SomethingElse"}
        await bus.js.publish(CATALOG_SERVICE_UPDATED, wrong.data, headers=wrong_schema)  # handler cannot decode it
        await bus.js.publish(CATALOG_SERVICE_UPDATED, b"\x00", headers={"Nats-Msg-Id": "headerless"})  # no ce-id
        good = new_event(CATALOG_SERVICE_UPDATED, events_pb2.ServiceUpdated(slug="fine"), source="catalog")
        await bus.publish(good)

        async def settled() -> bool:
            info = await bus.js.consumer_info("CATALOG", "decode-test")
            letters = await dead_letters(db, "decode-test")
            return len(letters) == 2 and info.num_ack_pending == 0 and info.num_pending == 0

        await eventually(settled)
    finally:
        await consumer.stop()

    letters = sorted(await dead_letters(db, "decode-test"), key=lambda letter: letter.event_id)
    assert [letter.event_id for letter in letters] == ["", wrong.id]
    assert all(letter.deliveries == 1 and letter.error.startswith("EventDecodeError") for letter in letters)
    assert calls == [wrong.id, good.id]  # the headerless one never reached the handler; nothing came twice
    info = await bus.js.consumer_info("CATALOG", "decode-test")
    assert info.num_redelivered == 0
    async with db.session() as session:
        processed = (await session.exec(select(col(ProcessedEvent.event_id)))).all()
    assert list(processed) == [good.id]
    after = measured(
        metric_reader,
        "consumer_dead_letters_total",
        consumer="decode-test",
        subject=CATALOG_SERVICE_UPDATED,
        reason="undecodable",
    )
    assert after == before + 2
