"""Background work for every service: one loop, woken early on demand, polling as a fallback.

`CommitDrivenWorker` is woken after every commit and drains in batches (the outbox relay, a
delivery dispatcher): waking on commit keeps latency low, polling covers rows written by other
replicas, and a full batch means "go again at once". `PeriodicTask` runs a job every interval
(sweepers, health checks), and `wake()` runs it early. A failed round is logged and retried next
round: the loop outlives database and network hiccups.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from cityhub_sdk.db import Database
from cityhub_sdk.logging import get_logger

log = get_logger(__name__)


class BackgroundLoop(ABC):
    """Calls `run_once` until stopped; a result of at least `batch` means "more is waiting"."""

    def __init__(self, *, name: str, batch: int, poll_interval_s: float) -> None:
        self.name = name
        self.batch = batch
        self.poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def run_once(self) -> int:
        """Handle up to one batch; return how many items were handled."""

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except TimeoutError:
                self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            # Cleared before the round, not after: a wake() that arrives while the round runs (a commit
            # the round did not see) keeps the event set, so the next round starts at once.
            self._wake.clear()
            try:
                handled = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the loop outlives database and network hiccups
                log.warning("worker.failed", worker=self.name, error=type(exc).__name__)
                handled = 0
            if handled >= self.batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)


class CommitDrivenWorker(BackgroundLoop):
    def __init__(self, db: Database, *, name: str, batch: int, poll_interval_s: float) -> None:
        super().__init__(name=name, batch=batch, poll_interval_s=poll_interval_s)
        db.on_commit(self.wake)


class PeriodicTask(BackgroundLoop):
    """Runs `job` every `interval_s` (and at once after `wake()`)."""

    def __init__(self, job: Callable[[], Awaitable[object]], *, name: str, interval_s: float) -> None:
        super().__init__(name=name, batch=1, poll_interval_s=interval_s)
        self.job = job

    async def run_once(self) -> int:
        await self.job()
        return 0
