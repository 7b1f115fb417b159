"""Ed25519 signing keys: generated on first start, rotated without downtime, published as JWKS.

Rule for publication: a key is published while it is the newest key, or while the key that
replaced it is younger than the access-token lifetime plus a minute (its tokens may still be
live). The newest key signs only once it is `activation_delay_s` old (unless it is the only
key), so every verifier's JWKS cache has seen it before the first token it signed arrives.
Keys live in the database (private keys optionally AES-GCM encrypted) or in a directory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cityhub_sdk.db import Database
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import select

from cityhub_identity.models import SigningKey, aware


@dataclass(frozen=True)
class Key:
    kid: str
    created_at: datetime
    private: Ed25519PrivateKey

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": "EdDSA", "use": "sig"}


def _new_kid(now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _load(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("signing key is not Ed25519")
    return key


class _Sealer:
    """AES-GCM with a key derived from the configured secret; identity when no secret is set."""

    def __init__(self, secret: str | None) -> None:
        self._aead = AESGCM(hashlib.sha256(secret.encode()).digest()) if secret else None

    def seal(self, pem: str) -> str:
        if self._aead is None:
            return pem
        nonce = os.urandom(12)
        return "enc:" + base64.b64encode(nonce + self._aead.encrypt(nonce, pem.encode(), b"signing-key")).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith("enc:"):
            return stored
        if self._aead is None:
            raise RuntimeError("signing keys are encrypted but IDENTITY_KEY_ENCRYPTION_SECRET is not set")
        raw = base64.b64decode(stored[4:])
        return self._aead.decrypt(raw[:12], raw[12:], b"signing-key").decode()


class KeyStore:
    def __init__(
        self,
        db: Database,
        *,
        access_ttl_s: int,
        directory: Path | None = None,
        encryption_secret: str | None = None,
        activation_delay_s: float = 15.0,
        cache_s: float = 5.0,
    ) -> None:
        self.db = db
        self.directory = directory
        self.access_ttl_s = access_ttl_s
        self.activation_delay_s = activation_delay_s
        self.cache_s = cache_s
        self._sealer = _Sealer(encryption_secret)
        self._keys: list[Key] = []
        self._loaded_at = float("-inf")

    # storage ---------------------------------------------------------------------------------
    async def _read(self) -> list[Key]:
        if self.directory is not None:
            keys = []
            for path in sorted(self.directory.glob("*.pem")):
                created = datetime.strptime(path.stem.split("-")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
                keys.append(Key(path.stem, created, _load(path.read_text())))
            return sorted(keys, key=lambda k: k.created_at)
        async with self.db.session() as session:
            rows = (await session.exec(select(SigningKey))).all()
        keys = [Key(row.kid, aware(row.created_at), _load(self._sealer.open(row.private_key))) for row in rows]
        return sorted(keys, key=lambda k: (k.created_at, k.kid))

    async def add_key(self) -> str:
        """Create a new key (the rotate-keys command); older keys stay published until their tokens expire."""
        now = datetime.now(UTC)
        private = Ed25519PrivateKey.generate()
        kid = _new_kid(now)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self.directory / f"{kid}.pem"
            path.write_text(_pem(private))
            path.chmod(0o600)
        else:
            async with self.db.transaction() as session:
                session.add(SigningKey(kid=kid, private_key=self._sealer.seal(_pem(private)), created_at=now))
        self._loaded_at = float("-inf")
        return kid

    async def ensure_key(self) -> None:
        if not await self._read():
            await self.add_key()

    async def keys(self) -> list[Key]:
        if time.monotonic() - self._loaded_at >= self.cache_s:
            self._keys = await self._read()
            self._loaded_at = time.monotonic()
        return self._keys

    # use -------------------------------------------------------------------------------------
    async def signing_key(self) -> Key:
        keys = await self.keys()
        if not keys:
            raise RuntimeError("no signing key: run migrations and start identity once")
        now = datetime.now(UTC)
        active = [k for k in keys if now - k.created_at >= timedelta(seconds=self.activation_delay_s)]
        return active[-1] if active else keys[0]

    async def published(self) -> list[Key]:
        keys = await self.keys()
        now = datetime.now(UTC)
        keep = timedelta(seconds=self.access_ttl_s + 60)
        return [
            key for index, key in enumerate(keys) if index == len(keys) - 1 or now - keys[index + 1].created_at < keep
        ]

    async def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in await self.published()]}
