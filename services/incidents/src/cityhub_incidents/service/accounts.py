"""A resident's data across incidents: export on request, anonymise on account deletion."""

from __future__ import annotations

import json

from cityhub_sdk.auth import ROLE_SERVICE, Caller
from cityhub_sdk.db import Database
from cityhub_sdk.errors import PermissionDenied, Unauthenticated
from cityhub_sdk.timestamps import utc
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_incidents import publishing
from cityhub_incidents.access import person_id
from cityhub_incidents.repository import (
    dao_follows_of,
    dao_forget_actor,
    dao_get_report,
    dao_reporters_of,
    dao_unfollow,
)


class AccountsService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def export(self, caller: Caller, account_id: str = "") -> str:
        """People export their own data; internal callers (service role) may name the account."""
        if caller.role == ROLE_SERVICE and account_id:
            return await export_account(self.db, account_id)
        own = person_id(caller)
        if own is not None:
            return await export_account(self.db, own)
        if not caller.is_authenticated:
            raise Unauthenticated("sign-in required")
        raise PermissionDenied("people export their own data")


async def export_account(db: Database, account_id: str) -> str:
    """Everything incidents holds about one account, as JSON (reports filed with contact, follows)."""
    async with db.session() as session:
        reporters = await dao_reporters_of(session, account_id)
        reports = []
        for reporter in reporters:
            report = await dao_get_report(session, reporter.report_id)
            if report is None:
                continue
            reports.append(
                {
                    "id": report.id,
                    "category": report.category,
                    "status": report.status,
                    "description": report.description,
                    "lat": report.lat,
                    "lon": report.lon,
                    "address": report.address,
                    "created_at": utc(report.created_at).isoformat(),
                    "contact": {"name": reporter.name, "email": reporter.email, "phone": reporter.phone},
                    "has_photo": report.photo_key is not None,
                }
            )
        follows = [
            {"report_id": f.report_id, "since": utc(f.created_at).isoformat()}
            for f in await dao_follows_of(session, account_id)
        ]
    return json.dumps({"service": "incidents", "account_id": account_id, "reports": reports, "follows": follows})


async def erase_account(session: AsyncSession, account_id: str) -> None:
    """Reports stay (they are the city's record) but no longer point to the person; follows go."""
    for reporter in await dao_reporters_of(session, account_id):
        reporter.account_id = None
        reporter.name = reporter.email = reporter.phone = reporter.device_id = ""
        session.add(reporter)
        report = await dao_get_report(session, reporter.report_id)
        if report is not None and not report.anonymous:
            report.anonymous = True
            session.add(report)
    await dao_forget_actor(session, account_id)
    for follow in list(await dao_follows_of(session, account_id)):
        await dao_unfollow(session, follow.report_id, account_id)
        publishing.unfollowed(session, follow.report_id, account_id)
    publishing.account_erased(session, account_id)
