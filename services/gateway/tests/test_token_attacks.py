"""Acceptance 1: forged, expired and misdirected tokens get one generic 401 (gateway) or
UNAUTHENTICATED (services); signing-key rotation keeps issued tokens valid until they expire."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import httpx
import jwt
import pytest
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_identity.app import key_store, rotate_keys
from cityhub_sdk.app import RunningService
from cityhub_sdk.auth import AUDIENCE, ISSUER
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SignIn = Callable[..., Awaitable[dict[str, str]]]
GENERIC_401 = {
    "type": "/problems/unauthorized",
    "title": "Sign-in required",
    "status": 401,
    "detail": "invalid or missing credentials",
    "instance": "/v1/me",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(sub: str, **override: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "role": "resident",
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    claims.update(override)
    return claims


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _hs256_with(secret: bytes, kid: str, claims: dict[str, Any]) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


async def _real_key(identity: RunningService) -> tuple[str, Ed25519PrivateKey]:  # type: ignore[type-arg]
    key = await key_store(identity.db, identity.settings).signing_key()
    return key.kid, key.private


async def _forgeries(api: httpx.AsyncClient, identity: RunningService, account_id: str) -> dict[str, str]:  # type: ignore[type-arg]
    kid, private = await _real_key(identity)
    jwks = (await api.get("/.well-known/jwks.json")).json()
    public = next(k for k in jwks["keys"] if k["kid"] == kid)
    public_key = jwt.algorithms.OKPAlgorithm.from_jwk(json.dumps(public))
    public_pem = public_key.public_bytes(  # type: ignore[union-attr]
        encoding=serialization.Encoding.PEM, format=serialization.PublicFormat.SubjectPublicKeyInfo
    )
    good = _claims(account_id)
    return {
        "alg_none": _unsigned({"alg": "none", "typ": "JWT", "kid": kid}, good),
        "hs256_with_public_key": _hs256_with(public_pem, kid, good),
        "hs256_with_jwk_x": _hs256_with(public["x"].encode(), kid, good),
        "expired": jwt.encode(
            _claims(account_id, iat=int(time.time()) - 3600, exp=int(time.time()) - 60),
            private,
            algorithm="EdDSA",
            headers={"kid": kid},
        ),
        "wrong_aud": jwt.encode(
            _claims(account_id, aud="someone-else"), private, algorithm="EdDSA", headers={"kid": kid}
        ),
        "wrong_iss": jwt.encode(_claims(account_id, iss="evil"), private, algorithm="EdDSA", headers={"kid": kid}),
        "unknown_kid": jwt.encode(
            _claims(account_id), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "not-a-cityhub-key"}
        ),
        "foreign_key_known_kid": jwt.encode(
            _claims(account_id), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}
        ),
        "garbage": "not.a.jwt",
    }


async def _account_id(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await api.get("/v1/me", headers=headers)
    assert response.status_code == 200, response.text
    account_id: str = response.json()["account_id"]
    return account_id


async def test_every_bad_token_gets_one_generic_401(
    api: httpx.AsyncClient,
    sign_in: SignIn,
    identity_service: RunningService,  # type: ignore[type-arg]
) -> None:
    headers = await sign_in("victim@example.org")
    account_id = await _account_id(api, headers)
    forgeries = await _forgeries(api, identity_service, account_id)
    bodies = []
    for name, token in forgeries.items():
        response = await api.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (name, response.text)
        bodies.append(response.json())
    missing = await api.get("/v1/me")
    assert missing.status_code == 401
    bodies.append(missing.json())
    # Each answer has its own trace id (so support can find it); everything else is identical.
    assert all(body.pop("trace_id", None) != "" for body in bodies)
    assert all(body == GENERIC_401 for body in bodies), bodies


async def test_bad_tokens_are_refused_by_the_service_itself(
    api: httpx.AsyncClient,
    sign_in: SignIn,
    identity_service: RunningService,  # type: ignore[type-arg]
) -> None:
    """Verification in depth: bypassing the gateway does not help."""
    headers = await sign_in("direct@example.org")
    account_id = await _account_id(api, headers)
    forgeries = await _forgeries(api, identity_service, account_id)
    async with grpc.aio.insecure_channel(identity_service.address) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        for name, token in forgeries.items():
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await stub.GetProfile(
                    identity_pb2.GetProfileRequest(), metadata=(("authorization", f"Bearer {token}"),)
                )
            assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED, name
            assert error.value.details() == "invalid or missing credentials"
        ok = await stub.GetProfile(
            identity_pb2.GetProfileRequest(), metadata=(("authorization", headers["Authorization"]),)
        )
        assert ok.profile.account_id == account_id


async def test_key_rotation_keeps_issued_tokens_valid(
    api: httpx.AsyncClient,
    sign_in: SignIn,
    identity_service: RunningService,  # type: ignore[type-arg]
) -> None:
    before = await sign_in("rotate@example.org")
    old_kid = jwt.get_unverified_header(before["Authorization"].split()[1])["kid"]

    await rotate_keys(identity_service.settings)  # what `python -m cityhub_identity rotate-keys` runs

    after = await sign_in("rotate@example.org")
    new_kid = jwt.get_unverified_header(after["Authorization"].split()[1])["kid"]
    assert new_kid != old_kid
    published = {key["kid"] for key in (await api.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new_kid} <= published
    for headers in (before, after):
        response = await api.get("/v1/me", headers=headers)
        assert response.status_code == 200, response.text
