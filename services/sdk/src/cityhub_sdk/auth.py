"""Who is calling: verification in depth, so each service enforces ownership itself.

The gateway forwards the resident's access token (`authorization: Bearer <jwt>`); every service's
interceptor verifies it again against identity's JWKS (fixed algorithm list, `iss`, `aud`, `exp`)
and exposes the caller through `current_caller()`. Department systems send `x-api-key`, checked by
a verifier the service is given (identity answers it). Calls between services that act for nobody
carry the platform's internal token (`x-cityhub-internal`), a Kubernetes secret in production.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import jwt
from jwt import PyJWKSet

from cityhub_sdk.logging import get_logger

log = get_logger(__name__)

GENERIC_DETAIL = "invalid or missing credentials"  # one answer for every refused credential
ALGORITHMS = ("EdDSA",)  # the only algorithm identity signs with; never taken from the token
ISSUER = "cityhub-identity"
AUDIENCE = "cityhub"

ROLE_ANONYMOUS = "anonymous"
ROLE_RESIDENT = "resident"
ROLE_STAFF = "staff"
ROLE_OPERATOR = "operator"
ROLE_DEPARTMENT = "department"  # a department system authenticated by API key
ROLE_SERVICE = "service"  # another CityHub service, acting for nobody in particular


@dataclass(frozen=True)
class Caller:
    role: str = ROLE_ANONYMOUS
    subject: str | None = None  # account id for people, key id for department systems
    department: str | None = None  # staff and department systems
    token: str | None = field(default=None, repr=False)  # the verified bearer token, forwarded downstream
    api_key: str | None = field(default=None, repr=False)  # a department system's verified key, forwarded

    @property
    def is_authenticated(self) -> bool:
        return self.role != ROLE_ANONYMOUS

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Metadata that makes a downstream call act for the same caller."""
        if self.token:
            return (("authorization", f"Bearer {self.token}"),)
        if self.api_key:
            return (("x-api-key", self.api_key),)
        return ()


ANONYMOUS = Caller()
_current: contextvars.ContextVar[Caller] = contextvars.ContextVar("cityhub_caller", default=ANONYMOUS)


def current_caller() -> Caller:
    return _current.get()


class InvalidToken(Exception):
    """Any reason a token is refused; the reason is never shown to the client."""


JwksProvider = Callable[[], Awaitable[Mapping[str, Any]]]
RevocationProvider = Callable[[], Awaitable[Collection[str]]]
ApiKeyVerifier = Callable[[str], Awaitable[Caller | None]]


class CredentialsUnavailable(Exception):
    """Identity cannot be asked and what is known of it is too old: fail closed, retryable (503)."""


# What a call to identity raises when identity is down, paused or cut off.
_IDENTITY_DOWN = (grpc.aio.AioRpcError, TimeoutError, OSError)
REVOCATION_MAX_STALE_S = 60.0  # the documented bound (README "Guarantees")


