"""Access tokens (EdDSA JWTs) and refresh-token values (opaque, stored only as sha256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cityhub_sdk.auth import ALGORITHMS, AUDIENCE, ISSUER, ROLE_STAFF

from cityhub_identity.keys import KeyStore


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def successor_of(secret: bytes, token: str) -> str:
    """The next refresh token, derived (not stored): re-presenting a token inside the grace
    window yields the very same successor, without keeping any token in clear text."""
    digest = hmac.new(secret, b"refresh-successor:" + token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class AccessTokens:
    def __init__(self, keys: KeyStore, *, ttl_s: int) -> None:
        self.keys = keys
        self.ttl_s = ttl_s

    async def issue(self, *, account_id: str, role: str, department: str | None, session_id: str) -> str:
        key = await self.keys.signing_key()
        now = datetime.now(UTC)
        claims: dict[str, object] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": account_id,
            "role": role,
            "iat": now,
            "exp": now + timedelta(seconds=self.ttl_s),
            "jti": str(uuid.uuid4()),
            "sid": session_id,
        }
        if role == ROLE_STAFF and department:
            claims["dept"] = department
        return jwt.encode(claims, key.private, algorithm=ALGORITHMS[0], headers={"kid": key.kid})
