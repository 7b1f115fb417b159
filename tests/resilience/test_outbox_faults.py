"""A real catalog process SIGKILLed around its outbox relay's publish: the event still goes out once.

The catalog runs in its own process (tests/resilience/crashing_service.py) and an operator edits a
service over gRPC. The process dies on the relay's first publish, either before it (the edit and
its outbox row are committed, nothing is on NATS) or after JetStream stored the event but before
the row was marked sent. A fresh catalog started on the same database relays what is unsent: the
event reaches the stream exactly once (its Nats-Msg-Id is the event id, so JetStream drops the
second copy) and a durable consumer applies it exactly once. (The relay-level version of the
publish->mark crash, with a copy outside the de-duplication window, is in
services/sdk/tests/test_outbox_and_consumer.py.)
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc, events_pb2
from cityhub.identity.v1 import identity_pb2_grpc
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.seed import seed_catalog
from cityhub_identity.app import DEFINITION as IDENTITY
from cityhub_sdk.app import RunningService
from cityhub_sdk.bus import EventBus
from cityhub_sdk.consumer import ConsumerSpec, EventConsumer
from cityhub_sdk.db import Database
from cityhub_sdk.events import Event
from cityhub_sdk.migrations import upgrade_async
from cityhub_sdk.subjects import CATALOG_SERVICE_UPDATED
from cityhub_sdk.tables import DeadLetter, OutboxEvent, ProcessedEvent, utcnow
from cityhub_sdk.testing import (
    FAST_AUTH_ENV,
    IDENTITY_TEST_ENV,
    TEST_INTERNAL_TOKEN,
    NatsServerProcess,
    People,
    eventually,
    start_service,
)
from cityhub_sdk.testing.plugin import DatabaseFactory
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

pytestmark = pytest.mark.slow

SLUG = "pothole"
PROBE = "resilience-probe"
PLATFORM_TABLES = [OutboxEvent.__table__, ProcessedEvent.__table__, DeadLetter.__table__]  # type: ignore[attr-defined]


@pytest.fixture
async def identity(
    database_factory: DatabaseFactory, nats_server: NatsServerProcess, tmp_path: Path
) -> AsyncIterator[RunningService[Any]]:
    async with start_service(
        IDENTITY,
        database_factory,
        nats_server.url,
        IDENTITY_SIGNING_KEYS_DIR=str(tmp_path / "keys"),
        IDENTITY_PSEUDONYM_SECRET="resilience-pseudonym-secret",
        **IDENTITY_TEST_ENV,
        **FAST_AUTH_ENV,
    ) as service:
        yield service


@pytest.fixture
async def catalog_db(database_factory: DatabaseFactory) -> AsyncIterator[str]:
    """A migrated, seeded catalog database whose seeding events count as sent (they are not the subject)."""
    url = database_factory.new("catalog")
    await upgrade_async(CATALOG.migrations, url)
    db = Database(url)
    try:
        await seed_catalog(db)
        async with db.engine.begin() as connection:
            await connection.execute(sa.update(OutboxEvent.__table__).values(published_at=utcnow()))  # type: ignore[attr-defined]
    finally:
        await db.dispose()
    yield url


class Probe:
    """A durable consumer of catalog.service.updated in its own database; records each application."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self.bus = bus
        self.applied: list[tuple[str, str]] = []
        spec = ConsumerSpec(durable=PROBE, stream="CATALOG", subjects=[CATALOG_SERVICE_UPDATED], ack_wait_s=2.0)
        self.consumer = EventConsumer(spec, self._handle, bus=bus, db=db)

    async def _handle(self, _: AsyncSession, event: Event) -> None:
        self.applied.append((event.id, event.decode(events_pb2.ServiceUpdated).slug))

    async def settled(self) -> bool:
        info = await self.bus.js.consumer_info("CATALOG", PROBE)
        return bool(info.num_pending == 0 and info.num_ack_pending == 0 and info.delivered.stream_seq > 0)


