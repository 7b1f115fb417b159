"""VAPID keys: VAPID_PRIVATE_KEY in production; a key pair generated once into the database locally."""

from __future__ import annotations

from cityhub_sdk.db import Database
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02, b64urlencode  # type: ignore[import-untyped]

from cityhub_notifications.models import VapidKey


def public_key_of(private_key: str) -> str:
    vapid = Vapid02.from_raw(private_key.encode())
    point = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return str(b64urlencode(point))


def generate_private_key() -> str:
    vapid = Vapid02()
    vapid.generate_keys()
    return str(b64urlencode(vapid.private_key.private_numbers().private_value.to_bytes(32, "big")))


async def load_or_create(db: Database, configured: str | None) -> str:
    """The private key (base64url raw scalar) to sign with."""
    if configured:
        return configured
    async with db.transaction() as session:
        row = await session.get(VapidKey, 1)
        if row is None:
            private_key = generate_private_key()
            row = VapidKey(id=1, private_key=private_key, public_key=public_key_of(private_key))
            session.add(row)
        return row.private_key
