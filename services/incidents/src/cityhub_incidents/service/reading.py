"""Reading reports: one report (public or the staff view), nearby search, filtered lists, photos.

Lists are scoped by who asks: staff and department systems see their own department only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from cityhub_sdk.auth import Caller
from cityhub_sdk.db import Database
from cityhub_sdk.errors import InvalidArgument, NotFound
from cityhub_sdk.geo import distance_m, valid_circle
from cityhub_sdk.paging import page_window

from cityhub_incidents.access import listing_department, person_id, require_manager, require_staff
from cityhub_incidents.geo import equirectangular_scale, search_plan
from cityhub_incidents.models import ACTIVE_STATUSES, STATUS_GROUPS, StatusGroup
from cityhub_incidents.photos import PhotoStorage
from cityhub_incidents.repository import (
    ListFilter,
    NearbyQuery,
    dao_followed_ids,
    dao_get_report,
    dao_list_reports,
    dao_nearby_candidates,
    dao_reported_ids,
    dao_reports_by_ids,
)
from cityhub_incidents.service.visibility import ReportView, load_report, report_view
from cityhub_incidents.validation import check_statuses

SEARCH_PAGE_SIZE, MAX_SEARCH_PAGE_SIZE = 50, 100
LIST_PAGE_SIZE, MAX_LIST_PAGE_SIZE = 100, 1000


@dataclass(frozen=True)
class SearchResult:
    views: list[ReportView]
    next_page_token: str


class ReadingService:
    def __init__(self, db: Database, photos: PhotoStorage, *, max_radius_m: float = 5000.0) -> None:
        self.db = db
        self.photos = photos
        self.max_radius_m = max_radius_m

    async def get(self, caller: Caller, report_id: str, *, staff_view: bool = False) -> ReportView:
        """The report with its history; `staff_view` is the staff queue's, refused to other departments."""
        if staff_view:
            require_staff(caller)
        async with self.db.session() as session:
            report = await load_report(session, report_id)
            if staff_view:
                require_manager(caller, report.department)
            return await report_view(session, caller, report, full=True)

    async def search(
        self,
        caller: Caller,
        *,
        lat: float,
        lon: float,
        radius_m: float,
        statuses: Sequence[str] = (),
        category: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> SearchResult:
        circle = valid_circle(lat, lon, radius_m, max_radius_m=self.max_radius_m)
        check_statuses(statuses)
        window = page_window(page_size, page_token, default=SEARCH_PAGE_SIZE, maximum=MAX_SEARCH_PAGE_SIZE)
        ky, kx = equirectangular_scale(circle.lat)
        query = NearbyQuery(
            lat=circle.lat,
            lon=circle.lon,
            radius_m=circle.radius_m,
            statuses=list(statuses) or list(ACTIVE_STATUSES),
            category=category or None,
            meters_per_deg_lat=ky,
            meters_per_deg_lon=kx,
        )
        plan = search_plan(circle.lat, circle.lon, circle.radius_m)
        size = window.size
        async with self.db.session() as session:
            rows: list[tuple[str, float]] = []
            for stage in plan.stages:
                rows = await dao_nearby_candidates(
                    session, query, resolution=plan.resolution, cells=stage.cells, limit=size + 1, offset=window.offset
                )
                # Final once the row after this page is nearer than anything outside the stage's cells.
                if stage.complete or (len(rows) > size and math.sqrt(rows[size][1]) <= stage.safe_distance_m):
                    break
            page = rows[:size]
            reports = await dao_reports_by_ids(session, [r for r, _ in page])
            account_id = person_id(caller)
            following = await dao_followed_ids(session, account_id, list(reports)) if account_id else set()
            mine = await dao_reported_ids(session, account_id, list(reports)) if account_id else set()
        views = []
        for report_id, _ in page:
            report = reports[report_id]
            distance = distance_m(circle.lat, circle.lon, report.lat, report.lon)
            if distance <= circle.radius_m:
                views.append(
                    ReportView(
                        report=report, distance_m=distance, following=report_id in following, mine=report_id in mine
                    )
                )
        return SearchResult(views=views, next_page_token=window.next_token(window.offset + len(rows)))

    async def list(
        self,
        caller: Caller,
        filters: ListFilter,
        *,
        status_group: StatusGroup | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> SearchResult:
        """Newest first; `status_group` narrows `filters.statuses` to the open or the closed ones."""
        check_statuses(filters.statuses)
        if len(filters.report_ids) > MAX_LIST_PAGE_SIZE:
            raise InvalidArgument("too many ids")
        if filters.start and filters.end and filters.start >= filters.end:
            raise InvalidArgument("start must be before end")
        window = page_window(page_size, page_token, default=LIST_PAGE_SIZE, maximum=MAX_LIST_PAGE_SIZE)
        filters = replace(filters, department=listing_department(caller, filters.department or ""))
        if status_group is not None:
            group = STATUS_GROUPS[status_group]
            statuses = [s for s in filters.statuses if s in group] if filters.statuses else list(group)
            if not statuses:
                return SearchResult(views=[], next_page_token="")
            filters = replace(filters, statuses=statuses)
        async with self.db.session() as session:
            reports = list(await dao_list_reports(session, filters, limit=window.size + 1, offset=window.offset))
            account_id = person_id(caller)
            page = reports[: window.size]
            following = await dao_followed_ids(session, account_id, [r.id for r in page]) if account_id else set()
        views = [ReportView(report=r, following=r.id in following) for r in page]
        return SearchResult(views=views, next_page_token=window.next_token(window.offset + len(reports)))

    async def photo(self, report_id: str) -> tuple[bytes, str]:
        async with self.db.session() as session:
            report = await dao_get_report(session, report_id) if report_id else None
        if report is None or report.photo_key is None:
            raise NotFound("photo not found")
        try:
            data = await self.photos.get(report.photo_key)
        except (FileNotFoundError, KeyError) as exc:
            raise NotFound("photo not found") from exc
        return data, report.photo_content_type or "application/octet-stream"
