"""What one caller may see of a report: the public fields always, private parts only for those
entitled to them (the reporter; staff of the owning department, its systems, operators)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cityhub_sdk.auth import Caller
from cityhub_sdk.db import Database
from cityhub_sdk.errors import NotFound
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_incidents.access import can_manage, person_id
from cityhub_incidents.models import Report, ReportHistory, ReportReporter
from cityhub_incidents.repository import dao_followed_ids, dao_get_report, dao_history, dao_reporter


@dataclass
class ReportView:
    """A report as one caller may see it: private parts are present only when they may see them."""

    report: Report
    distance_m: float | None = None
    following: bool = False
    mine: bool = False
    history: Sequence[ReportHistory] = ()
    reporter: ReportReporter | None = None
    staff_notes: Sequence[ReportHistory] = ()


async def report_view(
    session: AsyncSession, caller: Caller, report: Report, *, distance_m: float | None = None, full: bool = False
) -> ReportView:
    """The caller's view of `report`; `full` adds the public history (and staff notes for managers)."""
    account_id = person_id(caller)
    reporter = await dao_reporter(session, report.id)
    mine = account_id is not None and reporter is not None and reporter.account_id == account_id
    manager = can_manage(caller, report.department)
    view = ReportView(report=report, distance_m=distance_m, mine=mine)
    if account_id is not None:
        view.following = bool(await dao_followed_ids(session, account_id, [report.id]))
    if full:
        history = await dao_history(session, report.id)
        view.history = [h for h in history if h.kind != "note" or h.public_note]
        if manager:
            view.staff_notes = [h for h in history if h.internal_note]
    if manager or mine:
        view.reporter = reporter
    return view


async def load_report(session: AsyncSession, report_id: str, *, for_update: bool = False) -> Report:
    report = await dao_get_report(session, report_id, for_update=for_update) if report_id else None
    if report is None:
        raise NotFound("report not found")
    return report


async def load_view(db: Database, caller: Caller, report_id: str) -> ReportView:
    """One report with its history, as the caller may see it (NOT_FOUND when there is none)."""
    async with db.session() as session:
        return await report_view(session, caller, await load_report(session, report_id), full=True)
