"""Every service built on the SDK verifies callers through identity (IDENTITY_ADDR): tokens
against the JWKS, API keys through VerifyApiKey, the internal token locally."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_identity.config import IdentitySettings
from cityhub_sdk.app import RunningService, ServiceContext, ServiceDefinition, ServiceParts
from cityhub_sdk.auth import current_caller, internal_metadata
from cityhub_sdk.settings import ServiceSettings
from cityhub_sdk.testing import FAST_AUTH_ENV, TEST_INTERNAL_TOKEN, bearer, sign_in, start_service

WHOAMI = "/cityhub.test.Whoami/Get"


async def _setup(context: ServiceContext[ServiceSettings]) -> ServiceParts:
    async def whoami(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        caller = current_caller()
        return f"{caller.role}|{caller.subject or ''}|{caller.department or ''}".encode()

    handler = grpc.method_handlers_generic_handler(
        "cityhub.test.Whoami",
        {"Get": grpc.unary_unary_rpc_method_handler(whoami, lambda b: b, lambda b: b)},
    )
    return ServiceParts(service_names=[], registrations=[lambda server: server.add_generic_rpc_handlers((handler,))])


@pytest.fixture
async def other_service(
    identity: RunningService[IdentitySettings], tmp_path: Path
) -> AsyncIterator[RunningService[ServiceSettings]]:
    definition = ServiceDefinition(
        name="whoami", settings_type=ServiceSettings, migrations=Path(identity.definition.migrations), setup=_setup
    )
    async with start_service(
        definition,
        f"sqlite+aiosqlite:///{tmp_path / 'whoami.db'}",
        identity.settings.nats_url,
        OTEL_SERVICE_NAME="whoami",
        IDENTITY_ADDR=identity.address,
        AUTH_API_KEY_TTL_S=0,
        **FAST_AUTH_ENV,
    ) as service:
        yield service


async def _whoami(address: str, metadata: tuple[tuple[str, str], ...]) -> str:
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.unary_unary(WHOAMI, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        answer: bytes = await call(b"", metadata=metadata, timeout=5)
        return answer.decode()


async def test_other_services_know_the_caller(
    other_service: RunningService[ServiceSettings], stub: identity_pb2_grpc.IdentityServiceStub
) -> None:
    me = bearer(await sign_in(stub, "wired@example.org", register=True))
    account_id = (await stub.GetProfile(identity_pb2.GetProfileRequest(), metadata=me)).profile.account_id
    assert await _whoami(other_service.address, me) == f"resident|{account_id}|"
    assert await _whoami(other_service.address, ()) == "anonymous||"
    assert await _whoami(other_service.address, internal_metadata(TEST_INTERNAL_TOKEN)) == "service|internal|"

    key = await stub.CreateApiKey(
        identity_pb2.CreateApiKeyRequest(department="parks", label="kiosk"),
        metadata=internal_metadata(TEST_INTERNAL_TOKEN),
    )
    assert await _whoami(other_service.address, (("x-api-key", key.key),)) == f"department|{key.key_id}|parks"
    await stub.RevokeApiKey(
        identity_pb2.RevokeApiKeyRequest(key_id=key.key_id), metadata=internal_metadata(TEST_INTERNAL_TOKEN)
    )

    for bad in (
        (("x-api-key", key.key),),  # revoked
        (("authorization", "Bearer not-a-token"),),
        internal_metadata("wrong-internal-token"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await _whoami(other_service.address, bad)
        assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error.value.details() == "invalid or missing credentials"
