"""Idempotent creates: a client retrying with the same `idempotency_key` gets the first result.

A key is remembered per (caller scope, kind) in the same transaction as the object it created, so
the object and its key commit together (no second object, no second event). The request's
fingerprint is kept with it: the same key with a different request is refused (ALREADY_EXISTS).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from cityhub_sdk.auth import Caller
from cityhub_sdk.db import Database
from cityhub_sdk.errors import AlreadyExists, InvalidArgument
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_incidents.models import IdempotencyKey
from cityhub_incidents.repository import dao_idempotency_key

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class IdempotencyClaim:
    """A validated key with who it belongs to and what it was sent with."""

    scope: str
    kind: str
    key: str
    fingerprint: str


def fingerprint(payload: object, blob: bytes = b"") -> str:
    """A stable hash of a request: its JSON-able fields plus an optional binary part (the photo)."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode())
    digest.update(hashlib.sha256(blob).digest())
    return digest.hexdigest()


def caller_scope(caller: Caller, device_id: str = "") -> str:
    """Keys belong to a signed-in account or system; anonymous callers share one space per device id."""
    if caller.is_authenticated:
        return f"{caller.role}:{caller.subject or caller.department}"[:128]
    return f"anonymous:{device_id}"[:128]


def claim(
    caller: Caller, kind: str, key: str, request_fingerprint: str, *, device_id: str = ""
) -> IdempotencyClaim | None:
    """None when no key was sent; InvalidArgument for a malformed one."""
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InvalidArgument(f"idempotency_key must be 1..{MAX_KEY_LENGTH} printable ASCII characters")
    return IdempotencyClaim(caller_scope(caller, device_id), kind, key, request_fingerprint)


async def replayed_id(db: Database, found: IdempotencyClaim) -> str | None:
    """The id created earlier under this key, if any; AlreadyExists when the request differs."""
    async with db.session() as session:
        row = await dao_idempotency_key(session, found.scope, found.kind, found.key)
    if row is None:
        return None
    if row.fingerprint != found.fingerprint:
        raise AlreadyExists("idempotency key already used for a different request")
    return row.resource_id


async def remember(session: AsyncSession, found: IdempotencyClaim, resource_id: str) -> None:
    """Record the key inside the creating transaction; a concurrent twin fails on the primary key."""
    session.add(
        IdempotencyKey(
            scope=found.scope,
            kind=found.kind,
            key=found.key,
            fingerprint=found.fingerprint,
            resource_id=resource_id,
        )
    )
    await session.flush()
