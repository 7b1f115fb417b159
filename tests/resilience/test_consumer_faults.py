"""A consumer process SIGKILLed in the middle of an event: applied exactly once after it restarts.

Killed before its transaction commits, the effect is rolled back and the unacknowledged message
is redelivered after `ack_wait` and applied then (the ack comes only after the commit). Killed
after the commit but before the ack, the redelivered copy is recognised by the processed-event
record committed with the effect and acknowledged without running the handler again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cityhub.catalog.v1 import events_pb2
from cityhub_sdk.bus import EventBus
from cityhub_sdk.db import Database
from cityhub_sdk.events import new_event
from cityhub_sdk.subjects import CATALOG_SERVICE_UPDATED
from cityhub_sdk.testing import NatsServerProcess, eventually

pytestmark = pytest.mark.slow

SLUGS = ["first", "second", "third"]
CRASH_ON = "second"
DURABLE = "resilience-consumer"


@pytest.fixture
async def bus(nats_server: NatsServerProcess) -> AsyncIterator[EventBus]:
    event_bus = EventBus(nats_server.url, service_name="resilience-tests")
    await event_bus.connect()
    yield event_bus
    await event_bus.close()


async def effects(database_url: str) -> list[str]:
    """The slugs the handler applied, one entry per application, in order."""
    db = Database(database_url)
    try:
        async with db.engine.connect() as connection:
            rows = await connection.execute(sa.text("SELECT slug FROM resilience_effects ORDER BY id"))
            return [str(slug) for (slug,) in rows.all()]
    finally:
        await db.dispose()


async def settled(bus: EventBus) -> bool:
    """Every message delivered and acknowledged: nothing pending, nothing waiting for an ack."""
    info = await bus.js.consumer_info("CATALOG", DURABLE)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


@pytest.mark.timeout(600)  # generous: two process start-ups on a busy machine
# "after-commit" (killed between commit and ack, where the processed-event record must stop a second
# application) is supported by crashing_consumer.py but not run: it has not yet been shown to fail
# when that record is removed, so it would prove nothing.
@pytest.mark.parametrize("crash_at", ["before-commit"])
async def test_consumer_killed_mid_event_applies_it_exactly_once(
    crash_at: str, bus: EventBus, nats_server: NatsServerProcess, database_url: str, spawn: Any, tmp_path: Path
) -> None:
    for slug in SLUGS:
        await bus.publish(new_event(CATALOG_SERVICE_UPDATED, events_pb2.ServiceUpdated(slug=slug), source="catalog"))
    args = [database_url, nats_server.url, DURABLE, "--crash-on", CRASH_ON, "--at", crash_at]
    args += ["--marker", str(tmp_path / "crashed")]

    crashing = await spawn("crashing_consumer.py", *args)
    assert await crashing.wait_exit() == -9, crashing.log()  # SIGKILLed at the chosen point
    applied = await effects(database_url)
    if crash_at == "before-commit":
        assert applied == ["first"], "the effect of the uncommitted transaction must be rolled back"
    else:
        assert applied == ["first", "second"]
    info = await bus.js.consumer_info("CATALOG", DURABLE)
    assert info.num_ack_pending >= 1, "the event being handled was never acknowledged"

    restarted = await spawn("crashing_consumer.py", *args)
    await restarted.wait_for_line("READY")
    await eventually(lambda: settled(bus), 30)
    assert await restarted.terminate() == 0, restarted.log()

    assert sorted(await effects(database_url)) == sorted(SLUGS)  # each event applied once: none lost, none twice
    info = await bus.js.consumer_info("CATALOG", DURABLE)
    assert info.delivered.consumer_seq > len(SLUGS)  # the interrupted event was delivered again
