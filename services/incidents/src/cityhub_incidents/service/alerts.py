"""City alerts published by staff: area (circle or polygon), time window, severity, texts.

Each alert is indexed by the res-7 H3 cells covering its area, so "alerts here" is one cell look-up
followed by an exact containment test. Expired alerts drop out of every read at once; a sweeper
marks them ended and publishes `alert.ended` for consumers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from cityhub_sdk.auth import Caller
from cityhub_sdk.db import Database
from cityhub_sdk.errors import FailedPrecondition, InvalidArgument, NotFound
from cityhub_sdk.geo import distance_m, finite_in_range, valid_point
from cityhub_sdk.timestamps import now, utc
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_incidents import idempotency, publishing
from cityhub_incidents.access import require_manager, require_staff, staff_department
from cityhub_incidents.geo import cell, disk_cells, point_in_polygon, polygon_cells
from cityhub_incidents.models import Alert
from cityhub_incidents.repository import (
    dao_alerts,
    dao_expired_alerts,
    dao_get_alert,
    dao_replace_alert_cells,
)
from cityhub_incidents.validation import check_point, check_text

KINDS = ("road_closure", "outage", "water", "event", "weather", "safety")
SEVERITIES = ("info", "warning", "urgent")
MIN_ALERT_RADIUS_M, MAX_ALERT_RADIUS_M = 10.0, 50_000.0
MAX_ALERT_DURATION = timedelta(days=90)
MAX_POLYGON_VERTICES = 200


@dataclass
class AlertInput:
    department: str
    kind: str
    severity: str
    center_lat: float = 0.0
    center_lon: float = 0.0
    radius_m: float = 0.0
    polygon: Sequence[tuple[float, float]] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    title: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, str] = field(default_factory=dict)


def alert_state(alert: Alert, at: datetime) -> str:
    if alert.ended_at is not None or utc(alert.ends_at) <= at:
        return "ended"
    return "scheduled" if utc(alert.starts_at) > at else "active"


def covers(alert: Alert, lat: float, lon: float) -> bool:
    if alert.polygon:
        return point_in_polygon(lat, lon, [(p[0], p[1]) for p in alert.polygon])
    return distance_m(lat, lon, alert.center_lat, alert.center_lon) <= alert.radius_m


def _texts(name: str, texts: Mapping[str, str], maximum: int, *, required: bool) -> dict[str, str]:
    if required and not texts.get("en", "").strip():
        raise InvalidArgument(f"{name} needs an English ('en') text")
    if len(texts) > 10:
        raise InvalidArgument(f"{name} has too many languages")
    clean = {}
    for lang, text in texts.items():
        if not lang or len(lang) > 16:
            raise InvalidArgument(f"{name} has an invalid language tag")
        clean[lang] = check_text(f"{name}[{lang}]", text, maximum, multiline=True)
    return clean


class AlertsService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _validated(
        self, caller: Caller, data: AlertInput, *, current: Alert | None = None
    ) -> tuple[dict[str, object], list[str]]:
        department = staff_department(caller, data.department or (current.department if current else ""))
        if data.kind not in KINDS:
            raise InvalidArgument(f"kind must be one of {', '.join(KINDS)}")
        if data.severity not in SEVERITIES:
            raise InvalidArgument(f"severity must be one of {', '.join(SEVERITIES)}")
        at = now()
        starts_at = utc(data.starts_at) if data.starts_at else (utc(current.starts_at) if current else at)
        if data.ends_at is None:
            raise InvalidArgument("ends_at is required")
        ends_at = utc(data.ends_at)
        if ends_at <= starts_at or ends_at <= at:
            raise InvalidArgument("ends_at must be after starts_at and in the future")
        if ends_at - starts_at > MAX_ALERT_DURATION:
            raise InvalidArgument("an alert lasts at most 90 days")
        polygon = [(float(lat), float(lon)) for lat, lon in data.polygon]
        if polygon:
            if not 3 <= len(polygon) <= MAX_POLYGON_VERTICES:
                raise InvalidArgument(f"polygon needs 3 to {MAX_POLYGON_VERTICES} vertices")
            for lat, lon in polygon:
                check_point(lat, lon)
            if data.radius_m:
                raise InvalidArgument("give either a circle (radius_m) or a polygon, not both")
            cells = polygon_cells(polygon, 7)
            center_lat = sum(p[0] for p in polygon) / len(polygon)
            center_lon = sum(p[1] for p in polygon) / len(polygon)
            radius = 0.0
        else:
            check_point(data.center_lat, data.center_lon)
            finite_in_range("radius_m", data.radius_m, MIN_ALERT_RADIUS_M, MAX_ALERT_RADIUS_M)
            cells = disk_cells(data.center_lat, data.center_lon, data.radius_m, 7)
            center_lat, center_lon, radius = data.center_lat, data.center_lon, data.radius_m
        values: dict[str, object] = {
            "department": department,
            "kind": data.kind,
            "severity": data.severity,
            "center_lat": center_lat,
            "center_lon": center_lon,
            "radius_m": radius,
            "polygon": [[lat, lon] for lat, lon in polygon],
            "cells_r7": cells,
            "title": _texts("title", data.title, 200, required=True),
            "body": _texts("body", data.body, 4000, required=False),
            "starts_at": starts_at,
            "ends_at": ends_at,
        }
        return values, cells

    async def publish(self, caller: Caller, data: AlertInput, *, idempotency_key: str = "") -> Alert:
        key = idempotency.claim(caller, "alert", idempotency_key, idempotency.fingerprint(asdict(data)))
        if key is not None and (earlier := await self._replay(key)) is not None:
            return earlier
        values, cells = self._validated(caller, data)
        at = now()
        alert = Alert(id=uuid.uuid4().hex, created_by=caller.subject or "", created_at=at, updated_at=at, **values)  # type: ignore[arg-type]
        try:
            async with self.db.transaction() as session:
                if key is not None:
                    await idempotency.remember(session, key, alert.id)
                session.add(alert)
                await session.flush()
                await dao_replace_alert_cells(session, alert.id, cells)
                publishing.alert_published(session, alert)
        except IntegrityError:
            if key is not None and (earlier := await self._replay(key)) is not None:
                return earlier  # a concurrent twin with the same key won
            raise
        return alert

    async def _replay(self, key: idempotency.IdempotencyClaim) -> Alert | None:
        alert_id = await idempotency.replayed_id(self.db, key)
        return None if alert_id is None else await self.get(alert_id)

    async def _owned(self, caller: Caller, session: AsyncSession, alert_id: str) -> Alert:
        require_staff(caller)
        alert = await dao_get_alert(session, alert_id) if alert_id else None
        if alert is None:
            raise NotFound("alert not found")
        require_manager(caller, alert.department)
        return alert

    async def update(self, caller: Caller, alert_id: str, data: AlertInput) -> Alert:
        async with self.db.transaction() as session:
            alert = await self._owned(caller, session, alert_id)
            if alert_state(alert, now()) == "ended":
                raise FailedPrecondition("the alert has ended")
            values, cells = self._validated(caller, data, current=alert)
            if values["department"] != alert.department:
                raise InvalidArgument("an alert cannot move to another department")
            for key, value in values.items():
                setattr(alert, key, value)
            alert.updated_at = now()
            session.add(alert)
            await dao_replace_alert_cells(session, alert.id, cells)
            publishing.alert_updated(session, alert)
            return alert

    async def end(self, caller: Caller, alert_id: str) -> Alert:
        async with self.db.transaction() as session:
            alert = await self._owned(caller, session, alert_id)
            if alert.ended_at is not None:
                return alert
            alert.ended_at = min(now(), utc(alert.ends_at))
            alert.updated_at = now()
            session.add(alert)
            publishing.alert_ended(session, alert)
            return alert

    async def get(self, alert_id: str) -> Alert:
        async with self.db.session() as session:
            alert = await dao_get_alert(session, alert_id) if alert_id else None
        if alert is None:
            raise NotFound("alert not found")
        return alert

    async def list(
        self, *, point: tuple[float, float] | None = None, department: str = "", include_scheduled: bool = False
    ) -> list[Alert]:
        """Alerts in force (or also scheduled); with `point`, only those whose area contains it."""
        at = now()
        if point is not None:
            valid_point(*point)
        async with self.db.session() as session:
            alerts = await dao_alerts(
                session,
                now=at,
                cell=cell(point[0], point[1], 7) if point is not None else None,
                department=department or None,
                include_scheduled=include_scheduled,
            )
        return [a for a in alerts if point is None or covers(a, *point)]

    async def sweep_expired(self) -> int:
        """Mark alerts past their end as ended and publish `alert.ended` for each."""
        async with self.db.transaction() as session:
            expired = await dao_expired_alerts(session, now())
            for alert in expired:
                alert.ended_at = utc(alert.ends_at)
                session.add(alert)
                publishing.alert_ended(session, alert)
        return len(expired)
