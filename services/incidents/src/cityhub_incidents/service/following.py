"""Following a report: a signed-in person is told when its status changes (events for notifications)."""

from __future__ import annotations

from cityhub_sdk.auth import Caller
from cityhub_sdk.db import Database

from cityhub_incidents import publishing
from cityhub_incidents.access import require_person
from cityhub_incidents.repository import dao_follow, dao_unfollow
from cityhub_incidents.service.visibility import load_report


class FollowingService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def follow(self, caller: Caller, report_id: str, *, follow: bool = True) -> int:
        """Follow (or stop following); idempotent. Returns the report's follower count."""
        account_id = require_person(caller)
        async with self.db.transaction() as session:
            report = await load_report(session, report_id)
            if follow and await dao_follow(session, report.id, account_id):
                publishing.followed(session, report.id, account_id)
            if not follow and await dao_unfollow(session, report.id, account_id):
                publishing.unfollowed(session, report.id, account_id)
            await session.flush()
            await session.refresh(report)
            return report.follower_count
