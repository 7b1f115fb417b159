"""What other services and the platform's operators ask of identity: contacts, places,
pseudonyms, consent checks, department API keys, erasure progress."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cityhub_sdk.auth import ROLE_DEPARTMENT, Caller
from cityhub_sdk.db import Database
from cityhub_sdk.errors import InvalidArgument, NotFound
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_identity import validation
from cityhub_identity.models import Account, ApiKey, ErasureConfirmation, ErasureRequest, Place, Pseudonym, aware
from cityhub_identity.repository import (
    dao_api_key,
    dao_confirmations,
    dao_consent_history,
    dao_erasure,
    dao_place,
    dao_pseudonym_owner,
)
from cityhub_identity.secrets_store import SecretStore
from cityhub_identity.service.residents import current_consents, live_account
from cityhub_identity.tokens import sha256_hex

API_KEY_PREFIX = "chk"


@dataclass(frozen=True)
class ErasureStatus:
    erasure_id: str
    expected: list[str]
    confirmed: list[str]
    requested_at: datetime
    completed_at: datetime | None


class AdminService:
    def __init__(self, db: Database, secrets_store: SecretStore) -> None:
        self.db = db
        self.secrets = secrets_store

    async def contact(self, account_id: str) -> Account:
        async with self.db.session() as session:
            return await live_account(session, account_id)

    async def place(self, account_id: str, place_id: str) -> Place:
        async with self.db.session() as session:
            place = await dao_place(session, account_id, place_id)
        if place is None:
            raise NotFound("place not found")
        return place

    # pseudonyms ------------------------------------------------------------------------------
    async def pseudonym(self, account_id: str, department: str) -> str:
        """HMAC(server secret, department + account): stable per department, unlinkable across them."""
        department = validation.slug(department, "department")
        secret = await self.secrets.get("pseudonym")
        value = hmac.new(secret, f"{department}\x00{account_id}".encode(), hashlib.sha256).hexdigest()
        async with self.db.session() as session:
            await live_account(session, account_id)
            known = await dao_pseudonym_owner(session, department, value)
        if known is None:
            try:
                async with self.db.transaction() as session:
                    session.add(Pseudonym(department=department, pseudonym=value, account_id=account_id))
            except IntegrityError:
                pass  # recorded concurrently
        return value

    async def check_consent(self, caller: Caller, *, resident: str, department: str, purpose: str, field: str) -> bool:
        """Platform services name the resident by account id; a department system by its pseudonym,
        and only about consents given to that department (any other is "not found")."""
        by_pseudonym = caller.role == ROLE_DEPARTMENT
        if by_pseudonym and department != caller.department:
            raise NotFound("resident not found")
        async with self.db.session() as session:
            account_id = await dao_pseudonym_owner(session, department, resident) if by_pseudonym else resident
            if account_id is None:
                raise NotFound("resident not found")
            history = await dao_consent_history(session, account_id)
        return any(
            (r.department, r.purpose, r.field) == (department, purpose, field) for r in current_consents(history)
        )

    # API keys --------------------------------------------------------------------------------
    async def create_api_key(self, department: str, label: str) -> tuple[str, str]:
        department = validation.slug(department, "department")
        if len(label) > 100:
            raise InvalidArgument("label must have at most 100 characters")
        key_id = secrets.token_hex(8)
        key = f"{API_KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        async with self.db.transaction() as session:
            session.add(ApiKey(id=key_id, key_hash=sha256_hex(key), department=department, label=label))
        return key_id, key

    async def revoke_api_key(self, key_id: str) -> None:
        async with self.db.transaction() as session:
            row = await dao_api_key(session, key_id)
            if row is None:
                raise NotFound("api key not found")
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
                session.add(row)

    async def verify_api_key(self, key: str) -> ApiKey | None:
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(key) > 200:
            return None
        async with self.db.session() as session:
            row = await dao_api_key(session, parts[1])
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, sha256_hex(key)):
            return None
        return row

    # erasure ---------------------------------------------------------------------------------
    async def erasure_status(self, account_id: str) -> ErasureStatus:
        async with self.db.session() as session:
            request = await dao_erasure(session, account_id)
            if request is None:
                raise NotFound("no erasure for this account")
            confirmed = sorted(c.service for c in await dao_confirmations(session, account_id))
        return ErasureStatus(
            erasure_id=request.id,
            expected=list(request.expected_services),
            confirmed=confirmed,
            requested_at=aware(request.requested_at),
            completed_at=aware(request.completed_at) if request.completed_at else None,
        )


async def record_confirmation(session: AsyncSession, account_id: str, service: str) -> None:
    """Inside a consumer's transaction: note one service's confirmation, close the request when all did.

    Confirmations arrive on several consumers at once. The request row is locked first, so the
    last one to commit sees every other confirmation and closes the request (without the lock,
    two concurrent transactions on PostgreSQL could each miss the other's and never close it).
    """
    request: ErasureRequest | None = await dao_erasure(session, account_id, for_update=True)
    if await session.get(ErasureConfirmation, (account_id, service)) is None:
        session.add(ErasureConfirmation(account_id=account_id, service=service))
        await session.flush()
    if request is None or request.completed_at is not None:
        return
    confirmed = {c.service for c in await dao_confirmations(session, account_id)}
    if set(request.expected_services) <= confirmed:
        request.completed_at = datetime.now(UTC)
        session.add(request)
