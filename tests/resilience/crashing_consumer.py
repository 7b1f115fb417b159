"""An SDK EventConsumer in a process of its own that can SIGKILL itself at an exact point.

    python crashing_consumer.py DATABASE_URL NATS_URL DURABLE --crash-on SLUG --at before-commit|after-commit --marker PATH

The handler applies a deliberately non-idempotent effect (a new `resilience_effects` row per call),
so applying an event twice shows as two rows. When it handles `SLUG` and `PATH` does not exist yet,
it creates `PATH` and kills itself with SIGKILL (no clean-up runs, as in an OOM kill):
`before-commit` right after the effect is written inside the consumer's transaction, `after-commit`
right after that transaction committed, before the message is acknowledged. Started again with the
same arguments it does not crash (the marker exists). SIGTERM stops it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

import sqlalchemy as sa
from cityhub.catalog.v1 import events_pb2
from cityhub_sdk.bus import EventBus
from cityhub_sdk.consumer import ConsumerSpec, EventConsumer
from cityhub_sdk.db import Database
from cityhub_sdk.events import Event
from cityhub_sdk.subjects import CATALOG_SERVICE_UPDATED
from cityhub_sdk.tables import DeadLetter, OutboxEvent, ProcessedEvent
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

EFFECTS = sa.Table(
    "resilience_effects",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("slug", sa.String(64), nullable=False),
)
PLATFORM_TABLES = [OutboxEvent.__table__, ProcessedEvent.__table__, DeadLetter.__table__]  # type: ignore[attr-defined]


def first_time(marker: Path) -> bool:
    """True the first time it is asked (across restarts): the crash happens once."""
    if marker.exists():
        return False
    marker.touch()
    return True


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def main(args: argparse.Namespace) -> None:
    db = Database(args.database_url)
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: SQLModel.metadata.create_all(sync, tables=PLATFORM_TABLES))
        await connection.run_sync(lambda sync: EFFECTS.create(sync, checkfirst=True))
    marker = Path(args.marker)
    armed = False

    def crash_after_commit() -> None:  # Database.on_commit: runs once the transaction has committed
        if armed:
            die()

    if args.at == "after-commit":
        db.on_commit(crash_after_commit)

    async def handle(session: AsyncSession, event: Event) -> None:
        nonlocal armed
        slug = event.decode(events_pb2.ServiceUpdated).slug
        await (await session.connection()).execute(EFFECTS.insert().values(event_id=event.id, slug=slug))
        print(f"APPLIED {slug}", flush=True)
        if slug == args.crash_on and first_time(marker):
            if args.at == "before-commit":
                await session.flush()  # the effect is written, in a transaction that never commits
                die()
            armed = True

    bus = EventBus(args.nats_url, service_name="resilience-consumer")
    await bus.connect()
    spec = ConsumerSpec(
        durable=args.durable,
        stream="CATALOG",
        subjects=[CATALOG_SERVICE_UPDATED],
        ack_wait_s=args.ack_wait_s,
        backoff_s=(0.2,),
    )
    consumer = EventConsumer(spec, handle, bus=bus, db=db)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    consumer.start()
    print("READY", flush=True)
    await stop.wait()
    await consumer.stop()
    await bus.close()
    await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("nats_url")
    parser.add_argument("durable")
    parser.add_argument("--crash-on", required=True)
    parser.add_argument("--at", choices=["before-commit", "after-commit"], required=True)
    parser.add_argument("--marker", required=True)
    parser.add_argument("--ack-wait-s", type=float, default=2.0)
    asyncio.run(main(parser.parse_args()))