@pytest.fixture
async def probe(database_factory: DatabaseFactory, nats_server: NatsServerProcess) -> AsyncIterator[Probe]:
    db = Database(database_factory.new("probe"))
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: SQLModel.metadata.create_all(sync, tables=PLATFORM_TABLES))
    bus = EventBus(nats_server.url, service_name="resilience-probe")
    await bus.connect()
    probe = Probe(db, bus)
    probe.consumer.start()
    yield probe
    await probe.consumer.stop()
    await bus.close()
    await db.dispose()


async def unsent(url: str) -> list[OutboxEvent]:
    db = Database(url)
    try:
        async with db.session() as session:
            return list((await session.exec(select(OutboxEvent).where(col(OutboxEvent.published_at).is_(None)))).all())
    finally:
        await db.dispose()


@pytest.mark.timeout(600)  # generous: two process start-ups on a busy machine
@pytest.mark.parametrize(("crash_at", "on_stream_after_crash"), [("before-publish", 0), ("after-publish", 1)])
async def test_catalog_killed_around_publish_sends_the_event_once(
    crash_at: str,
    on_stream_after_crash: int,
    identity: RunningService[Any],
    catalog_db: str,
    probe: Probe,
    nats_server: NatsServerProcess,
    spawn: Any,
) -> None:
    async with grpc.aio.insecure_channel(identity.address) as channel:
        operator = await People(identity_pb2_grpc.IdentityServiceStub(channel)).person("operator")
    env = {
        "DATABASE_URL": catalog_db,
        "NATS_URL": nats_server.url,
        "GRPC_HOST": "127.0.0.1",
        "GRPC_PORT": "0",
        "IDENTITY_ADDR": identity.address,
        "INTERNAL_API_TOKEN": TEST_INTERNAL_TOKEN,
        "AUTH_REVOCATION_TTL_S": "0",
        "LOG_JSON": "false",
    }
    crashing = await spawn("crashing_service.py", "cityhub_catalog.app", "--at", crash_at, env=env)
    address = await crashing.wait_for_line("READY")
    summary = f"Changed {uuid.uuid4().hex[:8]}"
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            await catalog_pb2_grpc.CatalogServiceStub(channel).UpdateService(
                catalog_pb2.UpdateServiceRequest(slug=SLUG, summary={"en": summary}), metadata=operator.metadata
            )
        except grpc.aio.AioRpcError as error:  # the process may die before it answers
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
    assert await crashing.wait_exit() == -9, crashing.log()

    # The edit and its events were committed together; the relay never marked one of them sent.
    staged = await unsent(catalog_db)
    (updated,) = [row for row in staged if row.subject == CATALOG_SERVICE_UPDATED]
    assert all(row.attempts == 0 for row in staged)
    assert await on_stream(probe.bus) == on_stream_after_crash

    async with start_service(
        CATALOG, catalog_db, nats_server.url, IDENTITY_ADDR=identity.address, **FAST_AUTH_ENV
    ) as catalog:
        await eventually(lambda: _all_sent(catalog_db), 60)
        await eventually(probe.settled, 60)
        async with grpc.aio.insecure_channel(catalog.address) as channel:
            found = await catalog_pb2_grpc.CatalogServiceStub(channel).GetService(
                catalog_pb2.GetServiceRequest(slug=SLUG)
            )
        assert found.service.summary == summary  # the business change survived the crash

    assert await on_stream(probe.bus) == len(staged)  # each event published once in effect
    assert await on_stream(probe.bus, CATALOG_SERVICE_UPDATED) == 1
    assert probe.applied == [(updated.id, SLUG)]  # and consumed once


async def on_stream(bus: EventBus, subject: str | None = None) -> int:
    """Messages in the CATALOG stream (on `subject` only, if given)."""
    if subject is None:
        return int((await bus.js.stream_info("CATALOG")).state.messages)
    state = (await bus.js.stream_info("CATALOG", subjects_filter=subject)).state
    return int((state.subjects or {}).get(subject, 0))


async def _all_sent(url: str) -> bool:
    return not await unsent(url)
