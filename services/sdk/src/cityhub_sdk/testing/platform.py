"""Session-wide catalog, identity and `people` fixtures for service suites that run on the session loop.

A suite imports them into its conftest (`from cityhub_sdk.testing.platform import catalog, identity,
people`) together with `run_on_session_loop`. The definitions are imported when a fixture runs, so
the SDK keeps no import-time dependency on any service package.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import pytest_asyncio
from cityhub.identity.v1 import identity_pb2_grpc

from cityhub_sdk.app import RunningService
from cityhub_sdk.testing.accounts import People
from cityhub_sdk.testing.plugin import DatabaseFactory
from cityhub_sdk.testing.services import FAST_AUTH_ENV, IDENTITY_TEST_ENV, start_service


def _attribute(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def catalog(database_factory: DatabaseFactory, nats_url: str) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    """The real catalog, seeded with the demo city (centres, queues, hours, services)."""
    seed_catalog = _attribute("cityhub_catalog.seed", "seed_catalog")
    definition = _attribute("cityhub_catalog.app", "DEFINITION")
    async with start_service(
        definition, database_factory, nats_url, seed=lambda s: seed_catalog(s.db), **FAST_AUTH_ENV
    ) as service:
        yield service


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def identity(
    database_factory: DatabaseFactory, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    """The real identity: tokens, department API keys, profiles; new signing keys usable at once."""
    async with start_service(
        _attribute("cityhub_identity.app", "DEFINITION"),
        database_factory,
        nats_url,
        IDENTITY_SIGNING_KEYS_DIR=str(tmp_path_factory.mktemp("keys")),
        IDENTITY_PSEUDONYM_SECRET="tests-pseudonym-secret",
        **IDENTITY_TEST_ENV,
        **FAST_AUTH_ENV,
    ) as service:
        yield service


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def people(identity: RunningService) -> AsyncIterator[People]:  # type: ignore[type-arg]
    """Residents, staff and department keys made through the identity fixture."""
    async with grpc.aio.insecure_channel(identity.address) as channel:
        yield People(identity_pb2_grpc.IdentityServiceStub(channel))
