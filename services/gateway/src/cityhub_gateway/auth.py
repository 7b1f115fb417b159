"""Who is calling the gateway: access tokens verified locally (JWKS from identity, cached),
department API keys verified through identity (cached), revoked sessions polled from identity (while identity is unreachable, the last list known is used
for at most AUTH_REVOCATION_MAX_STALE_S; then signed-in routes answer 503).

Every refused credential gives the same 401 body; the reason is never shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any

import grpc
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_sdk.auth import (
    ANONYMOUS,
    GENERIC_DETAIL,
    ROLE_DEPARTMENT,
    CachedApiKeys,
    Caller,
    CredentialsUnavailable,
    InvalidToken,
    TokenVerifier,
    internal_metadata,
)
from litestar import Request
from litestar.connection import ASGIConnection

from cityhub_gateway.config import GatewaySettings
from cityhub_gateway.errors import ApiError

IdentityStub = Callable[[], identity_pb2_grpc.IdentityServiceStub]


def unauthorized() -> ApiError:
    """The one answer to every missing, malformed, expired, revoked or forged credential."""
    return ApiError("unauthorized", GENERIC_DETAIL, headers={"WWW-Authenticate": 'Bearer realm="cityhub"'})


class Authenticator:
    def __init__(self, identity: IdentityStub, settings: GatewaySettings) -> None:
        self._identity = identity
        self._internal_token = settings.internal_api_token
        self.verifier = TokenVerifier(
            self._jwks,
            min_refresh_gap_s=settings.jwks_min_refresh_s,
            revoked=self._revoked,
            revocation_ttl_s=settings.revocation_ttl_s,
            revocation_max_stale_s=settings.revocation_max_stale_s,
        )
        self.api_keys = CachedApiKeys(self._verify_api_key, ttl_s=settings.api_key_ttl_s)

    async def jwks(self) -> dict[str, Any]:
        document: dict[str, Any] = await self._jwks()
        return document

    async def _jwks(self) -> dict[str, Any]:
        response = await self._identity().GetJwks(identity_pb2.GetJwksRequest())
        document: dict[str, Any] = json.loads(response.jwks_json)
        return document

    async def _revoked(self) -> Collection[str]:
        response = await self._identity().ListRevokedSessions(identity_pb2.ListRevokedSessionsRequest())
        return list(response.session_ids)

    async def _verify_api_key(self, key: str) -> Caller | None:
        if not self._internal_token:
            return None
        response = await self._identity().VerifyApiKey(
            identity_pb2.VerifyApiKeyRequest(key=key), metadata=internal_metadata(self._internal_token)
        )
        if not response.valid:
            return None
        return Caller(role=ROLE_DEPARTMENT, subject=response.key_id, department=response.department, api_key=key)

    async def authenticate(self, headers: Mapping[str, str]) -> Caller:
        """The caller behind the request's credentials; ANONYMOUS when none were sent."""
        authorization = headers.get("authorization")
        api_key = headers.get("x-api-key")
        try:
            if authorization is not None:
                scheme, _, token = authorization.partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    raise unauthorized()
                return await self.verifier.verify(token.strip())
            if api_key is not None:
                caller = await self.api_keys(api_key.strip())
                if caller is None:
                    raise unauthorized()
                return caller
        except InvalidToken as exc:
            raise unauthorized() from exc
        except (grpc.aio.AioRpcError, CredentialsUnavailable) as exc:
            raise ApiError("service-unavailable", "credentials cannot be checked right now") from exc
        return ANONYMOUS


def connection_caller(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    caller = connection.scope.get("state", {}).get("caller")
    return caller if isinstance(caller, Caller) else ANONYMOUS


def provide_caller(request: Request[Any, Any, Any]) -> Caller:
    """The `caller` dependency: who the policy guard authenticated (ANONYMOUS on public routes).

    Forward it on gRPC calls with `metadata=caller.metadata()` so the service checks it again.
    """
    return connection_caller(request)
