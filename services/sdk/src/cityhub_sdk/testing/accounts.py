"""Real accounts in a running identity service, over its gRPC API, and the metadata to act as them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc

from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.testing.services import TEST_INTERNAL_TOKEN, TEST_PASSWORD

Metadata = tuple[tuple[str, str], ...]


def bearer(access_token: str) -> Metadata:
    """gRPC metadata that calls as the holder of `access_token`."""
    return (("authorization", f"Bearer {access_token}"),)


async def sign_in(
    identity: identity_pb2_grpc.IdentityServiceStub,
    email: str,
    password: str = TEST_PASSWORD,
    *,
    register: bool = False,
    **profile: Any,
) -> str:
    """The access token of `email`; with `register`, signs the resident up first (`profile` fields)."""
    if register:
        await identity.RegisterAccount(identity_pb2.RegisterAccountRequest(email=email, password=password, **profile))
    response = await identity.CreateToken(identity_pb2.CreateTokenRequest(email=email, password=password))
    return str(response.tokens.access_token)


async def create_account(
    identity: identity_pb2_grpc.IdentityServiceStub,
    email: str,
    role: identity_pb2.Role.ValueType,
    *,
    password: str = TEST_PASSWORD,
    internal_token: str = TEST_INTERNAL_TOKEN,
    **fields: Any,
) -> str:
    """An account of any role, made the way the platform does (CreateAccount with the internal token); its id."""
    created = await identity.CreateAccount(
        identity_pb2.CreateAccountRequest(email=email, password=password, role=role, **fields),
        metadata=internal_metadata(internal_token),
    )
    return str(created.account_id)


ROLES: dict[str, identity_pb2.Role.ValueType] = {
    "resident": identity_pb2.ROLE_RESIDENT,
    "staff": identity_pb2.ROLE_STAFF,
    "operator": identity_pb2.ROLE_OPERATOR,
}


@dataclass(frozen=True)
class Person:
    account_id: str
    metadata: Metadata


class People:
    """Makes real accounts (any role, a fresh address each) and department API keys in identity."""

    def __init__(
        self, identity: identity_pb2_grpc.IdentityServiceStub, internal_token: str = TEST_INTERNAL_TOKEN
    ) -> None:
        self.identity = identity
        self.internal_token = internal_token

    async def person(self, role: str = "resident", department: str = "", **fields: Any) -> Person:
        """A signed-in account; `fields` are more CreateAccount fields (e.g. preferred_language)."""
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
        fields.setdefault("display_name", role)
        account_id = await create_account(
            self.identity, email, ROLES[role], department=department, internal_token=self.internal_token, **fields
        )
        return Person(account_id, bearer(await sign_in(self.identity, email)))

    async def api_key(self, department: str) -> Metadata:
        """Metadata that calls as a new API key of `department`."""
        response = await self.identity.CreateApiKey(
            identity_pb2.CreateApiKeyRequest(department=department, label="tests"),
            metadata=internal_metadata(self.internal_token),
        )
        return (("x-api-key", response.key),)
