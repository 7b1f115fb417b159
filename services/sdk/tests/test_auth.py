"""TokenVerifier and CachedApiKeys: a fixed algorithm list, iss/aud/exp, kid lookup, revocation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cityhub_sdk.auth import AUDIENCE, ISSUER, CachedApiKeys, Caller, InvalidToken, TokenVerifier
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY = Ed25519PrivateKey.generate()
KID = "k1"


def _jwks() -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(KEY.public_key()))
    return {"keys": [{**jwk, "kid": KID, "alg": "EdDSA", "use": "sig"}]}


def _claims(**override: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "acct",
        "role": "resident",
        "iat": now,
        "exp": now + 60,
        "sid": "s1",
    } | override


def _token(key: Ed25519PrivateKey = KEY, kid: str = KID, **claims: Any) -> str:
    return jwt.encode(_claims(**claims), key, algorithm="EdDSA", headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _verifier(revoked: set[str] | None = None) -> TokenVerifier:
    async def jwks() -> dict[str, Any]:
        return _jwks()

    async def revocations() -> set[str]:
        return revoked or set()

    return TokenVerifier(jwks, min_refresh_gap_s=0, revoked=revocations, revocation_ttl_s=0)


async def test_a_good_token_gives_the_caller() -> None:
    caller = await _verifier().verify(_token())
    assert (caller.role, caller.subject) == ("resident", "acct")
    assert caller.metadata() == (("authorization", f"Bearer {caller.token}"),)


@pytest.mark.parametrize(
    "token",
    [
        _b64(json.dumps({"alg": "none", "kid": KID}).encode()) + "." + _b64(json.dumps(_claims()).encode()) + ".",
        _token(exp=int(time.time()) - 10),
        _token(aud="other"),
        _token(iss="other"),
        _token(kid="unknown"),
        _token(key=Ed25519PrivateKey.generate()),
        _token(role="admin"),
        _token(role="staff"),  # staff without a department
        "garbage",
    ],
    ids=["alg-none", "expired", "aud", "iss", "unknown-kid", "wrong-key", "bad-role", "staff-no-dept", "garbage"],
)
async def test_refused_tokens(token: str) -> None:
    with pytest.raises(InvalidToken):
        await _verifier().verify(token)


async def test_hs256_signed_with_the_public_key_is_refused() -> None:
    secret = _jwks()["keys"][0]["x"].encode()
    head = _b64(json.dumps({"alg": "HS256", "kid": KID}).encode())
    body = _b64(json.dumps(_claims()).encode())
    signature = _b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(InvalidToken):
        await _verifier().verify(f"{head}.{body}.{signature}")


async def test_revoked_session_is_refused() -> None:
    with pytest.raises(InvalidToken):
        await _verifier(revoked={"s1"}).verify(_token())


async def test_api_key_answers_are_cached_by_hash() -> None:
    calls: list[str] = []

    async def verify(key: str) -> Caller | None:
        calls.append(key)
        return Caller(role="department", subject="k", department="parks", api_key=key) if key == "good" else None

    cache = CachedApiKeys(verify, ttl_s=60)
    assert (await cache("good")) is not None
    assert (await cache("good")) is not None
    assert (await cache("bad")) is None
    assert calls == ["good", "bad"]
    caller = await cache("good")
    assert caller is not None and caller.metadata() == (("x-api-key", "good"),)
    assert "good" not in repr(caller)
