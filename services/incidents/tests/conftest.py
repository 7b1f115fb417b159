"""Incidents under test: the real catalog (routing, boundary), the real identity (tokens, API keys)
and incidents itself, each in-process on a free port with its own fresh database, on one real NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from cityhub.incidents.v1 import incidents_pb2_grpc
from cityhub_incidents.app import DEFINITION as INCIDENTS
from cityhub_sdk.app import RunningService
from cityhub_sdk.testing import FAST_AUTH_ENV, run_on_session_loop, start_service
from cityhub_sdk.testing.plugin import DatabaseFactory

CENTRE = (47.6062, -122.3321)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every incidents test runs on the session's loop, where catalog and identity keep running."""
    run_on_session_loop(items, Path(__file__).parent)


def incidents_env(catalog: RunningService, identity: RunningService) -> dict[str, Any]:  # type: ignore[type-arg]
    """Settings every incidents under test shares: its peers and the platform's token."""
    return {"CATALOG_ADDR": catalog.address, "IDENTITY_ADDR": identity.address, **FAST_AUTH_ENV}


@pytest_asyncio.fixture(loop_scope="session")
async def incidents(
    database_factory: DatabaseFactory,
    nats_url: str,
    catalog: RunningService,  # type: ignore[type-arg]
    identity: RunningService,  # type: ignore[type-arg]
    tmp_path: Path,
) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    async with start_service(
        INCIDENTS,
        database_factory,
        nats_url,
        PHOTO_STORAGE_URL=f"file://{tmp_path / 'photos'}",
        ALERT_SWEEP_INTERVAL_S=0.2,
        **incidents_env(catalog, identity),
    ) as service:
        yield service


@pytest_asyncio.fixture(loop_scope="session")
async def stub(incidents: RunningService) -> AsyncIterator[incidents_pb2_grpc.IncidentsServiceStub]:  # type: ignore[type-arg]
    async with grpc.aio.insecure_channel(incidents.address) as channel:
        yield incidents_pb2_grpc.IncidentsServiceStub(channel)
