"""A background worker woken after every commit, polling as a fallback, draining in batches.

The outbox relay and a service's delivery dispatcher both work through rows that a transaction
has just written: waking on commit keeps latency low, polling covers rows written by other
replicas, and a full batch means "go again at once".
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod

from cityhub_sdk.db import Database
from cityhub_sdk.logging import get_logger

log = get_logger(__name__)


class CommitDrivenWorker(ABC):
    def __init__(self, db: Database, *, name: str, batch: int, poll_interval_s: float) -> None:
        self.name = name
        self.batch = batch
        self.poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        db.on_commit(self.wake)

    @abstractmethod
    async def run_once(self) -> int:
        """Handle up to one batch; return how many items were handled."""

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
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
            try:
                handled = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the worker outlives database and network hiccups
                log.warning("worker.failed", worker=self.name, error=type(exc).__name__)
                handled = 0
                await asyncio.sleep(self.poll_interval_s)
            if handled >= self.batch:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval_s)
