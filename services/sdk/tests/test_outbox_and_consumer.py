"""The event bus against a real nats-server and a real database: delivery guarantees end to end."""

from __future__ import annotations

import asyncio
import time

import pytest
from cityhub.catalog.v1 import events_pb2
from cityhub_sdk.bus import EventBus
from cityhub_sdk.consumer import ConsumerSpec, EventConsumer
from cityhub_sdk.db import Database
from cityhub_sdk.events import Event, new_event
from cityhub_sdk.outbox import OutboxRelay, add_event
from cityhub_sdk.tables import DeadLetter, OutboxEvent, ProcessedEvent
from cityhub_sdk.testing import eventually
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

SUBJECT = "cityhub.catalog.service.updated"


class RelayCrashed(RuntimeError):
    pass


async def count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


def spec(durable: str, **overrides: object) -> ConsumerSpec:
    return ConsumerSpec(durable=durable, stream="CATALOG", subjects=[SUBJECT], **overrides)  # type: ignore[arg-type]


async def test_relay_crash_between_publish_and_mark_delivers_once_in_effect(db: Database, bus: EventBus) -> None:
    async with db.transaction() as session:
        staged = add_event(session, SUBJECT, events_pb2.ServiceUpdated(slug="pothole-report"), source="catalog")

    async def crash(_: OutboxEvent) -> None:
        raise RelayCrashed

    with pytest.raises(RelayCrashed):
        await OutboxRelay(db, bus, after_publish=crash).relay_once()
    async with db.session() as session:
        row = await session.get(OutboxEvent, staged.id)
        assert row is not None and row.published_at is None  # the crash left it "unsent"

    assert await OutboxRelay(db, bus).relay_once() == 1  # the restarted relay sends it again
    assert await OutboxRelay(db, bus).relay_once() == 0
    assert (await bus.stream_info("CATALOG")).state.messages == 1  # JetStream dropped the copy

    # A copy outside the de-duplication window (different Nats-Msg-Id, same event id) is dropped
    # by the consumer's processed-event record instead.
    late_copy = Event(**{**staged.__dict__, "headers": {**staged.headers}})
    await bus.js.publish(SUBJECT, late_copy.data, headers={**staged.headers, "Nats-Msg-Id": "late-copy"})

    seen: list[str] = []

    async def handle(_: AsyncSession, event: Event) -> None:
        seen.append(event.decode(events_pb2.ServiceUpdated).slug)

    consumer = EventConsumer(spec("crash-test"), handle, bus=bus, db=db)
    consumer.start()
    try:
        await eventually(lambda: _processed(db, "crash-test", 1))
        await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
    assert seen == ["pothole-report"]
    info = await bus.js.consumer_info("CATALOG", "crash-test")
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def _processed(db: Database, consumer: str, expected: int) -> bool:
    async with db.session() as session:
        rows = await session.exec(select(ProcessedEvent).where(ProcessedEvent.consumer == consumer))
        return len(rows.all()) >= expected


async def test_failing_handler_backs_off_then_dead_letters(db: Database, bus: EventBus) -> None:
    attempts: list[float] = []

    async def always_fails(_: AsyncSession, __: Event) -> None:
        attempts.append(time.monotonic())
        raise ValueError("downstream refused")

    consumer = EventConsumer(spec("poison-test", max_deliver=3, backoff_s=(0.3, 0.6)), always_fails, bus=bus, db=db)
    consumer.start()
    try:
        await bus.publish(new_event(SUBJECT, events_pb2.ServiceUpdated(slug="x"), source="catalog"))
        await eventually(lambda: _dead_lettered(db))
        await asyncio.sleep(1.0)  # nothing more arrives after the term
    finally:
        await consumer.stop()

    assert len(attempts) == 3
    assert attempts[1] - attempts[0] >= 0.25  # first back-off
    assert attempts[2] - attempts[1] >= 0.55  # second, longer back-off
    async with db.session() as session:
        letter = (await session.exec(select(DeadLetter))).one()
    assert letter.consumer == "poison-test" and letter.deliveries == 3
    assert "downstream refused" in letter.error
    assert await count(db, ProcessedEvent) == 0  # the failed side effect was rolled back


async def _dead_lettered(db: Database) -> bool:
    return await count(db, DeadLetter) == 1


async def test_handler_side_effect_and_processed_record_commit_together(db: Database, bus: EventBus) -> None:
    calls = 0

    async def flaky(session: AsyncSession, event: Event) -> None:
        nonlocal calls
        calls += 1
        session.add(OutboxEvent(id=f"effect-{calls}", subject="x", headers="{}", payload=b""))
        if calls == 1:
            raise RuntimeError("fails after writing")

    consumer = EventConsumer(spec("atomic-test", backoff_s=(0.1,)), flaky, bus=bus, db=db)
    consumer.start()
    try:
        await bus.publish(new_event(SUBJECT, events_pb2.ServiceUpdated(slug="y"), source="catalog"))
        await eventually(lambda: _processed(db, "atomic-test", 1))
    finally:
        await consumer.stop()
    async with db.session() as session:
        effects = (await session.exec(select(OutboxEvent.id))).all()
    assert list(effects) == ["effect-2"]  # the first, failed attempt left nothing behind
