"""Identity running in-process on a free port with its own database and a real NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from cityhub.identity.v1 import identity_pb2_grpc
from cityhub_identity.app import DEFINITION
from cityhub_identity.config import IdentitySettings
from cityhub_sdk.app import RunningService
from cityhub_sdk.testing import IDENTITY_TEST_ENV, TEST_INTERNAL_TOKEN, start_service


@pytest.fixture
async def identity(database_url: str, clean_nats: str) -> AsyncIterator[RunningService[IdentitySettings]]:
    async with start_service(
        DEFINITION, database_url, clean_nats, INTERNAL_API_TOKEN=TEST_INTERNAL_TOKEN, **IDENTITY_TEST_ENV
    ) as service:
        yield service


@pytest.fixture
async def stub(identity: RunningService[IdentitySettings]) -> AsyncIterator[identity_pb2_grpc.IdentityServiceStub]:
    async with grpc.aio.insecure_channel(identity.address) as channel:
        yield identity_pb2_grpc.IdentityServiceStub(channel)
