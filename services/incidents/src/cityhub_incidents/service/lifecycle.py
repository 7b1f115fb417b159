"""Staff work on a report: status changes, notes, merges. Only for whoever manages its department
(its staff and department systems, operators); every step is a history row and, when public, an event."""

from __future__ import annotations

from datetime import datetime

from cityhub_sdk.auth import Caller
from cityhub_sdk.db import Database
from cityhub_sdk.errors import FailedPrecondition, InvalidArgument
from cityhub_sdk.timestamps import now
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_incidents import publishing
from cityhub_incidents.access import require_manager, require_staff
from cityhub_incidents.models import Report, ReportHistory
from cityhub_incidents.repository import dao_follow, dao_followers, dao_unfollow
from cityhub_incidents.service.visibility import ReportView, load_report, report_view
from cityhub_incidents.validation import check_statuses, check_text


async def _managed(session: AsyncSession, caller: Caller, report_id: str) -> Report:
    """The report, locked for the change, if the caller manages its department."""
    require_staff(caller)
    report = await load_report(session, report_id, for_update=True)
    require_manager(caller, report.department)
    return report


class LifecycleService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def change_status(
        self,
        caller: Caller,
        report_id: str,
        *,
        status: str,
        public_note: str = "",
        internal_note: str = "",
        expected_at: datetime | None = None,
    ) -> ReportView:
        check_statuses([status])
        if status == "duplicate":
            raise InvalidArgument("use the merge action to mark a duplicate")
        public_note = check_text("public_note", public_note, 2000, multiline=True)
        internal_note = check_text("internal_note", internal_note, 4000, multiline=True)
        async with self.db.transaction() as session:
            report = await _managed(session, caller, report_id)
            old = report.status
            if old == status and expected_at is None:
                raise FailedPrecondition(f"report is already {status}")
            changed_at = now()
            report.status = status
            report.updated_at = changed_at
            if expected_at is not None:
                report.expected_at = expected_at
            if public_note:
                report.status_notes = public_note
            session.add(report)
            session.add(
                ReportHistory(
                    report_id=report.id,
                    kind="status",
                    old_status=old,
                    new_status=status,
                    public_note=public_note,
                    internal_note=internal_note,
                    actor_id=caller.subject or "",
                    expected_at=expected_at,
                    at=changed_at,
                )
            )
            publishing.status_changed(session, report, old, public_note)
            await session.flush()
            return await report_view(session, caller, report, full=True)

    async def add_note(self, caller: Caller, report_id: str, *, text: str, public: bool) -> ReportView:
        text = check_text("text", text, 4000, multiline=True)
        if not text:
            raise InvalidArgument("text is required")
        async with self.db.transaction() as session:
            report = await _managed(session, caller, report_id)
            at = now()
            session.add(
                ReportHistory(
                    report_id=report.id,
                    kind="note",
                    old_status=report.status,
                    new_status=report.status,
                    public_note=text if public else "",
                    internal_note="" if public else text,
                    actor_id=caller.subject or "",
                    at=at,
                )
            )
            if public:
                report.status_notes = text
                report.updated_at = at
                session.add(report)
                # Followers are told about public notes too: a status_changed with the same status.
                publishing.status_changed(session, report, report.status, text)
            await session.flush()
            return await report_view(session, caller, report, full=True)

    async def merge(self, caller: Caller, report_id: str, parent_id: str) -> ReportView:
        """Mark `report_id` a duplicate of `parent_id` (both managed by the caller); followers move."""
        if not parent_id or parent_id == report_id:
            raise InvalidArgument("parent_id must name another report")
        async with self.db.transaction() as session:
            report = await _managed(session, caller, report_id)
            parent = await _managed(session, caller, parent_id)
            if parent.status == "duplicate" and parent.parent_id:
                parent = await _managed(session, caller, parent.parent_id)
            if parent.id == report.id:
                raise InvalidArgument("a report cannot be merged into itself")
            if report.status == "duplicate":
                raise FailedPrecondition("report is already a duplicate")
            old = report.status
            at = now()
            for account_id in await dao_followers(session, report.id):
                await dao_unfollow(session, report.id, account_id)
                publishing.unfollowed(session, report.id, account_id)
                if await dao_follow(session, parent.id, account_id):
                    publishing.followed(session, parent.id, account_id)
            await session.flush()
            await session.refresh(report)
            report.status = "duplicate"
            report.parent_id = parent.id
            report.updated_at = at
            report.status_notes = "Merged into an existing report."
            session.add(report)
            session.add(
                ReportHistory(
                    report_id=report.id,
                    kind="merged",
                    old_status=old,
                    new_status="duplicate",
                    public_note=report.status_notes,
                    actor_id=caller.subject or "",
                    at=at,
                )
            )
            publishing.status_changed(session, report, old, report.status_notes)
            await session.flush()
            return await report_view(session, caller, report, full=True)