class TokenVerifier:
    """Verifies access tokens locally from a cached JWKS; an unknown `kid` triggers one refresh.

    `revoked` (optional) lists revoked session ids (`sid` claim): logout and refresh-token reuse
    end the session's access tokens too, within `revocation_ttl_s` of the revocation.

    Identity unreachable (down, paused, partitioned): tokens keep being checked against the last
    revocation list fetched, for at most `revocation_max_stale_s` after that fetch, and against
    the cached signing keys; past the bound verification fails closed (`CredentialsUnavailable`).
    A failed fetch is retried at most every `revocation_retry_s` and waits at most
    `revocation_timeout_s`, so an outage costs one short wait, not one per request.
    """

    def __init__(
        self,
        jwks: JwksProvider,
        *,
        refresh_interval_s: float = 300.0,
        min_refresh_gap_s: float = 10.0,
        revoked: RevocationProvider | None = None,
        revocation_ttl_s: float = 5.0,
        revocation_max_stale_s: float = REVOCATION_MAX_STALE_S,
        revocation_timeout_s: float = 1.5,
        revocation_retry_s: float = 5.0,
    ) -> None:
        self._provider = jwks
        self._keys: PyJWKSet | None = None
        self._fetched_at = 0.0
        self._keys_retry_at = float("-inf")
        self.refresh_interval_s = refresh_interval_s
        self.min_refresh_gap_s = min_refresh_gap_s
        self._revoked_provider = revoked
        self._revoked: frozenset[str] = frozenset()
        self._revoked_at = float("-inf")
        self._revoked_retry_at = float("-inf")
        self.revocation_ttl_s = revocation_ttl_s
        self.revocation_max_stale_s = revocation_max_stale_s
        self.revocation_timeout_s = revocation_timeout_s
        self.revocation_retry_s = revocation_retry_s

    async def _is_revoked(self, session_id: str | None) -> bool:
        if self._revoked_provider is None or session_id is None:
            return False
        now = time.monotonic()
        if now - self._revoked_at >= self.revocation_ttl_s and now >= self._revoked_retry_at:
            try:
                revoked = await asyncio.wait_for(self._revoked_provider(), self.revocation_timeout_s)
            except _IDENTITY_DOWN:
                self._revoked_retry_at = now + self.revocation_retry_s
                log.warning("auth.revocations_unreachable", age_s=round(now - self._revoked_at, 1))
            else:
                self._revoked, self._revoked_at = frozenset(revoked), now
                self._revoked_retry_at = float("-inf")
        if time.monotonic() - self._revoked_at > max(self.revocation_max_stale_s, self.revocation_ttl_s):
            raise CredentialsUnavailable("revocation state unknown for too long")
        return session_id in self._revoked

    async def _keyset(self, *, force: bool = False) -> PyJWKSet:
        now = time.monotonic()
        stale = now - self._fetched_at > self.refresh_interval_s
        may_force = now - self._fetched_at > self.min_refresh_gap_s
        if self._keys is None or (force and may_force) or (stale and now >= self._keys_retry_at):
            try:
                self._keys = PyJWKSet.from_dict(dict(await self._provider()))
            except _IDENTITY_DOWN:
                if self._keys is None or force:
                    raise
                # Keys rotate slowly and a token still needs a valid signature: keep the known ones.
                self._keys_retry_at = now + self.revocation_retry_s
                log.warning("auth.jwks_unreachable")
            else:
                self._fetched_at = now
        return self._keys

    async def _key_for(self, kid: str) -> Any:
        for force in (False, True):
            keyset = await self._keyset(force=force)
            for key in keyset.keys:
                if key.key_id == kid:
                    return key.key
        raise InvalidToken("unknown kid")

    async def verify(self, token: str) -> Caller:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed") from exc
        if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
            raise InvalidToken("algorithm or kid refused")
        key = await self._key_for(header["kid"])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken("signature or claims refused") from exc
        role = claims.get("role", ROLE_RESIDENT)
        if role not in (ROLE_RESIDENT, ROLE_STAFF, ROLE_OPERATOR):
            raise InvalidToken("role refused")
        if role == ROLE_STAFF and not claims.get("dept"):
            raise InvalidToken("staff without department")
        sid = claims.get("sid")
        if await self._is_revoked(sid if isinstance(sid, str) else None):
            raise InvalidToken("session revoked")
        return Caller(role=role, subject=str(claims["sub"]), department=claims.get("dept"), token=token)


