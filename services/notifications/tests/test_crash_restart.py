"""Acceptance 2: SIGKILL the notifications process in the middle of a burst of 1,000 events,
restart it, and find exactly 1,000 notifications: none lost, none doubled.

The service runs as a real subprocess (`python -m cityhub_notifications`) on the test's NATS and
database; the events are real JetStream messages.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cityhub.incidents.v1 import events_pb2 as incidents
from cityhub_notifications.app import DEFINITION
from cityhub_sdk import subjects
from cityhub_sdk.db import Database
from cityhub_sdk.migrations import upgrade_async
from cityhub_sdk.testing import eventually, free_port
from sqlalchemy import text

from .conftest import Publish

pytestmark = pytest.mark.slow

EVENTS = 1000
ROOT = Path(__file__).resolve().parents[3]


class ServiceProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cityhub_notifications"],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def service_process(database_url: str, clean_nats: str, tmp_path: Path) -> Iterator[ServiceProcess]:
    env = {
        "OTEL_SERVICE_NAME": "notifications",
        "DATABASE_URL": database_url,
        "NATS_URL": clean_nats,
        "GRPC_HOST": "127.0.0.1",
        "GRPC_PORT": str(free_port()),
        "NATS_STREAMS_FILE": str(ROOT / "deploy" / "nats" / "streams.yaml"),
        "LOG_JSON": "true",
        "LOG_LEVEL": "WARNING",
        "DEFAULT_CHANNEL_CHAIN": "[]",
    }
    process = ServiceProcess(env, tmp_path / "notifications.log")
    try:
        yield process
    finally:
        process.stop()
        print(process.log.read_text()[-3000:])  # shown by pytest when the test failed


async def scalar(db: Database, sql: str) -> int:
    async with db.session() as session:
        return int((await (await session.connection()).execute(text(sql))).scalar_one())


async def test_kill_mid_burst_and_restart_gives_exactly_one_notification_per_event(
    database_url: str, service_process: ServiceProcess, publish: Publish
) -> None:
    await upgrade_async(DEFINITION.migrations, database_url)
    db = Database(database_url)
    try:
        service_process.start()
        await publish(subjects.INCIDENTS_REPORT_FOLLOWED, incidents.ReportFollowed(report_id="r-1", account_id="acc-1"))

        async def subscribed() -> bool:
            return await scalar(db, "SELECT count(*) FROM subscriptions") == 1

        await eventually(subscribed, 30)

        async def burst() -> None:
            for index in range(EVENTS):
                change = incidents.ReportStatusChanged(
                    report_id="r-1",
                    category="pothole",
                    old_status="open",
                    new_status="in_progress",
                    public_note=str(index),
                )
                await publish(subjects.INCIDENTS_REPORT_STATUS_CHANGED, change)

        publishing = asyncio.create_task(burst())
        await eventually(lambda: _at_least(db, 50), 60)
        service_process.kill()  # mid-burst: some events handled, some in flight, the rest not yet sent
        killed_at = await scalar(db, "SELECT count(*) FROM notifications")
        await publishing
        assert killed_at < EVENTS, "the burst finished before the kill; nothing was tested"

        service_process.start()
        await eventually(lambda: _at_least(db, EVENTS), 180)
        await asyncio.sleep(2)  # anything doubled would show up now
        assert await scalar(db, "SELECT count(*) FROM notifications") == EVENTS
        assert await scalar(db, "SELECT count(DISTINCT source_event_id) FROM notifications") == EVENTS
        processed = "SELECT count(*) FROM processed_events WHERE consumer = 'notifications-incidents'"
        assert await scalar(db, processed) == EVENTS + 1  # the follow and the 1,000 changes
    finally:
        await db.dispose()


async def _at_least(db: Database, expected: int) -> bool:
    return await scalar(db, "SELECT count(*) FROM notifications") >= expected
