"""Fault injection on real processes: a private nats-server per test and crashable helper processes.

`nats_server` is a nats-server of this test alone (its own port and JetStream store directory), so
a test may stop, kill and restart it; the machine's NATS is never touched. `spawn(script, *args)`
runs `tests/resilience/<script>` in its own Python process, logging to a file (not a pipe nobody
reads); whatever is still running at the end of the test is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path

import pytest
from cityhub_sdk.testing import NatsServerProcess, eventually

HERE = Path(__file__).resolve().parent


class Spawned:
    """A helper process started by `spawn`; its stdout and stderr go to `log_path`."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def log(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    async def wait_for_line(self, prefix: str, timeout_s: float = 240.0) -> str:
        """The rest of the first log line starting with `prefix` (fails if the process exits first)."""
        found: list[str] = []

        def seen() -> bool:
            for line in self.log_path.read_text(errors="replace").splitlines():
                if line.startswith(prefix):
                    found.append(line.removeprefix(prefix).strip())
                    return True
            assert self.process.returncode is None, f"exited with {self.process.returncode}:\n{self.log()}"
            return False

        await eventually(seen, timeout_s)
        return found[0]

    async def wait_exit(self, timeout_s: float = 120.0) -> int:
        try:
            return await asyncio.wait_for(self.process.wait(), timeout_s)
        except TimeoutError:
            raise AssertionError(f"still running after {timeout_s} s:\n{self.log()}") from None

    async def terminate(self, timeout_s: float = 15.0) -> int:
        """SIGTERM (a graceful stop), then SIGKILL if it is still running after `timeout_s`."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout_s)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        assert self.process.returncode is not None
        return self.process.returncode


Spawn = Callable[..., Awaitable[Spawned]]


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServerProcess]:
    """A JetStream nats-server for this test only; `stop()`/`start()` restart it on the same port and store."""
    server = NatsServerProcess(store_dir=tmp_path / "jetstream")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def spawn(tmp_path: Path) -> AsyncIterator[Spawn]:
    """`await spawn("script.py", *args, env={...})` -> Spawned; leftovers are killed at teardown."""
    started: list[Spawned] = []

    async def start(script: str, *args: str, env: Mapping[str, str] | None = None) -> Spawned:
        log_path = tmp_path / f"{Path(script).stem}-{len(started)}.log"
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(HERE / script),
                *args,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        spawned = Spawned(process, log_path)
        started.append(spawned)
        return spawned

    yield start
    for spawned in started:
        if spawned.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                spawned.process.kill()
            await spawned.process.wait()
