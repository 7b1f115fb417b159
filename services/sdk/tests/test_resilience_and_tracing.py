"""Consumers survive a NATS restart; one trace spans publish and consume."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cityhub.catalog.v1 import events_pb2
from cityhub_sdk.bus import EventBus
from cityhub_sdk.consumer import ConsumerSpec, EventConsumer
from cityhub_sdk.db import Database
from cityhub_sdk.events import Event, new_event
from cityhub_sdk.outbox import OutboxRelay, add_event
from cityhub_sdk.testing import NatsServerProcess, eventually
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlmodel.ext.asyncio.session import AsyncSession

SUBJECT = "cityhub.catalog.service.updated"


async def test_consumer_keeps_receiving_after_nats_server_restart(db: Database, tmp_path: Path) -> None:
    # This test owns its server: it must stop and start it, so it never uses a shared one.
    server = NatsServerProcess(store_dir=tmp_path / "jetstream")
    server.start()
    bus = EventBus(server.url, service_name="restart-test")
    received: list[str] = []

    async def handle(_: AsyncSession, event: Event) -> None:
        received.append(event.decode(events_pb2.ServiceUpdated).slug)

    consumer = EventConsumer(
        ConsumerSpec(durable="restart-test", stream="CATALOG", subjects=[SUBJECT], fetch_timeout_s=0.5),
        handle,
        bus=bus,
        db=db,
    )
    try:
        await bus.connect()
        consumer.start()
        await bus.publish(new_event(SUBJECT, events_pb2.ServiceUpdated(slug="before"), source="catalog"))
        await eventually(lambda: received == ["before"])

        server.stop()
        await asyncio.sleep(1.0)
        server.start()  # same port, same JetStream store
        await eventually(lambda: bus.is_connected, timeout_s=20)

        await bus.publish(new_event(SUBJECT, events_pb2.ServiceUpdated(slug="after"), source="catalog"))
        await eventually(lambda: received == ["before", "after"], timeout_s=30)
    finally:
        await consumer.stop()
        await bus.close()
        server.stop()


async def test_trace_context_crosses_outbox_publish_and_consume(
    db: Database, bus: EventBus, span_exporter: InMemorySpanExporter
) -> None:
    tracer = trace.get_tracer("tests")
    seen_trace_ids: list[int] = []

    async def handle(_: AsyncSession, __: Event) -> None:
        seen_trace_ids.append(trace.get_current_span().get_span_context().trace_id)

    with tracer.start_as_current_span("POST /v1/incidents") as request_span:
        async with db.transaction() as session:
            add_event(session, SUBJECT, events_pb2.ServiceUpdated(slug="traced"), source="catalog")
    request_trace = request_span.get_span_context().trace_id

    await OutboxRelay(db, bus).relay_once()  # outside the request: context comes from the stored row
    consumer = EventConsumer(
        ConsumerSpec(durable="trace-test", stream="CATALOG", subjects=[SUBJECT]), handle, bus=bus, db=db
    )
    consumer.start()
    try:
        await eventually(lambda: len(seen_trace_ids) == 1)
    finally:
        await consumer.stop()

    assert seen_trace_ids == [request_trace]
    spans = [s for s in span_exporter.get_finished_spans() if s.context.trace_id == request_trace]
    kinds = {s.kind for s in spans}
    assert {SpanKind.PRODUCER, SpanKind.CONSUMER} <= kinds
    producer = next(s for s in spans if s.kind == SpanKind.PRODUCER)
    consumer_span = next(s for s in spans if s.kind == SpanKind.CONSUMER)
    assert consumer_span.parent is not None and consumer_span.parent.span_id == producer.context.span_id
