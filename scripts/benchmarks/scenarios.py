"""The capacity scenarios of issue 15, each against the running platform through its gateway.

Every scenario appends `Figure`s (one value per run; the report takes the median) to `ctx.figures`.
Load: wrk (closed loop, 2 threads, 32 connections) for throughput; `loadgen.fixed_rate` /
`open_loop` (aiohttp, open loop) for latency at a fixed rate and for the event scenarios.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa

from benchmarks import data, incidents_nearby, loadgen, notifications_fanout, profile
from benchmarks.launch import Platform

RESIDENT_PASSWORD = "lakeview-demo-resident"
STAFF_PASSWORD = "lakeview-demo-staff"


@dataclass
class Figure:
    key: str
    scenario: str
    title: str
    unit: str
    runs: list[float]
    database: str
    tool: str
    target: tuple[str, float] | None = None  # (">=" | "<", value)
    ceiling: str | None = None  # key of the ceiling figure this one is a share of
    note: str = ""


@dataclass
class Sizes:
    runs: int
    seconds: float  # one load run
    reports: int
    residents: int
    sse_rate: float
    queue_events: int
    latency_samples: int

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(
                runs=3, seconds=1, reports=2_000, residents=500, sse_rate=20, queue_events=600, latency_samples=5
            )
        return cls(
            runs=3,
            seconds=6,
            reports=1_000_000,
            residents=100_000,
            sse_rate=100,
            queue_events=30_000,
            latency_samples=60,
        )


@dataclass
class Context:
    platform: Platform
    label: str  # database: "sqlite" | "postgresql"
    sizes: Sizes
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, dict[str, list[tuple[str, float]]]] = field(default_factory=dict)

    def add(self, **kwargs: Any) -> None:
        """A figure; runs that produced nothing (NaN) are left out, and said so."""
        runs = [v for v in kwargs.pop("runs") if v == v]
        figure = Figure(database=self.label, runs=runs, **kwargs)
        if not runs and not figure.note:
            figure.note = "not measured: no run produced a value (see the notes)"
        self.figures.append(figure)


# -- helpers -------------------------------------------------------------------------------------


async def token(base: str, email: str, password: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/v1/auth/token", json={"email": email, "password": password}) as response,
    ):
        response.raise_for_status()
        return str((await response.json())["access_token"])


def resident(platform: Platform) -> dict[str, Any]:
    return platform.credentials()["residents"][0]  # type: ignore[no-any-return]


def wrk_runs(ctx: Context, path_or_paths: str | list[str], profile_name: str = "") -> list[loadgen.WrkResult]:
    """`sizes.runs` wrk runs; with `profile_name`, py-spy samples the gateway during the last one."""
    paths = [path_or_paths] if isinstance(path_or_paths, str) else path_or_paths
    url = ctx.platform.base + paths[0]
    results = []
    for index in range(ctx.sizes.runs):
        spy = None
        if profile_name and index == ctx.sizes.runs - 1:
            pid = profile.find_process("cityhub_gateway", ctx.platform.run_dir)
            if pid is not None:
                spy, raw = profile.record(pid, ctx.sizes.seconds)
        results.append(loadgen.wrk(url, ctx.sizes.seconds, paths if len(paths) > 1 else ()))
        if spy is not None:
            spy.wait()
            ctx.profiles[profile_name] = profile.summarise(raw)
    return results


def errors_note(results: list[loadgen.WrkResult]) -> str:
    errors = sum(r.errors for r in results)
    slow = sum(r.socket_errors for r in results)
    total = sum(r.requests for r in results)
    parts = [f"{errors:,} of {total:,} requests failed (non-2xx)"] if errors else []
    parts += [f"{slow:,} socket errors or timeouts in wrk"] if slow else []
    return "; ".join(parts)


# -- 1. catalog list -----------------------------------------------------------------------------


def services_list(ctx: Context) -> None:
    results = wrk_runs(ctx, "/v1/services", profile_name="GET /v1/services")
    ctx.add(
        key="s1_services_rps",
        scenario="1",
        title="GET /v1/services",
        unit="req/s",
        runs=[r.rps for r in results],
        tool="wrk -t2 -c32",
        ceiling="ceiling_empty_route",
        note=errors_note(results),
    )


# -- 2. nearby incidents over the loaded reports -------------------------------------------------


async def nearby_incidents(ctx: Context) -> None:
    points = incidents_nearby.city_points(random.Random(99), 1000)
    paths = [f"/v1/incidents?lat={lat:.6f}&lon={lon:.6f}&radius_m=1000" for lat, lon in points]
    results = wrk_runs(ctx, paths, profile_name="GET /v1/incidents (1 km)")
    ctx.add(
        key="s2_incidents_rps",
        scenario="2",
        title=f"GET /v1/incidents at 1 km over {ctx.sizes.reports:,} reports",
        unit="req/s",
        runs=[r.rps for r in results],
        tool="wrk -t2 -c32, 1000 random points in the city",
        target=(">=", 1000.0),
        ceiling="ceiling_empty_route",
        note=errors_note(results),
    )
    p99s, errors = [], 0
    for _ in range(ctx.sizes.runs):
        result = await loadgen.fixed_rate(ctx.platform.base, 200, ctx.sizes.seconds, paths)
        p99s.append(result["p99"])
        errors += result["errors"]
    ctx.add(
        key="s2_incidents_p99_at_200",
        scenario="2",
        title=f"GET /v1/incidents at 1 km over {ctx.sizes.reports:,} reports, p99 at 200 req/s",
        unit="ms",
        runs=p99s,
        tool="open-loop aiohttp client at 200 req/s",
        target=("<", 50.0),
        note=f"{errors} failed" if errors else "",
    )


# -- 3. home -------------------------------------------------------------------------------------


async def home(ctx: Context) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{ctx.platform.base}/schema/openapi.json") as response,
    ):
        spec = await response.json()
    if "/v1/home" not in spec.get("paths", {}):
        ctx.add(
            key="s3_home_p99_at_200",
            scenario="3",
            title="GET /v1/home, p99 at 200 req/s",
            unit="ms",
            runs=[],
            tool="-",
            target=("<", 80.0),
            note="not measured: route not built",
        )
        return
    person = resident(ctx.platform)
    bearer = await token(ctx.platform.base, person["email"], RESIDENT_PASSWORD)
    p99s = []
    for _ in range(ctx.sizes.runs):
        result = await loadgen.fixed_rate(
            ctx.platform.base, 200, ctx.sizes.seconds, ["/v1/home"], {"Authorization": f"Bearer {bearer}"}
        )
        p99s.append(result["p99"])
    ctx.add(
        key="s3_home_p99_at_200",
        scenario="3",
        title="GET /v1/home, p99 at 200 req/s",
        unit="ms",
        runs=p99s,
        tool="open-loop aiohttp client at 200 req/s",
        target=("<", 80.0),
    )


# -- 4. report -> subscriber's SSE event ---------------------------------------------------------


class SseReader:
    """Reads one `GET /v1/stream` and keeps (arrival time, event, data) for every event."""

    def __init__(self, base: str, bearer: str, query: str = "") -> None:
        self.url = f"{base}/v1/stream{query}"
        self.headers = {"Authorization": f"Bearer {bearer}", "Accept": "text/event-stream"}
        self.events: list[tuple[float, str, str]] = []
        self.ready = asyncio.Event()
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SseReader:
        self.task = asyncio.create_task(self._read())
        await asyncio.wait_for(self.ready.wait(), timeout=30)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def _read(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(self.url, headers=self.headers) as response,
        ):
            response.raise_for_status()
            event, lines = "message", []
            async for raw in response.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    lines.append(line[5:].strip())
                elif not line and lines:
                    self.events.append((time.perf_counter(), event, "\n".join(lines)))
                    if event == "ready":
                        self.ready.set()
                    self.changed.set()
                    event, lines = "message", []


async def report_to_sse(ctx: Context) -> None:
    base = ctx.platform.base
    credentials = ctx.platform.credentials()
    person = credentials["residents"][0]
    bearer = await token(base, person["email"], RESIDENT_PASSWORD)
    auth = {"Authorization": f"Bearer {bearer}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/v1/me/places", headers=auth) as response:
            home_place = (await response.json())["items"][0]
        subscription = {"kind": "area", "place_id": home_place["id"], "radius_m": 1000}
        async with session.post(f"{base}/v1/me/subscriptions", headers=auth, json=subscription) as response:
            response.raise_for_status()
    key = next(k["key"] for k in credentials["api_keys"] if k["department"] == "roads")
    rng = random.Random(5)
    p99s, failures = [], 0
    refusals: dict[int, str] = {}
    async with SseReader(base, bearer) as reader:
        for _ in range(ctx.sizes.runs):
            sent: dict[str, float] = {}

            async def report(
                session: aiohttp.ClientSession, i: int, scheduled: float, sent: dict[str, float] = sent
            ) -> None:
                nonlocal failures
                form = aiohttp.FormData(default_to_multipart=True)
                # within ~300 m of the home, inside the 1 km subscription
                form.add_field("lat", f"{home_place['latitude'] + rng.uniform(-0.002, 0.002):.6f}")
                form.add_field("lon", f"{home_place['longitude'] + rng.uniform(-0.003, 0.003):.6f}")
                form.add_field("category", "pothole")
                form.add_field("description", f"Benchmark pothole {i}")
                form.add_field("attributes", json.dumps({"size": "large"}))
                async with session.post(
                    f"{base}/v1/incidents?force=true", data=form, headers={"X-API-Key": key}
                ) as response:
                    if response.status != 201:
                        failures += 1
                        refusals[response.status] = (await response.text())[:200]
                        return
                    sent[(await response.json())["id"]] = scheduled

            await loadgen.open_loop(ctx.sizes.sse_rate, ctx.sizes.seconds, report)
            deadline = time.perf_counter() + 10
            while time.perf_counter() < deadline:
                arrived = {
                    rid for _, event, text in reader.events if event == "notification" for rid in sent if rid in text
                }
                if len(arrived) >= len(sent):
                    break
                await asyncio.sleep(0.1)
            latencies = []
            for report_id, at in sent.items():
                first = next((t for t, e, text in reader.events if e == "notification" and report_id in text), None)
                latencies.append((first - at) * 1000 if first is not None else 10_000.0)
            p99s.append(loadgen.percentiles(latencies)["p99"] if latencies else float("nan"))
            missing = sum(1 for value in latencies if value >= 10_000.0)
            if missing:
                ctx.notes.append(f"scenario 4 ({ctx.label}): {missing} of {len(sent)} reports never reached the stream")
    ctx.add(
        key="s4_report_to_sse_p99",
        scenario="4",
        title=f"new report -> subscriber's SSE event, p99 at {ctx.sizes.sse_rate:.0f} reports/s",
        unit="ms",
        runs=p99s,
        tool="open-loop aiohttp POST /v1/incidents (department key) + one SSE reader",
        target=("<", 250.0),
        ceiling=None,
        note=f"{failures} reports refused: {refusals}" if failures else "",
    )


# -- 5. alert fan-out to every resident ----------------------------------------------------------


async def alert_fanout(ctx: Context) -> None:
    base = ctx.platform.base
    loaded_s = await data.load_residents(
        ctx.platform.database_url("identity"), ctx.platform.database_url("notifications"), ctx.sizes.residents
    )
    ctx.notes.append(
        f"{ctx.label}: {ctx.sizes.residents:,} residents with a home and an area subscription loaded in {loaded_s:.0f} s"
    )
    staff = ctx.platform.credentials()["staff"][0]
    bearer = await token(base, staff["email"], STAFF_PASSWORD)
    from cityhub_sdk.db import Database

    db = Database(ctx.platform.database_url("notifications"))
    rates, shares = [], []
    try:

        async def count() -> int:
            async with db.engine.connect() as connection:
                return int((await connection.execute(sa.text("SELECT count(*) FROM notifications"))).scalar_one())

        lat, lon = notifications_fanout.CENTRE
        for run in range(ctx.sizes.runs):
            before = await count()
            alert = {
                "kind": "water",
                "severity": "urgent",
                "area": {"type": "circle", "center": [lat, lon], "radius_m": 6000},
                "ends_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
                "title": {"en": f"Boil water notice {run}", "vi": "Thông báo đun sôi nước"},
                "body": {"en": "Boil tap water before drinking."},
            }
            started = time.perf_counter()
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"{base}/v1/staff/alerts", json=alert, headers={"Authorization": f"Bearer {bearer}"}
                ) as response,
            ):
                response.raise_for_status()
            within_10s, now_count = 0, before
            while time.perf_counter() - started < 60:
                now_count = await count()
                if time.perf_counter() - started <= 10:
                    within_10s = now_count - before
                if now_count - before >= ctx.sizes.residents:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            delivered = now_count - before
            rates.append(delivered / elapsed)
            shares.append(100.0 * min(within_10s, ctx.sizes.residents) / ctx.sizes.residents)
    finally:
        await db.dispose()
    common = {"scenario": "5", "tool": "POST /v1/staff/alerts, inbox rows counted in the notifications database"}
    ctx.add(
        key="s5_fanout_rate",
        title=f"alert -> {ctx.sizes.residents:,} residents' inboxes, end to end",
        unit="notifications/s",
        runs=rates,
        target=(">=", 5000.0),
        ceiling="ceiling_nats_jetstream",
        **common,
    )
    ctx.add(
        key="s5_fanout_within_10s",
        title="share of the alert's notifications in an inbox within 10 s",
        unit="%",
        runs=shares,
        target=(">=", 99.0),
        **common,
    )


# -- 6. kiosk events -> estimate at the gateway ---------------------------------------------------


async def queue_events(ctx: Context) -> None:
    base = ctx.platform.base
    keys = {k["department"]: k["key"] for k in ctx.platform.credentials()["api_keys"]}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/v1/services?page_size=100") as response:
            departments = {s["slug"]: s["department"] for s in (await response.json())["items"]}
        async with session.get(f"{base}/v1/service-centers?page_size=100") as response:
            centers = (await response.json())["items"]
    queues = []
    for center in centers:
        for queue in center["queues"]:
            owners = sorted({departments[s] for s in queue["services"] if s in departments} & set(keys))
            if owners:
                queues.append((center["id"], queue["slug"], keys[owners[0]]))
    rates = []
    for run in range(ctx.sizes.runs):
        batches = _kiosk_batches(queues, ctx.sizes.queue_events, f"r{run}")
        accepted = 0
        pending = list(batches)

        deadline = time.perf_counter() + 3 * ctx.sizes.seconds  # a slow machine: a rate, not every event

        async def poster(
            session: aiohttp.ClientSession,
            pending: list[tuple[str, str, list[dict[str, Any]]]] = pending,
            deadline: float = deadline,
        ) -> None:
            nonlocal accepted
            while pending and time.perf_counter() < deadline:
                center, key, events = pending.pop(0)
                async with session.post(
                    f"{base}/v1/staff/service-centers/{center}/queue-events",
                    json={"events": events},
                    headers={"X-API-Key": key},
                ) as response:
                    if response.status == 200:
                        accepted += (await response.json())["accepted"]

        started = time.perf_counter()
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(poster(session) for _ in range(4)))
        rates.append(accepted / (time.perf_counter() - started))
    ctx.add(
        key="s6_queue_events_rate",
        scenario="6",
        title="kiosk events accepted through the gateway",
        unit="events/s",
        runs=rates,
        tool="aiohttp, 4 posters, 200 events per POST /v1/staff/service-centers/{id}/queue-events",
        target=(">=", 2000.0),
        ceiling="ceiling_nats_jetstream",
    )
    person = resident(ctx.platform)
    bearer = await token(base, person["email"], RESIDENT_PASSWORD)
    center, queue, key = queues[0]
    p99s = []
    async with SseReader(base, bearer, f"?centers={center}") as reader, aiohttp.ClientSession() as session:
        for run in range(ctx.sizes.runs):
            latencies = []
            for n in range(ctx.sizes.latency_samples):
                await asyncio.sleep(0.05)
                seen = len(reader.events)
                event = {
                    "id": f"bench-lat-{time.time_ns()}-{run}-{n}",
                    "queue": queue,
                    "kind": "ticket_issued",
                    "ticket": f"L{run}-{n}",
                    "occurred_at": datetime.now(UTC).isoformat(),
                }
                sent = time.perf_counter()
                async with session.post(
                    f"{base}/v1/staff/service-centers/{center}/queue-events",
                    json={"events": [event]},
                    headers={"X-API-Key": key},
                ) as response:
                    response.raise_for_status()
                arrived = None
                while arrived is None and time.perf_counter() - sent < 10:
                    for at, name, text in reader.events[seen:]:
                        if name == "wait_times" and f'"{queue}"' in text and at >= sent:
                            arrived = at
                            break
                    else:
                        reader.changed.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(reader.changed.wait(), timeout=1)
                latencies.append(((arrived or sent + 10) - sent) * 1000)
            p99s.append(loadgen.percentiles(latencies)["p99"])
    ctx.add(
        key="s6_event_to_gateway_p99",
        scenario="6",
        title="kiosk event -> new estimate on the gateway's live stream, p99",
        unit="ms",
        runs=p99s,
        tool="one ticket at a time via the gateway; SSE GET /v1/stream?centers=",
        target=("<", 1000.0),
        note="the demo's kiosk simulator feeds the same queues, so a change it makes can be read as ours",
    )


def _kiosk_batches(
    queues: list[tuple[str, str, str]], total: int, tag: str
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Counter opened, then tickets issued, called and served, per queue, at the current time."""
    per_queue = max(3, total // len(queues))
    out = []
    now = datetime.now(UTC)
    for q_index, (center, queue, key) in enumerate(queues):
        events: list[dict[str, Any]] = [
            {
                "id": f"b{tag}-{q_index}-open",
                "queue": queue,
                "kind": "counter_opened",
                "counter": "9",
                "occurred_at": now.isoformat(),
            }
        ]
        for n in range(per_queue // 3):
            at = now + timedelta(milliseconds=3 * n + 1)
            for kind, offset in (("ticket_issued", 0), ("ticket_called", 1), ("ticket_served", 2)):
                event = {
                    "id": f"b{tag}-{q_index}-{kind[7]}{n}",
                    "queue": queue,
                    "kind": kind,
                    "ticket": f"B{tag}{n}",
                    "occurred_at": (at + timedelta(microseconds=offset)).isoformat(),
                }
                if kind == "ticket_called":
                    event["counter"] = "9"
                events.append(event)
        for start in range(0, len(events), 200):
            out.append((center, key, events[start : start + 200]))
    random.Random(3).shuffle(out)
    out.sort(key=lambda item: item[2][0]["occurred_at"])  # each queue's batches stay in order
    return out


# -- 7. tracing ----------------------------------------------------------------------------------


def tracing(ctx: Context, traced: Platform, spans: Any) -> None:
    """GET /v1/services on this platform and on `traced` (every request sampled, OTLP to a local
    collector), alternating run by run so both see the same machine."""
    ratios, on, off = [], [], []
    for base in (ctx.platform.base, traced.base):  # warm both (connections, caches, JIT-less imports)
        loadgen.wrk(base + "/v1/services", 1)
    for _ in range(ctx.sizes.runs):
        off.append(loadgen.wrk(ctx.platform.base + "/v1/services", ctx.sizes.seconds).rps)
        on.append(loadgen.wrk(traced.base + "/v1/services", ctx.sizes.seconds).rps)
        ratios.append(on[-1] / off[-1] if off[-1] else 0.0)
    ctx.add(
        key="s7_tracing_ratio",
        scenario="7",
        title="GET /v1/services with tracing on / off",
        unit="ratio",
        runs=ratios,
        tool="wrk -t2 -c32, alternating between two platforms",
        target=(">=", 0.85),
        note=f"on {sorted(on)[len(on) // 2]:,.0f} req/s vs off {sorted(off)[len(off) // 2]:,.0f} req/s; "
        f"{spans():,} spans received by the collector",
    )


# -- 8. start-up ---------------------------------------------------------------------------------


def startup(ctx: Context, platforms: list[Platform]) -> None:
    ctx.add(
        key="s8_make_run_healthy",
        scenario="8",
        title="`make run` (scripts/run.py) to /health 200, fresh run directory",
        unit="s",
        runs=[p.healthy_s for p in platforms],
        tool="scripts/run.py, /health polled every 0.1 s",
        target=("<", 15.0),
        note="demo city seeded after " + ", ".join(f"{p.seeded_s:.1f}" for p in platforms) + " s",
    )


def run_dir(root: Path, name: str) -> Path:
    path = root / name
    if path.exists():
        import shutil

        shutil.rmtree(path)
    return path
