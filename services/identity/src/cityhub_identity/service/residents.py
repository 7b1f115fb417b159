"""What a signed-in resident does with their own data: profile, places, consent, export, erasure.

Every method takes the caller's account id from the verified token; another account's object is
simply not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cityhub.identity.v1 import events_pb2
from cityhub_sdk.db import Database
from cityhub_sdk.errors import FailedPrecondition, InvalidArgument, NotFound
from cityhub_sdk.logging import get_logger
from cityhub_sdk.outbox import add_event
from cityhub_sdk.subjects import IDENTITY_ACCOUNT_DELETED
from cityhub_sdk.timestamps import to_timestamp
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_identity import validation
from cityhub_identity.config import IdentitySettings
from cityhub_identity.models import Account, ConsentRecord, ErasureRequest, Place, Session, aware
from cityhub_identity.repository import (
    dao_consent_history,
    dao_erase_rows,
    dao_live_account,
    dao_place,
    dao_places,
    dao_revoke_sessions,
)

log = get_logger(__name__)

PROFILE_FIELDS = ("display_name", "preferred_language", "phone")


@dataclass(frozen=True)
class ProfileChange:
    """A partial edit: None leaves a field alone."""

    display_name: str | None = None
    preferred_language: str | None = None
    phone: str | None = None

    @classmethod
    def of(cls, update_fields: Sequence[str], values: Mapping[str, str]) -> ProfileChange:
        """The change a field mask asks for; a field outside PROFILE_FIELDS is INVALID_ARGUMENT."""
        unknown = set(update_fields) - set(PROFILE_FIELDS)
        if unknown:
            raise InvalidArgument(f"cannot update {', '.join(sorted(unknown))[:200]}")
        return cls(**{name: values.get(name, "") for name in update_fields})


def current_consents(history: Sequence[ConsentRecord]) -> list[ConsentRecord]:
    """The latest record per department/purpose/field, granted ones only."""
    latest: dict[tuple[str, str, str], ConsentRecord] = {}
    for record in history:
        latest[(record.department, record.purpose, record.field)] = record
    return [record for record in latest.values() if record.granted]


async def live_account(session: AsyncSession, account_id: str) -> Account:
    """The account, unless it does not exist or was erased (NOT_FOUND: the same answer for both)."""
    account = await dao_live_account(session, account_id)
    if account is None:
        raise NotFound("account not found")
    return account


class ResidentService:
    def __init__(self, db: Database, settings: IdentitySettings) -> None:
        self.db = db
        self.settings = settings

    async def profile(self, account_id: str) -> Account:
        async with self.db.session() as session:
            return await live_account(session, account_id)

    async def update_profile(self, account_id: str, change: ProfileChange) -> Account:
        values: dict[str, str] = {}
        if change.display_name is not None:
            values["display_name"] = validation.display_name(change.display_name)
        if change.preferred_language is not None:
            values["preferred_language"] = validation.language(change.preferred_language)
        if change.phone is not None:
            values["phone"] = validation.phone(change.phone)
        async with self.db.transaction() as session:
            account = await live_account(session, account_id)
            for name, value in values.items():
                setattr(account, name, value)
            session.add(account)
        return account

    # places ----------------------------------------------------------------------------------
    async def places(self, account_id: str) -> Sequence[Place]:
        async with self.db.session() as session:
            return await dao_places(session, account_id)

    async def create_place(self, account_id: str, label: str, latitude: float, longitude: float) -> Place:
        clean_label = validation.place_label(label)
        lat, lon = validation.coordinates(latitude, longitude)
        async with self.db.transaction() as session:
            await live_account(session, account_id)
            existing = await dao_places(session, account_id)
            if len(existing) >= self.settings.max_places:
                raise FailedPrecondition(f"at most {self.settings.max_places} saved places")
            if clean_label.lower() in ("home", "work") and any(
                p.label.lower() == clean_label.lower() for p in existing
            ):
                raise FailedPrecondition(f"a '{clean_label.lower()}' place already exists")
            place = Place(id=str(uuid.uuid4()), account_id=account_id, label=clean_label, latitude=lat, longitude=lon)
            session.add(place)
        return place

    async def update_place(
        self, account_id: str, place_id: str, label: str | None, latitude: float | None, longitude: float | None
    ) -> Place:
        clean_label = validation.place_label(label) if label is not None else None
        if (latitude is None) != (longitude is None):
            raise InvalidArgument("latitude and longitude change together")
        coords = validation.coordinates(latitude, longitude) if latitude is not None and longitude is not None else None
        async with self.db.transaction() as session:
            place = await dao_place(session, account_id, place_id)
            if place is None:
                raise NotFound("place not found")
            if clean_label is not None:
                place.label = clean_label
            if coords is not None:
                place.latitude, place.longitude = coords
            session.add(place)
        return place

    async def delete_place(self, account_id: str, place_id: str) -> None:
        async with self.db.transaction() as session:
            place = await dao_place(session, account_id, place_id)
            if place is None:
                raise NotFound("place not found")
            await session.delete(place)

    # consent ---------------------------------------------------------------------------------
    async def consents(self, account_id: str, *, history: bool) -> list[ConsentRecord]:
        async with self.db.session() as session:
            records = list(await dao_consent_history(session, account_id))
        return records if history else current_consents(records)

    async def record_consent(
        self, account_id: str, *, department: str, purpose: str, field: str, granted: bool, notice_version: str
    ) -> ConsentRecord:
        department = validation.slug(department, "department")
        purpose = validation.slug(purpose, "purpose")
        field = validation.consent_field(field)
        if granted and not (0 < len(notice_version) <= 32):
            raise InvalidArgument("notice_version is required when consent is given")
        async with self.db.transaction() as session:
            await live_account(session, account_id)
            history = await dao_consent_history(session, account_id)
            previous = [r for r in history if (r.department, r.purpose, r.field) == (department, purpose, field)]
            if not granted and not (previous and previous[-1].granted):
                raise NotFound("no such consent")
            record = ConsentRecord(
                id=str(uuid.uuid4()),
                account_id=account_id,
                department=department,
                purpose=purpose,
                field=field,
                granted=granted,
                notice_version=notice_version if granted else previous[-1].notice_version,
                seq=(history[-1].seq + 1) if history else 1,
            )
            session.add(record)
        return record

    # export and erasure ----------------------------------------------------------------------
    async def export(self, account_id: str) -> dict[str, Any]:
        async with self.db.session() as session:
            account = await live_account(session, account_id)
            places = await dao_places(session, account_id)
            consents = await dao_consent_history(session, account_id)
            sessions = (await session.exec(select(Session).where(Session.account_id == account_id))).all()
        return {
            "account": {
                "id": account.id,
                "email": account.email,
                "display_name": account.display_name,
                "preferred_language": account.preferred_language,
                "phone": account.phone,
                "role": account.role,
                "department": account.department,
                "created_at": aware(account.created_at).isoformat(),
            },
            "places": [
                {"id": p.id, "label": p.label, "latitude": p.latitude, "longitude": p.longitude} for p in places
            ],
            "consents": [
                {
                    "department": c.department,
                    "purpose": c.purpose,
                    "field": c.field,
                    "granted": c.granted,
                    "notice_version": c.notice_version,
                    "recorded_at": aware(c.recorded_at).isoformat(),
                }
                for c in consents
            ],
            "sessions": [
                {
                    "created_at": aware(s.created_at).isoformat(),
                    "revoked_at": aware(s.revoked_at).isoformat() if s.revoked_at else None,
                }
                for s in sessions
            ],
        }

    async def delete_account(self, account_id: str) -> str:
        """Erase identity's data now, revoke every session, and ask the other services to erase theirs."""
        now = datetime.now(UTC)
        erasure_id = str(uuid.uuid4())
        expected = sorted(set(self.settings.erasure_confirming_services))
        async with self.db.transaction() as session:
            account = await live_account(session, account_id)
            account.email = None
            account.password_hash = ""
            account.display_name = ""
            account.phone = ""
            account.department = None
            account.preferred_language = "en"
            account.deleted_at = now
            session.add(account)
            await dao_revoke_sessions(session, account_id, now)
            await dao_erase_rows(session, account_id)
            session.add(
                ErasureRequest(
                    id=erasure_id,
                    account_id=account_id,
                    expected_services=expected,
                    requested_at=now,
                    completed_at=None if expected else now,
                )
            )
            add_event(
                session,
                IDENTITY_ACCOUNT_DELETED,
                events_pb2.AccountDeleted(account_id=account_id, deleted_at=to_timestamp(now)),
                source="identity",
            )
        log.info("identity.account_deleted", account_id=account_id, awaiting=expected)
        return erasure_id
