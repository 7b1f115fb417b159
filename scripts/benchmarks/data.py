"""Realistic data in the running platform's own databases, written in bulk (never row by row).

* reports: synthetic reports over Lakeview straight into the incidents database (the generator and
  loaders of `incidents_nearby.py`: executemany on SQLite, COPY on PostgreSQL);
* residents: accounts with a saved home in identity, and an area subscription on that home (its
  res-9 cells, an inbox-only preference) in notifications (`notifications_fanout.populate`), all in
  the 7 res-7 cells around the city centre so one alert over the centre reaches every one of them.
"""

from __future__ import annotations

import random
import time
from typing import Any

import h3
import sqlalchemy as sa

from benchmarks import incidents_nearby, notifications_fanout


async def load_reports(url: str, count: int) -> float:
    """Seconds to generate and load `count` reports into the incidents database at `url`."""
    started = time.monotonic()
    rows = incidents_nearby.synthetic_rows(count)
    if url.startswith("sqlite"):
        incidents_nearby.load_sqlite(url, rows)
    else:
        await incidents_nearby.load_postgres(url, rows)
    return time.monotonic() - started


async def load_residents(identity_url: str, notifications_url: str, count: int) -> float:
    """Seconds to write `count` residents with a home (identity) and an area subscription on it
    (notifications). Ids match across the two: account `acc-NNNNNN`, place `pNNN`."""
    from cityhub_sdk.db import Database

    started = time.monotonic()
    rng = random.Random(11)
    fine = [c for r7 in notifications_fanout.alert_cells() for c in h3.cell_to_children(r7, 9)]
    accounts: list[dict[str, Any]] = []
    places: list[dict[str, Any]] = []
    for index in range(count):
        lat, lon = h3.cell_to_latlng(rng.choice(fine))
        account = f"acc-{index:06d}"
        accounts.append(
            {
                "id": account,
                "email": f"bench-{index:06d}@bench.lakeview.example",
                "password_hash": "",
                "role": "resident",
                "display_name": "",
                "preferred_language": "en",
                "phone": "",
                "failed_logins": 0,
            }
        )
        places.append({"id": f"p{index}", "account_id": account, "label": "home", "latitude": lat, "longitude": lon})
    identity = Database(identity_url)
    try:
        now = sa.text("CURRENT_TIMESTAMP")
        meta = sa.MetaData()
        account_table = sa.Table("accounts", meta, *[sa.Column(n) for n in [*accounts[0], "created_at"]])
        place_table = sa.Table("places", meta, *[sa.Column(n) for n in [*places[0], "created_at"]])
        async with identity.engine.begin() as connection:
            for table, rows in ((account_table, accounts), (place_table, places)):
                for start in range(0, len(rows), 20_000):
                    await connection.execute(table.insert().values(created_at=now), rows[start : start + 20_000])
    finally:
        await identity.dispose()
    notifications = Database(notifications_url)
    try:
        await notifications_fanout.populate(notifications, count)
    finally:
        await notifications.dispose()
    return time.monotonic() - started


async def count_notifications(url: str) -> int:
    from cityhub_sdk.db import Database

    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return int((await connection.execute(sa.text("SELECT count(*) FROM notifications"))).scalar_one())
    finally:
        await db.dispose()
