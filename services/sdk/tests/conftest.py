"""Shared set-up for SDK tests: the platform tables in a fresh real database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cityhub_sdk.bus import EventBus
from cityhub_sdk.db import Database
from cityhub_sdk.tables import DeadLetter, OutboxEvent, ProcessedEvent
from sqlmodel import SQLModel


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    tables = [OutboxEvent.__table__, ProcessedEvent.__table__, DeadLetter.__table__]  # type: ignore[attr-defined]
    async with database.engine.begin() as connection:
        await connection.run_sync(lambda sync: SQLModel.metadata.create_all(sync, tables=tables))
    yield database
    await database.dispose()


@pytest.fixture
async def bus(clean_nats: str) -> AsyncIterator[EventBus]:
    event_bus = EventBus(clean_nats, service_name="sdk-tests")
    await event_bus.connect()
    yield event_bus
    await event_bus.close()
