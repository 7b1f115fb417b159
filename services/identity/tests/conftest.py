"""Identity running in-process on a free port with its own database and a real NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_identity.app import DEFINITION
from cityhub_identity.config import IdentitySettings
from cityhub_sdk.app import RunningService, running
from cityhub_sdk.migrations import upgrade_async
from cityhub_sdk.testing import service_settings

INTERNAL = "identity-test-internal-token"
PASSWORD = "correct horse battery staple"


@pytest.fixture
async def identity(database_url: str, clean_nats: str) -> AsyncIterator[RunningService[IdentitySettings]]:
    await upgrade_async(DEFINITION.migrations, database_url)
    settings = service_settings(
        IdentitySettings,
        database_url=database_url,
        nats_url=clean_nats,
        INTERNAL_API_TOKEN=INTERNAL,
        IDENTITY_KEY_ACTIVATION_DELAY_S=0,
        IDENTITY_KEY_CACHE_S=0,
    )
    async with running(DEFINITION, settings) as service:
        yield service


@pytest.fixture
async def stub(identity: RunningService[IdentitySettings]) -> AsyncIterator[identity_pb2_grpc.IdentityServiceStub]:
    async with grpc.aio.insecure_channel(identity.address) as channel:
        yield identity_pb2_grpc.IdentityServiceStub(channel)


async def signed_in(stub: identity_pb2_grpc.IdentityServiceStub, email: str) -> tuple[tuple[str, str], ...]:
    await stub.RegisterAccount(identity_pb2.RegisterAccountRequest(email=email, password=PASSWORD))
    response = await stub.CreateToken(identity_pb2.CreateTokenRequest(email=email, password=PASSWORD))
    return (("authorization", f"Bearer {response.tokens.access_token}"),)
