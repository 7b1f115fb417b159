#!/usr/bin/env python3
"""`make bench`: the platform's capacity, measured through the gateway, with ceilings from the same run.

Starts the platform with scripts/run.py on free loopback ports (SQLite, then PostgreSQL at
BENCH_POSTGRES_URL when reachable; `none` skips it), loads the demo city plus bulk data, runs the
scenarios of docs/benchmarks.md (scripts/benchmarks/scenarios.py) and writes docs/benchmarks.md and
docs/benchmarks.json. `--quick` runs everything on tiny data (the smoke test in
tests/contract/test_bench_quick.py); `--output-dir` writes elsewhere. `--service NAME` runs one of the
older service-level benchmarks (scripts/benchmarks/{incidents_nearby,notifications_fanout,waittimes}.py).
Speed is measured here, never in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import os
import platform as machine
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from benchmarks import ceilings, data, report, scenarios  # noqa: E402
from benchmarks.launch import SERVICES, Platform, free_ports  # noqa: E402
from benchmarks.otlp_sink import OtlpSink  # noqa: E402

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BENCH_DB_PREFIX = "cityhub_bench_"
VERSIONED = (
    "litestar",
    "uvicorn",
    "granian",
    "grpcio",
    "nats-py",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "opentelemetry-sdk",
)


@dataclass(frozen=True)
class BenchOptions:
    """What a service-level benchmark (`--service`) gets."""

    work_dir: Path
    database_urls: dict[str, str]
    nats_url: str | None
    quick: bool


# -- PostgreSQL ----------------------------------------------------------------------------------


async def _pg(url: str, *statements: str) -> list[Any]:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username, password=parsed.password,
        database=parsed.database, timeout=5,
    )  # fmt: skip
    try:
        return [await connection.fetchval(statement) for statement in statements]
    finally:
        await connection.close()


async def postgres_databases(base: str, prefix: str) -> dict[str, str] | None:
    """One fresh database per service on the server at `base`, or None when it is not reachable."""
    from sqlalchemy.engine import make_url

    try:
        await _pg(base, "SELECT 1")
    except Exception:  # noqa: BLE001 - PostgreSQL is optional
        return None
    urls = {}
    for service in SERVICES:
        name = f"{prefix}{service}"
        await _pg(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        urls[service] = (
            make_url(base).set(database=name, drivername="postgresql+asyncpg").render_as_string(hide_password=False)
        )
    return urls


async def drop_postgres_databases(base: str, prefix: str) -> None:
    for service in SERVICES:
        with contextlib.suppress(Exception):
            await _pg(base, f'DROP DATABASE IF EXISTS "{prefix}{service}" WITH (FORCE)')


# -- the run -------------------------------------------------------------------------------------


def step(ctx: scenarios.Context, name: str, action: Callable[[], Awaitable[None] | None]) -> None:
    """Runs one scenario; a failure is written into the doc and the run goes on."""
    print(f"== {ctx.label}: {name}", flush=True)
    started = time.monotonic()
    try:
        outcome = action()
        if outcome is not None:
            asyncio.run(outcome)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others
        traceback.print_exc()
        ctx.notes.append(f"{name} ({ctx.label}) failed: {type(exc).__name__}: {str(exc)[:300]}")
    print(f"   {time.monotonic() - started:.0f} s", flush=True)


def measure_ceilings(ctx: scenarios.Context) -> None:
    sizes = ctx.sizes
    http_port, metrics_port, grpc_port = free_ports(3)
    empty = ceilings.EmptyGateway(ctx.platform.gateway_env(), http_port, metrics_port)
    try:
        empty.wait_ready()
        results = [scenarios.loadgen.wrk(empty.url, sizes.seconds) for _ in range(sizes.runs)]
    finally:
        empty.stop()
    ctx.add(
        key="ceiling_empty_route", scenario="-", title="empty Litestar route, the gateway's server and settings",
        unit="req/s", runs=[r.rps for r in results], tool="wrk -t2 -c32 on `python -m cityhub_gateway`'s main() with a one-route app",
    )  # fmt: skip
    server = ceilings.GrpcServerProcess(grpc_port)
    try:
        grpc_runs = [server.measure(sizes.seconds)["rps"] for _ in range(sizes.runs)]
    finally:
        server.stop()
    ctx.add(
        key="ceiling_grpc_unary", scenario="-", title="bare gRPC unary call between two processes", unit="calls/s",
        runs=grpc_runs, tool=f"grpc.aio echo server; client with {ceilings.GRPC_IN_FLIGHT} calls in flight",
    )  # fmt: skip
    messages = 20_000 if sizes.reports < 100_000 else 200_000
    core = [asyncio.run(ceilings.nats_core(ctx.platform.nats_url, messages)) for _ in range(sizes.runs)]
    ctx.add(
        key="ceiling_nats_core", scenario="-", title="nats-py core publish -> subscriber", unit="msgs/s", runs=core,
        tool=f"{messages:,} messages of 256 B, the platform's nats-server",
    )  # fmt: skip
    js_messages = messages // 10
    js = [asyncio.run(ceilings.nats_jetstream(ctx.platform.nats_url, js_messages)) for _ in range(sizes.runs)]
    ctx.add(
        key="ceiling_nats_jetstream", scenario="-", title="nats-py JetStream acked publish -> pull consume + ack",
        unit="msgs/s", runs=js, tool=f"{js_messages:,} messages of 256 B, file storage, 100 publishes in flight, fetch 256",
    )  # fmt: skip


def run_platform(
    label: str, database_urls: dict[str, str], work: Path, sizes: scenarios.Sizes, first: bool
) -> scenarios.Context:
    main = Platform(scenarios.run_dir(work, label), database_urls)
    print(f"== {label}: starting the platform in {main.run_dir}", flush=True)
    main.start()
    ctx = scenarios.Context(platform=main, label=label, sizes=sizes)
    started = [main]
    try:
        if first:
            step(ctx, "ceilings", lambda: measure_ceilings(ctx))

        async def load() -> None:
            seconds = await data.load_reports(main.database_url("incidents"), sizes.reports)
            ctx.notes.append(f"{label}: {sizes.reports:,} reports generated and loaded in bulk in {seconds:.0f} s")

        step(ctx, "reports", load)
        step(ctx, "1 GET /v1/services", lambda: scenarios.services_list(ctx))
        step(ctx, "2 GET /v1/incidents", lambda: scenarios.nearby_incidents(ctx))
        step(ctx, "3 GET /v1/home", lambda: scenarios.home(ctx))
        step(ctx, "4 report -> SSE", lambda: scenarios.report_to_sse(ctx))
        step(ctx, "5 alert fan-out", lambda: scenarios.alert_fanout(ctx))
        step(ctx, "6 queue events", lambda: scenarios.queue_events(ctx))
        if first:
            sink = OtlpSink()
            traced = Platform(
                scenarios.run_dir(work, f"{label}-traced"),
                {},
                extra_env={
                    "OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint,
                    "OTEL_TRACES_SAMPLER": "always_on",
                },
            )
            try:
                print(f"== {label}: starting the traced platform", flush=True)
                traced.start()
                started.append(traced)
                step(ctx, "7 tracing on/off", lambda: scenarios.tracing(ctx, traced, lambda: sink.traces.spans))
            finally:
                traced.stop()
                sink.stop()
            while len(started) < 3 and not sizes.reports < 100_000:
                extra = Platform(scenarios.run_dir(work, f"{label}-start{len(started)}"))
                try:
                    extra.start()
                    started.append(extra)
                finally:
                    extra.stop()
        scenarios.startup(ctx, started)
    finally:
        main.stop()
    return ctx


def tool_version(command: list[str]) -> str:
    try:
        output = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    match = re.search(r"v?(\d+\.\d+(?:\.\d+)?)", output.stdout + output.stderr)
    return match.group(1) if match else "unknown"


def machine_facts() -> dict[str, Any]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_kb / 1024 / 1024,
        "arch": machine.machine(),
        "kernel": machine.release(),
        "load_before": " ".join(f"{v:.1f}" for v in os.getloadavg()),
    }


def versions(postgres: str | None) -> dict[str, str]:
    out = {"python": machine.python_version()}
    for package in VERSIONED:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[package] = importlib.metadata.version(package)
    out["nats-server"] = tool_version([str(Path(sys.executable).parent / "nats-server"), "--version"])
    out["wrk"] = tool_version(["wrk", "-v"])
    if postgres:
        with contextlib.suppress(Exception):
            out["postgresql"] = str(asyncio.run(_pg(postgres, "SHOW server_version"))[0]).split()[0]
    return out


def run_service_benchmark(name: str, quick: bool) -> None:
    import importlib

    module = importlib.import_module(f"benchmarks.{name}")
    work = ROOT / ".run" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    urls = {"sqlite": f"sqlite+aiosqlite:///{work / 'bench.db'}"}
    pg = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    if pg.lower() != "none":
        urls["postgresql"] = pg
    print(asyncio.run(module.run(BenchOptions(work, urls, os.environ.get("BENCH_NATS_URL"), quick))))


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the platforms the way Ctrl-C does


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny data and 1 s runs: a smoke run, not figures")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "docs", help="where benchmarks.md/.json go")
    parser.add_argument("--service", help="run one service-level benchmark instead (prints its section)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    args = parser.parse_args()
    if args.service:
        run_service_benchmark(args.service, args.quick)
        return
    if not scenarios.loadgen.wrk_available():
        sys.exit("wrk is not installed: `make bench` installs it (apt-get install -y wrk)")
    sizes = scenarios.Sizes.of(args.quick)
    work = ROOT / ".run" / ("bench-quick" if args.quick else "bench")
    work.mkdir(parents=True, exist_ok=True)
    wanted = [name.strip() for name in args.databases.split(",") if name.strip()]
    pg_base = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    if pg_base.lower() == "none":
        pg_base = ""
    meta: dict[str, Any] = {
        "quick": args.quick,
        "machine": machine_facts(),
        "started": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
    }
    figures: list[scenarios.Figure] = []
    notes: list[str] = []
    profiles: dict[str, dict[str, list[tuple[str, float]]]] = {}
    pg_used = None
    failed = False
    prefix = f"{BENCH_DB_PREFIX}quick_" if args.quick else BENCH_DB_PREFIX  # a smoke run beside a full one
    for index, label in enumerate(wanted):
        urls: dict[str, str] = {}
        if label == "postgresql":
            found = asyncio.run(postgres_databases(pg_base, prefix)) if pg_base else None
            if found is None:
                notes.append(f"PostgreSQL not measured: not reachable at {pg_base or '(BENCH_POSTGRES_URL=none)'}")
                continue
            urls, pg_used = found, pg_base
        try:
            ctx = run_platform(label, urls, work, sizes, first=index == 0)
            figures += ctx.figures
            notes += ctx.notes
            profiles |= {f"{k} ({label})": v for k, v in ctx.profiles.items()}
            shutil.rmtree(work / label, ignore_errors=True)  # kept, with its logs, when it failed
        except Exception as exc:  # noqa: BLE001 - the other database may still run
            traceback.print_exc()
            failed = True
            notes.append(f"{label}: the platform did not run: {type(exc).__name__}: {str(exc)[:300]}")
        finally:
            if label == "postgresql" and pg_base:
                asyncio.run(drop_postgres_databases(pg_base, prefix))
        # written after each database, so an interrupted run still leaves what it measured
        meta["finished"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        meta["machine"]["load_after"] = " ".join(f"{v:.1f}" for v in os.getloadavg())
        meta["versions"] = versions(pg_used)
        meta["databases"] = wanted[: index + 1]
        args.output_dir.mkdir(parents=True, exist_ok=True)
        md, js = args.output_dir / "benchmarks.md", args.output_dir / "benchmarks.json"
        report.write(md, js, figures, meta, notes, profiles)
        print(f"wrote {md} and {js}", flush=True)
    if failed:
        sys.exit("a platform did not run: see the notes in the document")


if __name__ == "__main__":
    main()
