"""Incidents queries, kept in one place (dao_* functions take the caller's session)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_incidents.models import (
    Alert,
    AlertCell,
    IdempotencyKey,
    Report,
    ReportFollow,
    ReportHistory,
    ReportReporter,
)


@dataclass(frozen=True)
class NearbyQuery:
    lat: float
    lon: float
    radius_m: float
    statuses: Sequence[str]
    category: str | None
    meters_per_deg_lat: float
    meters_per_deg_lon: float


def _nearby_sql(resolution: int, *, category: bool) -> sa.TextClause:
    column = "h3_r9" if resolution == 9 else "h3_r8"
    inner_filters = [f"{column} IN :cells", "status IN :statuses"]
    if category:
        inner_filters.append("category = :category")
    sql = (
        "SELECT id, d2 FROM ("
        " SELECT id, ((lat - :lat) * :ky) * ((lat - :lat) * :ky) + ((lon - :lon) * :kx) * ((lon - :lon) * :kx) AS d2"
        f" FROM reports WHERE {' AND '.join(inner_filters)}"
        ") AS candidates WHERE d2 <= :r2 ORDER BY d2, id LIMIT :limit OFFSET :offset"
    )
    return sa.text(sql).bindparams(sa.bindparam("cells", expanding=True), sa.bindparam("statuses", expanding=True))


async def dao_nearby_candidates(
    session: AsyncSession,
    query: NearbyQuery,
    *,
    resolution: int,
    cells: Sequence[str],
    limit: int,
    offset: int = 0,
) -> list[tuple[str, float]]:
    """Ids and planar squared distances (m²) of the nearest reports in `cells`, nearest first."""
    params: dict[str, object] = {
        "cells": list(cells),
        "statuses": list(query.statuses),
        "lat": float(query.lat),
        "lon": float(query.lon),
        "ky": float(query.meters_per_deg_lat),
        "kx": float(query.meters_per_deg_lon),
        "r2": float(query.radius_m) ** 2,
        "limit": limit,
        "offset": offset,
    }
    if query.category:
        params["category"] = query.category
    statement = _nearby_sql(resolution, category=bool(query.category))
    rows = (await (await session.connection()).execute(statement, params)).all()
    return [(str(row[0]), float(row[1])) for row in rows]


async def dao_reports_by_ids(session: AsyncSession, ids: Sequence[str]) -> dict[str, Report]:
    if not ids:
        return {}
    rows = (await session.exec(select(Report).where(col(Report.id).in_(list(ids))))).all()
    return {row.id: row for row in rows}


async def dao_get_report(session: AsyncSession, report_id: str, *, for_update: bool = False) -> Report | None:
    query = select(Report).where(Report.id == report_id)
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def dao_reporter(session: AsyncSession, report_id: str) -> ReportReporter | None:
    return await session.get(ReportReporter, report_id)


async def dao_history(session: AsyncSession, report_id: str) -> Sequence[ReportHistory]:
    query = select(ReportHistory).where(ReportHistory.report_id == report_id).order_by(col(ReportHistory.id))
    return (await session.exec(query)).all()


async def dao_followed_ids(session: AsyncSession, account_id: str, report_ids: Sequence[str]) -> set[str]:
    if not report_ids:
        return set()
    query = select(ReportFollow.report_id).where(
        ReportFollow.account_id == account_id, col(ReportFollow.report_id).in_(list(report_ids))
    )
    return set((await session.exec(query)).all())


async def dao_reported_ids(session: AsyncSession, account_id: str, report_ids: Sequence[str]) -> set[str]:
    if not report_ids:
        return set()
    query = select(ReportReporter.report_id).where(
        ReportReporter.account_id == account_id, col(ReportReporter.report_id).in_(list(report_ids))
    )
    return set((await session.exec(query)).all())


async def dao_follow(session: AsyncSession, report_id: str, account_id: str) -> bool:
    """Add a follow; False when it already existed."""
    if await session.get(ReportFollow, (report_id, account_id)) is not None:
        return False
    session.add(ReportFollow(report_id=report_id, account_id=account_id))
    await (await session.connection()).execute(
        sa.update(Report).where(col(Report.id) == report_id).values(follower_count=Report.follower_count + 1)
    )
    return True


async def dao_unfollow(session: AsyncSession, report_id: str, account_id: str) -> bool:
    existing = await session.get(ReportFollow, (report_id, account_id))
    if existing is None:
        return False
    await session.delete(existing)
    await (await session.connection()).execute(
        sa.update(Report)
        .where(col(Report.id) == report_id, col(Report.follower_count) > 0)
        .values(follower_count=Report.follower_count - 1)
    )
    return True


async def dao_followers(session: AsyncSession, report_id: str) -> list[str]:
    query = select(ReportFollow.account_id).where(ReportFollow.report_id == report_id)
    return list((await session.exec(query)).all())


async def dao_follows_of(session: AsyncSession, account_id: str) -> Sequence[ReportFollow]:
    return (await session.exec(select(ReportFollow).where(ReportFollow.account_id == account_id))).all()


async def dao_reporters_of(session: AsyncSession, account_id: str) -> Sequence[ReportReporter]:
    return (await session.exec(select(ReportReporter).where(ReportReporter.account_id == account_id))).all()


async def dao_nearest_open_duplicate(
    session: AsyncSession, query: NearbyQuery, *, cells: Sequence[str], since: datetime
) -> Report | None:
    """The closest report of the same category, still open, filed since `since`, within the radius."""
    candidates = await dao_nearby_candidates(session, query, resolution=9, cells=cells, limit=20)
    reports = await dao_reports_by_ids(session, [report_id for report_id, _ in candidates])
    for report_id, _ in candidates:
        report = reports.get(report_id)
        if report is not None and _aware(report.created_at) >= since:
            return report
    return None


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ListFilter:
    report_ids: Sequence[str] = ()
    service_code: str | None = None
    category: str | None = None
    department: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: Sequence[str] = ()
    service_codes: Sequence[str] = ()


async def dao_list_reports(session: AsyncSession, filters: ListFilter, *, limit: int, offset: int) -> Sequence[Report]:
    query = select(Report)
    if filters.report_ids:
        query = query.where(col(Report.id).in_(list(filters.report_ids)))
    if filters.service_code:
        query = query.where(Report.service_code == filters.service_code)
    if filters.service_codes:
        query = query.where(col(Report.service_code).in_(list(filters.service_codes)))
    if filters.category:
        query = query.where(Report.category == filters.category)
    if filters.department:
        query = query.where(Report.department == filters.department)
    if filters.start is not None:
        query = query.where(col(Report.created_at) >= filters.start)
    if filters.end is not None:
        query = query.where(col(Report.created_at) < filters.end)
    if filters.statuses:
        query = query.where(col(Report.status).in_(list(filters.statuses)))
    query = query.order_by(col(Report.created_at).desc(), col(Report.id).desc()).offset(offset).limit(limit)
    return (await session.exec(query)).all()


async def dao_get_alert(session: AsyncSession, alert_id: str) -> Alert | None:
    return await session.get(Alert, alert_id)


async def dao_replace_alert_cells(session: AsyncSession, alert_id: str, cells: Sequence[str]) -> None:
    await session.exec(delete(AlertCell).where(col(AlertCell.alert_id) == alert_id))  # type: ignore[call-overload]
    for cell in cells:
        session.add(AlertCell(alert_id=alert_id, h3_r7=cell))


async def dao_alerts(
    session: AsyncSession, *, now: datetime, cell: str | None, department: str | None, include_scheduled: bool
) -> Sequence[Alert]:
    query = select(Alert).where(col(Alert.ended_at).is_(None), col(Alert.ends_at) > now)
    if not include_scheduled:
        query = query.where(col(Alert.starts_at) <= now)
    if cell is not None:
        query = query.where(
            col(Alert.id).in_(select(AlertCell.alert_id).where(AlertCell.h3_r7 == cell))  # type: ignore[arg-type]
        )
    if department:
        query = query.where(Alert.department == department)
    return (await session.exec(query.order_by(col(Alert.starts_at).desc(), col(Alert.id)))).all()


async def dao_expired_alerts(session: AsyncSession, now: datetime) -> Sequence[Alert]:
    query = select(Alert).where(col(Alert.ended_at).is_(None), col(Alert.ends_at) <= now).limit(500)
    return (await session.exec(query)).all()


async def dao_forget_actor(session: AsyncSession, account_id: str) -> None:
    """History keeps what happened to a report, not who among the residents did it."""
    await session.exec(  # type: ignore[call-overload]
        update(ReportHistory).where(col(ReportHistory.actor_id) == account_id).values(actor_id="")
    )


async def dao_idempotency_key(session: AsyncSession, scope: str, kind: str, key: str) -> IdempotencyKey | None:
    return await session.get(IdempotencyKey, (scope, kind, key))


async def dao_lock_filing(session: AsyncSession, category: str) -> None:
    """Serialise filing in one category across replicas until this transaction ends (PostgreSQL).

    SQLite needs nothing more: it has one writer, and the service's own per-category lock orders
    the check and the insert within the process.
    """
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await session.exec(  # type: ignore[call-overload]
            sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), params={"key": f"incidents:filing:{category}"}
        )
