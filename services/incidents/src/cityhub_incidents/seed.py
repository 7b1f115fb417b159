"""Demo data for Lakeview: 20 reports and 3 alerts, written directly (idempotent, fixed ids).

Seeding runs before any service starts, so it cannot ask the catalog: the few categories it uses
are copied here from the catalog's services.yaml (slug, Open311 code, owning department).
Seeded rows publish no events: they are the city's history, not news.
"""

from __future__ import annotations

import random
from datetime import timedelta

from cityhub_sdk.db import Database
from cityhub_sdk.timestamps import now

from cityhub_incidents.geo import cell, disk_cells, point_in_polygon
from cityhub_incidents.models import Alert, AlertCell, Report, ReportHistory, ReportReporter

CENTRE = (47.6062, -122.3321)
BOUNDARY = [
    (47.6962, -122.3721),
    (47.6962, -122.2921),
    (47.6462, -122.2254),
    (47.5662, -122.2254),
    (47.5162, -122.2921),
    (47.5162, -122.3721),
    (47.5662, -122.4388),
    (47.6462, -122.4388),
]
CATEGORIES = [  # slug, service_code, department, sample description
    ("pothole", "RD-POTHOLE", "roads", "Deep pothole in the right lane, cars swerving around it."),
    ("streetlight-out", "RD-STREETLIGHT", "roads", "Streetlight has been dark for three nights."),
    ("graffiti", "RD-GRAFFITI", "roads", "Graffiti on the underpass wall."),
    ("illegal-dumping", "WS-DUMPING", "waste", "Old mattress and bags dumped by the bus stop."),
    ("water-leak", "WP-LEAK", "water-power", "Water bubbling up through the sidewalk."),
    ("fallen-tree", "PR-TREE", "parks-libraries", "Large branch blocking the park path."),
]
STATUSES = ["open", "open", "acknowledged", "in_progress", "scheduled", "fixed", "closed"]


def demo_reports() -> list[Report]:
    rng = random.Random(20261122)
    at = now()
    reports: list[Report] = []
    while len(reports) < 20:
        lat = CENTRE[0] + rng.uniform(-0.03, 0.03)
        lon = CENTRE[1] + rng.uniform(-0.04, 0.04)
        if not point_in_polygon(lat, lon, BOUNDARY):
            continue
        slug, code, department, text = CATEGORIES[len(reports) % len(CATEGORIES)]
        created = at - timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 23))
        reports.append(
            Report(
                id=f"demo{len(reports) + 1:04d}",
                category=slug,
                service_code=code,
                department=department,
                status=STATUSES[len(reports) % len(STATUSES)],
                description=text,
                lat=round(lat, 6),
                lon=round(lon, 6),
                h3_r9=cell(lat, lon, 9),
                h3_r8=cell(lat, lon, 8),
                attributes={},
                anonymous=True,
                created_at=created,
                updated_at=created,
            )
        )
    return reports


def demo_alerts() -> list[Alert]:
    at = now()
    specs = [
        (
            "demo-alert-1",
            "roads",
            "road_closure",
            "warning",
            (47.6100, -122.3400),
            400.0,
            {"en": "Main St closed for repaving", "vi": "Đường Main đóng cửa để trải nhựa"},
            {"en": "Main St between 3rd and 5th Ave is closed. Use Pine St."},
        ),
        (
            "demo-alert-2",
            "water-power",
            "water",
            "urgent",
            (47.5900, -122.3100),
            800.0,
            {"en": "Boil water advisory", "ja": "煮沸勧告"},
            {"en": "Boil tap water for one minute before drinking until further notice."},
        ),
        (
            "demo-alert-3",
            "parks-libraries",
            "event",
            "info",
            (47.6200, -122.3500),
            300.0,
            {"en": "Lakeview summer festival in Central Park"},
            {"en": "Expect crowds and closed paths in Central Park this weekend."},
        ),
    ]
    return [
        Alert(
            id=alert_id,
            department=department,
            kind=kind,
            severity=severity,
            center_lat=centre[0],
            center_lon=centre[1],
            radius_m=radius,
            polygon=[],
            cells_r7=disk_cells(centre[0], centre[1], radius, 7),
            title=title,
            body=body,
            starts_at=at - timedelta(hours=1),
            ends_at=at + timedelta(days=14),
            created_by="seed",
            created_at=at,
            updated_at=at,
        )
        for alert_id, department, kind, severity, centre, radius, title, body in specs
    ]


async def seed_demo(db: Database) -> None:
    async with db.transaction() as session:
        for report in demo_reports():
            if await session.get(Report, report.id) is not None:
                continue
            session.add(report)
            session.add(ReportReporter(report_id=report.id))
            session.add(ReportHistory(report_id=report.id, kind="created", new_status="open", at=report.created_at))
            if report.status != "open":
                session.add(
                    ReportHistory(
                        report_id=report.id,
                        kind="status",
                        old_status="open",
                        new_status=report.status,
                        at=report.created_at + timedelta(hours=2),
                    )
                )
        for alert in demo_alerts():
            if await session.get(Alert, alert.id) is not None:
                continue
            session.add(alert)
            for cell_id in alert.cells_r7:
                session.add(AlertCell(alert_id=alert.id, h3_r7=cell_id))