def _wrap(
    handler: grpc.RpcMethodHandler, resolve: Callable[[grpc.aio.ServicerContext], Awaitable[Caller]]
) -> grpc.RpcMethodHandler:
    if handler.unary_unary is not None:
        inner_uu = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = _current.set(await resolve(context))
            try:
                return await inner_uu(request, context)
            finally:
                _current.reset(token)

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        inner_us = handler.unary_stream

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            token = _current.set(await resolve(context))
            try:
                async for item in inner_us(request, context):
                    yield item
            finally:
                _current.reset(token)

        return grpc.unary_stream_rpc_method_handler(
            unary_stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return handler  # streaming requests are not used by CityHub


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Resolves the caller of every RPC; a presented but invalid credential is UNAUTHENTICATED."""

    def __init__(
        self,
        verifier: TokenVerifier | None,
        *,
        api_keys: ApiKeyVerifier | None = None,
        internal_token: str | None = None,
        public_methods: Sequence[str] = ("/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"),
    ) -> None:
        self.verifier = verifier
        self.api_keys = api_keys
        self.internal_token = internal_token
        self.public_methods = frozenset(public_methods)

    async def resolve(self, metadata: Mapping[str, str]) -> Caller:
        internal = metadata.get("x-cityhub-internal")
        if internal is not None:
            if self.internal_token and hmac.compare_digest(internal, self.internal_token):
                return Caller(role=ROLE_SERVICE, subject="internal")
            raise InvalidToken("internal token refused")
        authorization = metadata.get("authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token or self.verifier is None:
                raise InvalidToken("bad authorization")
            return await self.verifier.verify(token.strip())
        api_key = metadata.get("x-api-key")
        if api_key is not None:
            caller = await self.api_keys(api_key) if self.api_keys is not None else None
            if caller is None:
                raise InvalidToken("api key refused")
            return caller
        return ANONYMOUS

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method in self.public_methods:
            return handler
        metadata = {
            key.lower(): value
            for key, value in (handler_call_details.invocation_metadata or ())
            if isinstance(value, str)
        }

        async def resolve(context: grpc.aio.ServicerContext) -> Caller:
            try:
                return await self.resolve(metadata)
            except InvalidToken:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, GENERIC_DETAIL)
                raise  # abort raises; this keeps type checkers honest
            except (grpc.aio.AioRpcError, CredentialsUnavailable):
                # identity (JWKS, revocations, API keys) unreachable: fail closed, retryable
                await context.abort(grpc.StatusCode.UNAVAILABLE, "credentials cannot be checked right now")
                raise

        return _wrap(handler, resolve)


async def require(context: grpc.aio.ServicerContext, *roles: str) -> Caller:
    """The caller, if it has one of `roles`; otherwise the RPC ends (UNAUTHENTICATED / PERMISSION_DENIED)."""
    caller = current_caller()
    if not caller.is_authenticated:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "sign-in required")
    if roles and caller.role not in roles:
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not allowed for this role")
    return caller


def internal_metadata(internal_token: str) -> tuple[tuple[str, str], ...]:
    return (("x-cityhub-internal", internal_token),)


class CachedApiKeys:
    """Caches API-key answers (by the key's hash) for `ttl_s`: a revoked key stops working within it."""

    def __init__(self, verify: ApiKeyVerifier, *, ttl_s: float = 60.0, max_entries: int = 10_000) -> None:
        self._verify = verify
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._cache: dict[str, tuple[float, Caller | None]] = {}

    async def __call__(self, key: str) -> Caller | None:
        digest = hashlib.sha256(key.encode()).hexdigest()
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        caller = await self._verify(key)
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        self._cache[digest] = (now, caller)
        return caller


class IdentityClient:
    """The SDK's view of the identity service: JWKS, revoked sessions and API keys over gRPC.

    Imported lazily by the runtime so that the SDK stays usable without identity running.
    """

    def __init__(self, address: str, *, internal_token: str | None, timeout_s: float = 3.0) -> None:
        from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc

        from cityhub_sdk.grpc_client import create_channel

        self._pb = identity_pb2
        self.channel = create_channel(
            address,
            services=[identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]],
            default_timeout_s=timeout_s,
        )
        self.stub = identity_pb2_grpc.IdentityServiceStub(self.channel)
        self.internal_token = internal_token

    async def jwks(self) -> Mapping[str, Any]:
        response = await self.stub.GetJwks(self._pb.GetJwksRequest())
        document: dict[str, Any] = json.loads(response.jwks_json)
        return document

    async def revoked_sessions(self) -> Collection[str]:
        response = await self.stub.ListRevokedSessions(self._pb.ListRevokedSessionsRequest())
        return list(response.session_ids)

    async def verify_api_key(self, key: str) -> Caller | None:
        if not self.internal_token:
            return None
        response = await self.stub.VerifyApiKey(
            self._pb.VerifyApiKeyRequest(key=key), metadata=internal_metadata(self.internal_token)
        )
        if not response.valid:
            return None
        return Caller(role=ROLE_DEPARTMENT, subject=response.key_id, department=response.department, api_key=key)

    def verifier(
        self, *, revocation_ttl_s: float = 5.0, revocation_max_stale_s: float = REVOCATION_MAX_STALE_S
    ) -> TokenVerifier:
        return TokenVerifier(
            self.jwks,
            revoked=self.revoked_sessions,
            revocation_ttl_s=revocation_ttl_s,
            revocation_max_stale_s=revocation_max_stale_s,
        )

    def interceptor(self, *, revocation_ttl_s: float = 5.0, api_key_ttl_s: float = 60.0) -> AuthInterceptor:
        return AuthInterceptor(
            self.verifier(revocation_ttl_s=revocation_ttl_s),
            api_keys=CachedApiKeys(self.verify_api_key, ttl_s=api_key_ttl_s),
            internal_token=self.internal_token,
        )

    async def close(self) -> None:
        await self.channel.close(grace=None)
