"""NATS killed for 5 s while 2,000 events go through the outbox: all delivered, once in effect.

A private nats-server (its own port and JetStream store) is SIGKILLed while a producer keeps
committing events to the outbox, and restarted on the same port and store 5 s later. The relay
keeps the rows (a transport failure charges no attempt), the bus retries a publish with the same
Nats-Msg-Id (JetStream keeps one copy), and the durable consumer re-subscribes after the reconnect
and goes on receiving new events afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cityhub.catalog.v1 import events_pb2
from cityhub_sdk.bus import EventBus
from cityhub_sdk.consumer import ConsumerSpec, EventConsumer
from cityhub_sdk.db import Database
from cityhub_sdk.events import Event
from cityhub_sdk.outbox import OutboxRelay, add_event
from cityhub_sdk.subjects import CATALOG_SERVICE_UPDATED
from cityhub_sdk.tables import DeadLetter, OutboxEvent, ProcessedEvent
from cityhub_sdk.testing import NatsServerProcess, eventually
from sqlmodel import SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

pytestmark = pytest.mark.slow

EVENTS = 2000
PER_TRANSACTION = 10
OUTAGE_S = 5.0
DURABLE = "resilience-outage"
PLATFORM_TABLES = [OutboxEvent.__table__, ProcessedEvent.__table__, DeadLetter.__table__]  # type: ignore[attr-defined]


class PublishSpy:
    """Counts nats' JetStream publish calls per Nats-Msg-Id (a pass-through: nothing is changed)."""

    def __init__(self, bus: EventBus) -> None:
        self.calls: Counter[str] = Counter()
        js = bus.js
        publish = js.publish

        async def counted(subject: str, payload: bytes = b"", **kwargs: Any) -> Any:
            self.calls[(kwargs.get("headers") or {}).get("Nats-Msg-Id", "")] += 1
            return await publish(subject, payload, **kwargs)

        js.publish = counted  # type: ignore[method-assign,assignment]


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[str]:
    db = Database(database_url)
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: SQLModel.metadata.create_all(sync, tables=PLATFORM_TABLES))
    await db.dispose()
    yield database_url


async def produce(db: Database, first: int, count: int, *, pause_s: float) -> None:
    """`count` events, `PER_TRANSACTION` per committed transaction, with a pause between them."""
    for start in range(first, first + count, PER_TRANSACTION):
        async with db.transaction() as session:
            for number in range(start, start + PER_TRANSACTION):
                add_event(
                    session, CATALOG_SERVICE_UPDATED, events_pb2.ServiceUpdated(slug=f"e{number}"), source="catalog"
                )
        await asyncio.sleep(pause_s)


async def count_rows(db: Database, model: Any, *where: Any) -> int:
    async with db.session() as session:
        return int((await session.exec(select(func.count()).select_from(model).where(*where))).one())


@pytest.mark.timeout(600)
async def test_nats_outage_during_2000_events_loses_and_duplicates_nothing(
    nats_server: NatsServerProcess, database: str
) -> None:
    producer_db, consumer_db = Database(database), Database(database)
    producer_bus = EventBus(nats_server.url, service_name="resilience-producer")
    consumer_bus = EventBus(nats_server.url, service_name="resilience-consumer")
    await producer_bus.connect()
    await consumer_bus.connect()
    spy = PublishSpy(producer_bus)
    relay = OutboxRelay(producer_db, producer_bus, poll_interval_s=0.5)
    applied: Counter[str] = Counter()

    async def handle(_: AsyncSession, event: Event) -> None:
        applied[event.decode(events_pb2.ServiceUpdated).slug] += 1

    spec = ConsumerSpec(durable=DURABLE, stream="CATALOG", subjects=[CATALOG_SERVICE_UPDATED], batch=100)
    consumer = EventConsumer(spec, handle, bus=consumer_bus, db=consumer_db)
    await relay.start()
    consumer.start()
    try:
        quarter = EVENTS // 4
        await produce(producer_db, 0, quarter, pause_s=0.01)
        await eventually(lambda: len(applied) > 0, 60)  # events flow before the outage

        assert nats_server.process is not None
        nats_server.process.kill()  # the server dies; its JetStream store stays on disk
        nats_server.process.wait()
        stopped = time.monotonic()
        await produce(producer_db, quarter, EVENTS // 2, pause_s=0.03)  # committed while NATS is down
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))
        await asyncio.to_thread(nats_server.start)  # same port, same store directory
        await produce(producer_db, quarter + EVENTS // 2, EVENTS - quarter - EVENTS // 2, pause_s=0.01)

        try:
            await eventually(lambda: len(applied) >= EVENTS, 300)  # generous: 2,000 transactions on a busy machine
        except AssertionError:
            raise AssertionError(await _progress(producer_db, consumer_bus, len(applied))) from None
        await eventually(lambda: _settled(consumer_bus), 30)
        assert await count_rows(producer_db, OutboxEvent, col(OutboxEvent.published_at).is_(None)) == 0
        assert (await producer_bus.stream_info("CATALOG")).state.messages == EVENTS  # no copy stored twice
        assert max(spy.calls.values()) > 1, "no publish was retried: the outage did not hit the relay"
        assert sorted(applied) == sorted(f"e{n}" for n in range(EVENTS))
        assert set(applied.values()) == {1}  # none applied twice
        assert await count_rows(consumer_db, ProcessedEvent) == EVENTS
        assert await count_rows(producer_db, DeadLetter) == 0  # the outage dead-lettered nothing

        await produce(producer_db, EVENTS, PER_TRANSACTION, pause_s=0)  # the consumer is not stuck
        await eventually(lambda: len(applied) == EVENTS + PER_TRANSACTION, 30)
    finally:
        await consumer.stop()
        await relay.stop()
        await consumer_bus.close()
        await producer_bus.close()
        await producer_db.dispose()
        await consumer_db.dispose()


async def _progress(db: Database, bus: EventBus, applied: int) -> str:
    """Where the events are, for a failure message."""
    unsent = await count_rows(db, OutboxEvent, col(OutboxEvent.published_at).is_(None))
    stored = (await bus.stream_info("CATALOG")).state.messages
    info = await bus.js.consumer_info("CATALOG", DURABLE)
    return f"applied {applied}, unsent {unsent}, stored {stored}, consumer {info.delivered} {info.ack_floor}"


async def _settled(bus: EventBus) -> bool:
    info = await bus.js.consumer_info("CATALOG", DURABLE)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)
