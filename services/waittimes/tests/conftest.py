"""Waittimes under test: the real catalog (centres, queues, hours), the real identity (tokens, API
keys) and waittimes itself, each in-process on a free port with its own database, on one real NATS.
Built from the SDK's test pieces (cityhub_sdk.testing), like every other service's suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from cityhub.waittimes.v1 import waittimes_pb2 as pb
from cityhub.waittimes.v1 import waittimes_pb2_grpc
from cityhub_sdk.app import RunningService
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.testing import (
    FAST_AUTH_ENV,
    TEST_INTERNAL_TOKEN,
    run_on_session_loop,
    start_service,
)
from cityhub_sdk.testing.plugin import DatabaseFactory
from cityhub_sdk.timestamps import to_timestamp
from cityhub_waittimes.app import DEFINITION as WAITTIMES

# What a kiosk integration calls with: the platform's service-to-service token.
INTERNAL = internal_metadata(TEST_INTERNAL_TOKEN)

StartWaittimes = Callable[..., Awaitable[RunningService]]  # type: ignore[type-arg]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every waittimes test runs on the session's loop, where catalog and identity keep running."""
    run_on_session_loop(items, Path(__file__).parent)


@pytest_asyncio.fixture(loop_scope="session")
async def start_waittimes(
    database_factory: DatabaseFactory,
    nats_url: str,
    catalog: RunningService,  # type: ignore[type-arg]
    identity: RunningService,  # type: ignore[type-arg]
) -> AsyncIterator[StartWaittimes]:
    """`await start_waittimes(**settings)`: a fresh waittimes (own database) on a free port, for
    tests that need their own settings or two services side by side; all stop after the test."""
    async with AsyncExitStack() as stack:

        async def start(**settings: Any) -> RunningService:  # type: ignore[type-arg]
            env = {"CATALOG_ADDR": catalog.address, "IDENTITY_ADDR": identity.address, **FAST_AUTH_ENV, **settings}
            return await stack.enter_async_context(start_service(WAITTIMES, database_factory, nats_url, **env))

        yield start


@pytest_asyncio.fixture(loop_scope="session")
async def waittimes(start_waittimes: StartWaittimes) -> RunningService:  # type: ignore[type-arg]
    return await start_waittimes()


@pytest_asyncio.fixture(loop_scope="session")
async def stub(waittimes: RunningService) -> AsyncIterator[waittimes_pb2_grpc.WaitTimesServiceStub]:  # type: ignore[type-arg]
    async with grpc.aio.insecure_channel(waittimes.address) as channel:
        yield waittimes_pb2_grpc.WaitTimesServiceStub(channel)


def event(
    event_id: str, kind: int, at: datetime, *, queue: str = "payments", ticket: str = "", counter: str = ""
) -> pb.QueueEvent:
    return pb.QueueEvent(
        event_id=event_id, queue=queue, kind=kind, ticket=ticket, counter=counter, occurred_at=to_timestamp(at)
    )
