"""Catalog test platform: the real service in-process (real gRPC, real DB, real NATS), seeded.

`auth` signs real EdDSA access tokens and answers department API keys the way identity does, and
`catalog_auth` runs the catalog with the SDK's AuthInterceptor over them (ServiceParts.auth), so
role checks run through the same interceptor and verifier the runtime builds from identity's JWKS.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc
import jwt
import pytest
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub_catalog.app import DEFINITION, setup
from cityhub_catalog.config import CatalogSettings
from cityhub_catalog.seed import seed_catalog
from cityhub_sdk.app import RunningService, ServiceContext, ServiceParts
from cityhub_sdk.auth import AUDIENCE, ISSUER, ROLE_DEPARTMENT, AuthInterceptor, Caller, TokenVerifier
from cityhub_sdk.testing import start_service
from cityhub_sdk.testing.plugin import DatabaseFactory
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

Service = RunningService[CatalogSettings]


class Authority:
    """Issues access tokens and department keys the way identity does (EdDSA JWTs, opaque keys)."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid = "test-key"
        self.department_keys: dict[str, str] = {}

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}

    def token(self, role: str, subject: str = "acct-1", department: str | None = None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": subject,
            "role": role,
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 600,
        }
        if department:
            claims["dept"] = department
        return jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": self.kid})

    def bearer(self, role: str, department: str | None = None) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token(role, department=department)}"),)

    def department_key(self, department: str) -> str:
        return self.department_keys.setdefault(department, f"dk-{department}-secret")

    async def verify_api_key(self, key: str) -> Caller | None:
        for department, known in self.department_keys.items():
            if key == known:
                return Caller(role=ROLE_DEPARTMENT, subject=f"key-{department}", department=department)
        return None

    def interceptor(self) -> AuthInterceptor:
        async def provider() -> Mapping[str, Any]:
            return self.jwks()

        return AuthInterceptor(TokenVerifier(provider), api_keys=self.verify_api_key)


@pytest.fixture
def auth() -> Authority:
    return Authority()


async def _seed(service: Service) -> None:
    await seed_catalog(service.db)


@pytest.fixture
async def catalog(database_factory: DatabaseFactory, clean_nats: str) -> AsyncIterator[Service]:
    async with start_service(DEFINITION, database_factory, clean_nats, seed=_seed) as service:
        yield service


@pytest.fixture
async def catalog_auth(database_factory: DatabaseFactory, clean_nats: str, auth: Authority) -> AsyncIterator[Service]:
    async def setup_with_auth(context: ServiceContext[CatalogSettings]) -> ServiceParts:
        parts = await setup(context)
        return dataclasses.replace(parts, auth=auth.interceptor())

    definition = dataclasses.replace(DEFINITION, setup=setup_with_auth)
    async with start_service(
        definition,
        database_factory,
        clean_nats,
        seed=_seed,
        REGISTRATION_CHECK_INTERVAL_S=0.2,
        OUTBOUND_ALLOWED_NETWORKS="127.0.0.1/32",  # the stand-in department servers listen on loopback
    ) as service:
        yield service


@pytest.fixture
async def stub(catalog: Service) -> AsyncIterator[catalog_pb2_grpc.CatalogServiceStub]:
    async with grpc.aio.insecure_channel(catalog.address) as channel:
        yield catalog_pb2_grpc.CatalogServiceStub(channel)


@pytest.fixture
async def auth_stub(catalog_auth: Service) -> AsyncIterator[catalog_pb2_grpc.CatalogServiceStub]:
    async with grpc.aio.insecure_channel(catalog_auth.address) as channel:
        yield catalog_pb2_grpc.CatalogServiceStub(channel)


__all__ = ["Authority", "catalog_pb2"]
