"""Notifications fan-out: one alert over an area with 100,000 subscribed residents.

Inserts 100,000 area subscriptions (3 res-9 cells each, spread over the alert's res-7 cells, every
resident with a language preference), starts the real notifications service in-process on a real
NATS, publishes one AlertPublished on the bus and measures the time until 100,000 inbox rows exist
(consumer + set-based INSERT ... SELECT + commit). Also reports the share of notifications handed
to a channel (the inbox) within 10 s of the event, the GOV.UK Notify-style figure.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import h3
import sqlalchemy as sa
from cityhub.incidents.v1 import events_pb2 as incidents
from cityhub_notifications.app import DEFINITION
from cityhub_notifications.service import NotificationsService
from cityhub_sdk.app import running
from cityhub_sdk.bus import EventBus
from cityhub_sdk.db import Database, is_sqlite
from cityhub_sdk.events import new_event
from cityhub_sdk.migrations import upgrade_async
from cityhub_sdk.testing import NatsServerProcess, free_port, service_settings
from cityhub_sdk.testing.infra import _create_database, _drop_database
from sqlalchemy.engine import make_url

CENTRE = (47.6062, -122.3321)
LANGUAGES = ("en", "en", "en", "zh-Hant", "vi", "ja", "fa")
BENCH_DB = "cityhub_bench_notifications"
TARGET = 5000.0


def alert_cells() -> list[str]:
    return sorted(h3.grid_disk(h3.latlng_to_cell(*CENTRE, 7), 1))  # 7 res-7 cells, about 36 km²


async def populate(db: Database, residents: int) -> None:
    fine = [c for r7 in alert_cells() for c in h3.cell_to_children(r7, 9)]
    rng = random.Random(7)
    subs, cells, prefs = [], [], []
    for index in range(residents):
        account = f"acc-{index:06d}"
        sub_id = f"s{index:031d}"
        base = rng.choice(fine)
        covering = [base, *rng.sample(list(h3.grid_ring(base, 1)), 2)]
        subs.append(
            {
                "id": sub_id,
                "account_id": account,
                "kind": "area",
                "key": f"area:p{index}",
                "place_id": f"p{index}",
                "radius_m": 100,
                "cell_count": 3,
            }
        )
        for cell in covering:
            cells.append(
                {
                    "subscription_id": sub_id,
                    "cell": h3.str_to_int(cell),
                    "cell_r7": h3.str_to_int(h3.cell_to_parent(cell, 7)),
                    "account_id": account,
                }
            )
        prefs.append(
            {
                "account_id": account,
                "channels": "[]",
                "time_zone": "America/Los_Angeles",
                "max_per_hour": 10,
                "language": rng.choice(LANGUAGES),
            }
        )
    now = sa.func.now() if not db.is_sqlite else sa.text("CURRENT_TIMESTAMP")
    meta = sa.MetaData()
    subscriptions = sa.Table(
        "subscriptions",
        meta,
        *[
            sa.Column(n)
            for n in ("id", "account_id", "kind", "key", "place_id", "radius_m", "cell_count", "created_at")
        ],
    )
    area_cells = sa.Table(
        "area_cells", meta, *[sa.Column(n) for n in ("subscription_id", "cell", "cell_r7", "account_id")]
    )
    preferences = sa.Table(
        "preferences",
        meta,
        *[
            sa.Column(n)
            for n in (
                "account_id",
                "channels",
                "quiet_start",
                "quiet_end",
                "time_zone",
                "max_per_hour",
                "language",
                "updated_at",
            )
        ],
    )
    async with db.engine.begin() as connection:
        for table, rows in ((subscriptions, subs), (area_cells, cells), (preferences, prefs)):
            for start in range(0, len(rows), 20_000):
                chunk = rows[start : start + 20_000]
                if table is subscriptions:
                    await connection.execute(table.insert().values(created_at=now), chunk)
                elif table is preferences:
                    await connection.execute(table.insert().values(updated_at=now, quiet_start="", quiet_end=""), chunk)
                else:
                    await connection.execute(table.insert(), chunk)


async def count(db: Database) -> int:
    async with db.engine.connect() as connection:
        return int((await connection.execute(sa.text("SELECT count(*) FROM notifications"))).scalar_one())


async def measure(url: str, nats_url: str, residents: int) -> dict[str, Any]:
    await upgrade_async(DEFINITION.migrations, url)
    db = Database(url)
    try:
        started = time.monotonic()
        await populate(db, residents)
        populate_s = time.monotonic() - started
        settings = service_settings(DEFINITION.settings_type, database_url=url, nats_url=nats_url, LOG_LEVEL="WARNING")
        async with running(DEFINITION, settings):
            bus = EventBus(nats_url, service_name="bench-incidents")
            await bus.connect()
            alert = incidents.Alert(
                alert_id="bench-1",
                department="utilities",
                kind="water",
                severity="urgent",
                center_lat=CENTRE[0],
                center_lon=CENTRE[1],
                radius_m=3000,
                h3_cells_r7=alert_cells(),
                title={"en": "Boil water notice", "vi": "Thông báo đun sôi nước"},
                body={"en": "Boil tap water before drinking.", "vi": "Hãy đun sôi nước máy trước khi uống."},
            )
            published = time.monotonic()
            await bus.publish(
                new_event(
                    "cityhub.incidents.alert.published", incidents.AlertPublished(alert=alert), source="incidents"
                )
            )
            while await count(db) < residents:  # noqa: ASYNC110 - polling the database is the measurement
                await asyncio.sleep(0.05)
            elapsed = time.monotonic() - published
            await bus.close()
        stats = await NotificationsService(db, settings, directory=None).delivery_stats()  # type: ignore[arg-type]
    finally:
        await db.dispose()
    return {"elapsed_s": elapsed, "rate": residents / elapsed, "populate_s": populate_s, "stats": stats}


async def run(options: Any) -> str:
    residents = 10_000 if options.quick else 100_000
    nats: NatsServerProcess | None = None
    nats_url = options.nats_url
    if not nats_url:
        nats = NatsServerProcess(port=free_port())
        nats.start()
        nats_url = nats.url
    rows = []
    try:
        for label, base_url in options.database_urls.items():
            if is_sqlite(base_url):
                path = options.work_dir / "notifications_fanout.db"
                for suffix in ("", "-wal", "-shm"):
                    path.with_name(path.name + suffix).unlink(missing_ok=True)
                url = f"sqlite+aiosqlite:///{path}"
            else:
                try:
                    await _drop_database(base_url, BENCH_DB)
                    await _create_database(base_url, BENCH_DB)
                except Exception as exc:  # noqa: BLE001 - PostgreSQL is optional for the bench
                    rows.append(f"| {label} | skipped ({type(exc).__name__}) | | | |")
                    continue
                url = make_url(base_url).set(database=BENCH_DB).render_as_string(hide_password=False)
            try:
                result = await measure(url, nats_url, residents)
            finally:
                if not is_sqlite(base_url):
                    await _drop_database(base_url, BENCH_DB)
            stats = result["stats"]
            share = stats["within"] / stats["notifications"] if stats["notifications"] else 0.0
            verdict = "meets" if result["rate"] >= TARGET else "below"
            rows.append(
                f"| {label} | {residents:,} | {result['elapsed_s']:.2f} s | {result['rate']:,.0f}/s ({verdict} {TARGET:,.0f}/s) | {share:.1%} |"
            )
    finally:
        if nats is not None:
            nats.stop()
    return (
        "## Notifications: alert fan-out into inboxes\n\n"
        f"One `AlertPublished` over 7 res-7 H3 cells with {residents:,} subscribed residents (3 res-9 cells each, "
        "languages mixed), consumed by the real notifications service from a real NATS; time from publishing the event "
        "until every inbox row is committed (one `INSERT ... SELECT ... ON CONFLICT DO NOTHING` per chunk of cells, the "
        "text chosen per resident's language in SQL). External channels (push/email) are not part of this figure: the "
        "residents here have inbox-only preferences.\n\n"
        "| database | residents | time to all inboxes | notifications/s | handed to a channel within 10 s |\n"
        "|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
