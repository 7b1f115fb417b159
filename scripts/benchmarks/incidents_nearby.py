"""Nearby incidents at scale: 1,000,000 reports in Lakeview, p50/p95/p99 of a 1 km search.

For each database (SQLite file; PostgreSQL when reachable, in its own scratch database that is
dropped afterwards): migrate with the service's own Alembic migrations, bulk-load synthetic
reports spread uniformly over the city (25 % open-ish statuses), then time searches through the
real service code over gRPC: an IncidentsServicer (ReportsService -> repository -> database) on a
loopback gRPC server, called with SearchReportsRequest(radius_m=1000) at random points in the city.
Two shapes are timed: the default (open-ish statuses) and every status.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy.engine import make_url

ROWS = 1_000_000
QUICK_ROWS = 100_000
QUERIES = 1000
QUICK_QUERIES = 200
WARMUP = 50
RADIUS_M = 1000.0
BENCH_DB = "cityhub_bench_incidents"
CATEGORIES = [
    ("pothole", "RD-POTHOLE", "roads"),
    ("streetlight-out", "RD-STREETLIGHT", "roads"),
    ("sidewalk-damage", "RD-SIDEWALK", "roads"),
    ("graffiti", "RD-GRAFFITI", "roads"),
    ("illegal-dumping", "WS-DUMPING", "waste"),
    ("missed-collection", "WS-MISSED", "waste"),
    ("water-leak", "WP-LEAK", "water-power"),
    ("fallen-tree", "PR-TREE", "parks-libraries"),
    ("noise-complaint", "PS-NOISE", "public-safety"),
]
STATUS_WEIGHTS = {
    "open": 10,
    "acknowledged": 5,
    "in_progress": 5,
    "scheduled": 5,
    "fixed": 40,
    "closed": 30,
    "duplicate": 3,
    "not_ours": 2,
}
COLUMNS = (
    "id", "category", "service_code", "department", "status", "description", "lat", "lon", "h3_r9", "h3_r8",
    "address", "zipcode", "attributes", "anonymous", "follower_count", "status_notes", "created_at", "updated_at",
)  # fmt: skip


def city_points(rng: random.Random, count: int) -> list[tuple[float, float]]:
    from cityhub_incidents.geo import point_in_polygon
    from cityhub_incidents.seed import BOUNDARY

    lats = [p[0] for p in BOUNDARY]
    lons = [p[1] for p in BOUNDARY]
    points: list[tuple[float, float]] = []
    while len(points) < count:
        lat, lon = rng.uniform(min(lats), max(lats)), rng.uniform(min(lons), max(lons))
        if point_in_polygon(lat, lon, BOUNDARY):
            points.append((lat, lon))
    return points


def synthetic_rows(count: int, seed: int = 7) -> list[tuple[Any, ...]]:
    import h3

    rng = random.Random(seed)
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    now = datetime.now(UTC)
    rows = []
    for lat, lon in city_points(rng, count):
        slug, code, department = CATEGORIES[rng.randrange(len(CATEGORIES))]
        created = now - timedelta(seconds=rng.randrange(3 * 365 * 86400))
        rows.append(
            (
                uuid.UUID(int=rng.getrandbits(128), version=4).hex,
                slug,
                code,
                department,
                rng.choices(statuses, weights)[0],
                "Synthetic benchmark report",
                lat,
                lon,
                h3.latlng_to_cell(lat, lon, 9),
                h3.latlng_to_cell(lat, lon, 8),
                "",
                "",
                "{}",
                True,
                0,
                "",
                created,
                created,
            )
        )
    return rows


def load_sqlite(url: str, rows: list[tuple[Any, ...]]) -> None:
    path = make_url(url).database
    assert path
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        sql = f"INSERT INTO reports ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"
        batch = 50_000
        for start in range(0, len(rows), batch):
            connection.executemany(
                sql,
                [(*r[:16], r[16].isoformat(sep=" "), r[17].isoformat(sep=" ")) for r in rows[start : start + batch]],
            )
        connection.commit()
        connection.execute("ANALYZE")
        connection.commit()
    finally:
        connection.close()


async def load_postgres(url: str, rows: list[tuple[Any, ...]]) -> None:
    import asyncpg

    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )
    try:
        await connection.copy_records_to_table("reports", records=rows, columns=list(COLUMNS))
        await connection.execute("VACUUM ANALYZE reports")
    finally:
        await connection.close()


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def reachable(url: str) -> bool:
    try:
        await _admin(url, "SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - no PostgreSQL here: skip it
        return False


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "mean": statistics.fmean(ordered)}


async def measure(url: str, queries: int) -> dict[str, Any]:
    from cityhub.incidents.v1 import incidents_pb2, incidents_pb2_grpc
    from cityhub_incidents.categories import CategoryDirectory
    from cityhub_incidents.photos import LocalPhotoStorage
    from cityhub_incidents.server import IncidentsServicer
    from cityhub_incidents.service import IncidentsServices
    from cityhub_sdk.db import Database
    from cityhub_sdk.grpc_server import GrpcServer

    db = Database(url)
    categories = CategoryDirectory("127.0.0.1:9")  # never called by searches
    servicer = IncidentsServicer(IncidentsServices.build(db, categories, LocalPhotoStorage(Path("/nonexistent"))))
    server = GrpcServer(
        host="127.0.0.1",
        port=0,
        service_names=["cityhub.incidents.v1.IncidentsService"],
        registrations=[lambda s: incidents_pb2_grpc.add_IncidentsServiceServicer_to_server(servicer, s)],
    )
    await server.start()
    results: dict[str, Any] = {}
    try:
        async with grpc.aio.insecure_channel(server.address) as channel:
            stub = incidents_pb2_grpc.IncidentsServiceStub(channel)
            points = city_points(random.Random(99), queries + WARMUP)
            for label, statuses in (("open-ish (default)", []), ("all statuses", list(STATUS_WEIGHTS))):
                samples, found = [], []
                for index, (lat, lon) in enumerate(points):
                    request = incidents_pb2.SearchReportsRequest(lat=lat, lon=lon, radius_m=RADIUS_M, statuses=statuses)
                    started = time.perf_counter()
                    response = await stub.SearchReports(request)
                    elapsed = (time.perf_counter() - started) * 1000
                    if index >= WARMUP:
                        samples.append(elapsed)
                        found.append(len(response.reports))
                results[label] = {**percentiles(samples), "results": statistics.fmean(found), "n": len(samples)}
    finally:
        await server.stop(0.5)
        await categories.close()
        await db.dispose()
    return results


async def run(options: Any) -> str:
    from cityhub_incidents.app import MIGRATIONS
    from cityhub_sdk.migrations import upgrade_async

    count = QUICK_ROWS if options.quick else ROWS
    queries = QUICK_QUERIES if options.quick else QUERIES
    started = time.monotonic()
    rows = synthetic_rows(count)
    generated_s = time.monotonic() - started
    lines = [
        "## Incidents: nearby search",
        "",
        f"{count:,} synthetic reports spread uniformly over Lakeview (~265 km², so ~{count / 265:,.0f} per km²; "
        f"25 % in open-ish statuses), {queries} searches of radius {RADIUS_M:.0f} m at random points in the city "
        f"(after {WARMUP} warm-up calls), page size 50, over gRPC to the real IncidentsServicer "
        "(ReportsService.search: staged H3 res-9 cell IN lists + planar distance in SQL, exact haversine on the page).",
        "",
        "| database | statuses | p50 ms | p95 ms | p99 ms | mean ms | results/page | load s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    raw: dict[str, Any] = {}
    for label, base_url in options.database_urls.items():
        if label == "sqlite":
            path = Path(options.work_dir) / "incidents-nearby.db"
            remove_sqlite(path)
            url, cleanup = f"sqlite+aiosqlite:///{path}", None
        else:
            if not await reachable(base_url):
                lines.append(
                    f"| {label} | (not reachable at {make_url(base_url).render_as_string(hide_password=True)}) |||||||"
                )
                continue
            await _admin(base_url, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
            await _admin(base_url, f'CREATE DATABASE "{BENCH_DB}"')
            url = (
                make_url(base_url)
                .set(database=BENCH_DB, drivername="postgresql+asyncpg")
                .render_as_string(hide_password=False)
            )
            cleanup = base_url
        try:
            await upgrade_async(MIGRATIONS, url)
            load_started = time.monotonic()
            if label == "sqlite":
                load_sqlite(url, rows)
            else:
                await load_postgres(url, rows)
            load_s = time.monotonic() - load_started
            results = await measure(url, queries)
            raw[label] = results
            for shape, figures in results.items():
                lines.append(
                    f"| {label} | {shape} | {figures['p50']:.2f} | {figures['p95']:.2f} | {figures['p99']:.2f} | "
                    f"{figures['mean']:.2f} | {figures['results']:.1f} | {load_s:.0f} |"
                )
        finally:
            if cleanup is not None:
                await _admin(cleanup, f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
            elif label == "sqlite":
                remove_sqlite(path)
    lines += [
        "",
        f"Target: p95 < 20 ms at the service for a 1 km radius. Data generated in {generated_s:.0f} s at run time "
        "(nothing committed). Raw figures:",
        "",
        "```json",
        json.dumps(raw, indent=1, default=lambda v: round(v, 3)),
        "```",
    ]
    return "\n".join(lines)
