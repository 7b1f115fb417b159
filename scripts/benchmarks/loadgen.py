"""Load generators: wrk for throughput (closed loop), an open-loop async client for "p99 at N req/s".

wrk (Debian's 4.1) has no fixed-rate mode, so latency at a given rate is measured by `fixed_rate`:
requests are started on a fixed schedule whether or not earlier ones have answered, and each
latency counts from its scheduled start, so a stall is not hidden (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

WRK_THREADS = 2
REQUEST_TIMEOUT_S = 10.0  # an open-loop request still unanswered then is given up (and counted)
WRK_CONNECTIONS = 32
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def pick(ordered: Sequence[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": pick(ordered, 0.50),
        "p99": pick(ordered, 0.99),
        "mean": statistics.fmean(ordered) if ordered else float("nan"),
    }


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers: the request was wrong or the platform failed
    socket_errors: int = 0  # connect/read/write errors and timeouts: mostly a slow machine


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def wrk(url: str, seconds: float, paths: Sequence[str] = (), headers: dict[str, str] | None = None) -> WrkResult:
    """`wrk -t2 -c32 -d<seconds> --latency url`; with `paths`, each request takes the next path."""
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as scratch:
        if paths:
            script = Path(scratch) / "paths.lua"
            quoted = ",".join('"' + p.replace('"', '\\"') + '"' for p in paths)
            script.write_text(
                f"local paths = {{{quoted}}}\nlocal i = 0\n"
                "request = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n"
            )
            command += ["-s", str(script)]
        output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.M))
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=_ms(latency.get("50", "")),
        p99_ms=_ms(latency.get("99", "")),
        requests=int(total.group(1)) if total else 0,
        errors=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
    )


async def fixed_rate(
    base: str,
    rate: float,
    seconds: float,
    paths: Sequence[str],
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """GET `paths` in turn at `rate` req/s for `seconds`: latency percentiles and the error count."""
    latencies: list[float] = []
    errors = 0

    async def one(session: aiohttp.ClientSession, path: str, scheduled: float) -> None:
        nonlocal errors
        try:
            async with session.get(base + path, headers=headers) as response:
                await response.read()
                if response.status >= 400:
                    errors += 1
                    return
        except (aiohttp.ClientError, TimeoutError):
            errors += 1  # a timeout still counts as its latency: the client waited that long
            latencies.append((time.perf_counter() - scheduled) * 1000)
            return
        latencies.append((time.perf_counter() - scheduled) * 1000)

    await open_loop(rate, seconds, lambda session, i, at: one(session, paths[i % len(paths)], at))
    return {**percentiles(latencies), "n": len(latencies), "errors": errors, "rate": rate}


async def open_loop(
    rate: float,
    seconds: float,
    call: Callable[[aiohttp.ClientSession, int, float], Awaitable[None]],
) -> None:
    """Starts `call(session, i, scheduled_at)` every 1/rate s for `seconds`, then awaits them all."""
    count = max(1, int(rate * seconds))
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    ) as session:
        tasks = []
        start = time.perf_counter()
        for i in range(count):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(call(session, i, scheduled)))
        await asyncio.gather(*tasks)
