"""Queries of the identity database (`dao_*`), used inside the use cases' transactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_identity.models import (
    Account,
    ApiKey,
    ConsentRecord,
    ErasureConfirmation,
    ErasureRequest,
    Place,
    Pseudonym,
    RefreshToken,
    Session,
)


async def dao_account_by_email(session: AsyncSession, email: str) -> Account | None:
    return (await session.exec(select(Account).where(Account.email == email))).first()


async def dao_live_account(session: AsyncSession, account_id: str) -> Account | None:
    account = await session.get(Account, account_id)
    return account if account is not None and account.deleted_at is None else None


async def dao_count_failure(session: AsyncSession, account_id: str) -> int:
    """Atomically add one failed sign-in and return the new count."""
    await session.exec(
        update(Account).where(col(Account.id) == account_id).values(failed_logins=col(Account.failed_logins) + 1)
    )
    account = await session.get(Account, account_id, populate_existing=True)
    return account.failed_logins if account is not None else 0


async def dao_refresh_token(session: AsyncSession, token_hash: str, *, lock: bool) -> RefreshToken | None:
    query = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    if lock:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def dao_revoke_sessions(session: AsyncSession, account_id: str, now: datetime) -> None:
    await session.exec(
        update(Session)
        .where(col(Session.account_id) == account_id, col(Session.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def dao_revoked_sessions_since(session: AsyncSession, since: datetime) -> Sequence[str]:
    return (await session.exec(select(Session.id).where(col(Session.revoked_at) >= since))).all()


async def dao_places(session: AsyncSession, account_id: str) -> Sequence[Place]:
    query = select(Place).where(Place.account_id == account_id).order_by(col(Place.created_at), col(Place.id))
    return (await session.exec(query)).all()


async def dao_place(session: AsyncSession, account_id: str, place_id: str) -> Place | None:
    query = select(Place).where(Place.account_id == account_id, Place.id == place_id)
    return (await session.exec(query)).first()


async def dao_consent_history(session: AsyncSession, account_id: str) -> Sequence[ConsentRecord]:
    query = (
        select(ConsentRecord)
        .where(ConsentRecord.account_id == account_id)
        .order_by(col(ConsentRecord.seq), col(ConsentRecord.recorded_at))
    )
    return (await session.exec(query)).all()


async def dao_pseudonym_owner(session: AsyncSession, department: str, pseudonym: str) -> str | None:
    row = await session.get(Pseudonym, (department, pseudonym))
    return row.account_id if row is not None else None


async def dao_api_key(session: AsyncSession, key_id: str) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def dao_erasure(session: AsyncSession, account_id: str, *, for_update: bool = False) -> ErasureRequest | None:
    query = select(ErasureRequest).where(ErasureRequest.account_id == account_id)
    if for_update:  # PostgreSQL row lock; SQLite has one writer anyway
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def dao_confirmations(session: AsyncSession, account_id: str) -> Sequence[ErasureConfirmation]:
    query = select(ErasureConfirmation).where(ErasureConfirmation.account_id == account_id)
    return (await session.exec(query)).all()


async def dao_erase_rows(session: AsyncSession, account_id: str) -> None:
    """Delete every row that holds the resident's data besides the account tombstone."""
    from sqlalchemy import delete

    session_ids = select(Session.id).where(Session.account_id == account_id)
    await session.exec(delete(RefreshToken).where(col(RefreshToken.session_id).in_(session_ids)))
    await session.exec(delete(Place).where(col(Place.account_id) == account_id))
    await session.exec(delete(ConsentRecord).where(col(ConsentRecord.account_id) == account_id))
    await session.exec(delete(Pseudonym).where(col(Pseudonym.account_id) == account_id))
