#!/usr/bin/env python3
"""`make bench`: run every benchmark in scripts/benchmarks/ and write docs/benchmarks.md.

A benchmark is a module with `async def run(options: BenchOptions) -> str` that returns a Markdown
section with its figures and how they were measured. Speed is measured here, never in tests.
Run one with `make bench BENCH=incidents_nearby`; choose the database with BENCH_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "scripts" / "benchmarks"
OUTPUT = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class BenchOptions:
    """What every benchmark gets: where to put scratch data and which database/NATS to use."""

    work_dir: Path
    database_urls: dict[str, str]  # label -> URL ("sqlite" always; "postgresql" when reachable)
    nats_url: str | None
    quick: bool


def load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller data sets, for a smoke run")
    args = parser.parse_args()
    names = args.names or os.environ.get("BENCH", "").split() or sorted(p.stem for p in BENCH_DIR.glob("[!_]*.py"))
    work_dir = ROOT / ".run" / "bench"
    work_dir.mkdir(parents=True, exist_ok=True)
    urls = {"sqlite": f"sqlite+aiosqlite:///{work_dir / 'bench.db'}"}
    pg = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    if pg.lower() != "none":
        urls["postgresql"] = pg
    options = BenchOptions(
        work_dir=work_dir, database_urls=urls, nats_url=os.environ.get("BENCH_NATS_URL"), quick=args.quick
    )
    sections = []
    for name in names:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        section = asyncio.run(load(name).run(options))
        print(section, flush=True)
        sections.append(f"{section.rstrip()}\n\n_{name}: {time.monotonic() - started:.0f} s wall time._\n")
    header = (
        "# Benchmarks\n\n"
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}. Re-run it to refresh.\n\n"
    )
    if set(names) != {p.stem for p in BENCH_DIR.glob("[!_]*.py")} and OUTPUT.exists():
        print(f"(partial run: {OUTPUT} left as it was; the sections above are this run's)", file=sys.stderr)
        return
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(header + "\n".join(sections))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
