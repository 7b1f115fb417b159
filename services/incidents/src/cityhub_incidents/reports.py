"""Report use cases: file (with duplicate detection), read, search nearby, follow, staff lifecycle.

Every use case validates first and writes in one transaction, events included (outbox).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta

from cityhub_sdk.auth import Caller
from cityhub_sdk.db import Database
from cityhub_sdk.timestamps import now
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_incidents import idempotency, publishing
from cityhub_incidents.access import can_manage, person_id, require_person, require_staff
from cityhub_incidents.categories import Category, CategoryDirectory, UnknownCategory
from cityhub_incidents.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from cityhub_incidents.geo import cell, disk_cells, equirectangular_scale, haversine_m, search_plan
from cityhub_incidents.models import ACTIVE_STATUSES, STATUSES, Report, ReportHistory, ReportReporter
from cityhub_incidents.photos import InvalidPhoto, PhotoStorage, clean_photo
from cityhub_incidents.repository import (
    ListFilter,
    NearbyQuery,
    dao_follow,
    dao_followed_ids,
    dao_followers,
    dao_get_report,
    dao_history,
    dao_list_reports,
    dao_lock_filing,
    dao_nearby_candidates,
    dao_nearest_open_duplicate,
    dao_reported_ids,
    dao_reporter,
    dao_reports_by_ids,
    dao_unfollow,
)
from cityhub_incidents.validation import (
    MAX_ADDRESS,
    MAX_DESCRIPTION,
    check_attributes,
    check_point,
    check_radius,
    check_statuses,
    check_text,
    redact_contact,
)

MAX_PAGE_SIZE = 100
MAX_LIST_PAGE_SIZE = 1000


@dataclass
class NewReport:
    category: str
    description: str
    lat: float
    lon: float
    address: str = ""
    zipcode: str = ""
    photo: bytes = b""
    attributes: Mapping[str, str] = field(default_factory=dict)
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    device_id: str = ""
    force: bool = False
    idempotency_key: str = ""

    def fingerprint(self) -> str:
        fields = asdict(self)
        del fields["photo"], fields["idempotency_key"]
        return idempotency.fingerprint(fields, self.photo)


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


@dataclass(frozen=True)
class CreateResult:
    created: ReportView | None
    duplicate_of: ReportView | None
    replayed: bool = False  # an earlier create with the same idempotency key


@dataclass(frozen=True)
class SearchResult:
    views: list[ReportView]
    next_page_token: str


def _encode_token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decode_token(token: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidArgument("invalid page_token") from exc


class _FiledMeanwhile(Exception):
    """The duplicate check under the filing lock found a report filed since the first look."""

    def __init__(self, report_id: str) -> None:
        super().__init__(report_id)
        self.report_id = report_id  # an id, not the row: the row goes stale with the rolled-back session


class ReportsService:
    def __init__(
        self,
        db: Database,
        categories: CategoryDirectory,
        photos: PhotoStorage,
        *,
        duplicate_window: timedelta = timedelta(days=30),
        max_radius_m: float = 5000.0,
    ) -> None:
        self.db = db
        self.categories = categories
        self.photos = photos
        self.duplicate_window = duplicate_window
        self.max_radius_m = max_radius_m
        # Filing is serialised per category so the duplicate check and the insert see one another:
        # in-process here, across replicas by an advisory lock inside the transaction (PostgreSQL).
        self._filing_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # ------------------------------------------------------------------ filing
    async def _category(self, key: str) -> Category:
        if not key or len(key) > 64:
            raise InvalidArgument("category is required")
        try:
            category = await self.categories.get(key)
        except UnknownCategory as exc:
            raise InvalidArgument(f"unknown category {key!r}") from exc
        if not category.takes_reports:
            raise InvalidArgument(f"{category.slug!r} does not take reports")
        return category

    async def create(self, caller: Caller, new: NewReport) -> CreateResult:
        key = idempotency.claim(caller, "report", new.idempotency_key, new.fingerprint(), device_id=new.device_id)
        if key is not None:
            replay = await self._replay(caller, key)
            if replay is not None:
                return replay
        check_point(new.lat, new.lon)
        description = redact_contact(check_text("description", new.description, MAX_DESCRIPTION))
        if not description:
            raise InvalidArgument("description is required")
        address = check_text("address", new.address, MAX_ADDRESS)
        zipcode = check_text("zipcode", new.zipcode, 16)
        contact = [
            check_text(n, v, 200)
            for n, v in (
                ("name", new.contact_name),
                ("email", new.contact_email),
                ("phone", new.contact_phone),
                ("device_id", new.device_id),
            )
        ]
        category = await self._category(new.category)
        attributes = check_attributes(category, new.attributes)
        check_point(new.lat, new.lon, await self.categories.boundary())
        photo: tuple[bytes, str] | None = None
        if new.photo:
            try:
                photo = clean_photo(new.photo)
            except InvalidPhoto as exc:
                raise InvalidArgument(str(exc)) from exc

        if not new.force:
            existing = await self._open_duplicate(category, new.lat, new.lon)
            if existing is not None and key is not None:
                # A twin with this key may have committed since the first look-up: its report is ours.
                replay = await self._replay(caller, key)
                if replay is not None:
                    return replay
            if existing is not None:
                view = await self._view(
                    caller, existing, distance_m=haversine_m(new.lat, new.lon, existing.lat, existing.lon)
                )
                return CreateResult(created=None, duplicate_of=view)

        photo_key = await self.photos.put(*photo) if photo else None
        account_id = person_id(caller)
        created_at = now()
        report = Report(
            id=uuid.uuid4().hex,
            category=category.slug,
            service_code=category.service_code,
            department=category.department,
            status="open",
            description=description,
            lat=new.lat,
            lon=new.lon,
            h3_r9=cell(new.lat, new.lon, 9),
            h3_r8=cell(new.lat, new.lon, 8),
            address=address,
            zipcode=zipcode,
            attributes=attributes,
            anonymous=account_id is None,
            photo_key=photo_key,
            photo_content_type=photo[1] if photo else None,
            follower_count=0,
            created_at=created_at,
            updated_at=created_at,
        )
        reporter = ReportReporter(
            report_id=report.id,
            account_id=account_id,
            name=contact[0],
            email=contact[1],
            phone=contact[2],
            device_id=contact[3],
        )
        try:
            async with self._filing_locks[category.slug], self.db.transaction() as session:
                if not new.force:
                    await dao_lock_filing(session, category.slug)
                    twin = await self._open_duplicate(category, new.lat, new.lon, session)
                    if twin is not None:
                        raise _FiledMeanwhile(twin.id)
                if key is not None:
                    await idempotency.remember(session, key, report.id)
                session.add(report)
                session.add(reporter)
                session.add(
                    ReportHistory(
                        report_id=report.id, kind="created", new_status="open", at=created_at, actor_id=account_id or ""
                    )
                )
                await session.flush()
                publishing.report_created(session, report)
                if account_id is not None:
                    await dao_follow(session, report.id, account_id)
                    publishing.followed(session, report.id, account_id)
        except _FiledMeanwhile as found:
            # Someone filed the same problem while we were validating: offer theirs to follow.
            if photo_key is not None:
                await self.photos.delete(photo_key)
            if key is not None:
                replay = await self._replay(caller, key)  # ... unless it was our own twin
                if replay is not None:
                    return replay
            async with self.db.session() as session:
                twin = await dao_get_report(session, found.report_id)
            if twin is None:  # merged or erased in between: extremely unlikely, and safe to retry
                raise FailedPrecondition("a report for this spot changed meanwhile; please try again") from None
            twin_view = await self._view(caller, twin, distance_m=haversine_m(new.lat, new.lon, twin.lat, twin.lon))
            return CreateResult(created=None, duplicate_of=twin_view)
        except BaseException as exc:
            if photo_key is not None:
                await self.photos.delete(photo_key)
            if key is not None and isinstance(exc, IntegrityError):
                replay = await self._replay(caller, key)  # a concurrent twin with the same key won
                if replay is not None:
                    return replay
            raise
        report.follower_count = 1 if account_id is not None else 0
        return CreateResult(created=await self.get(caller, report.id), duplicate_of=None)

    async def _replay(self, caller: Caller, key: idempotency.IdempotencyClaim) -> CreateResult | None:
        report_id = await idempotency.replayed_id(self.db, key)
        if report_id is None:
            return None
        return CreateResult(created=await self.get(caller, report_id), duplicate_of=None, replayed=True)

    async def _open_duplicate(
        self, category: Category, lat: float, lon: float, session: AsyncSession | None = None
    ) -> Report | None:
        radius = float(category.report_radius_m)
        ky, kx = equirectangular_scale(lat)
        query = NearbyQuery(
            lat=lat,
            lon=lon,
            radius_m=radius,
            statuses=ACTIVE_STATUSES,
            category=category.slug,
            meters_per_deg_lat=ky,
            meters_per_deg_lon=kx,
        )
        cells = disk_cells(lat, lon, radius, 9)
        since = now() - self.duplicate_window
        if session is not None:
            return await dao_nearest_open_duplicate(session, query, cells=cells, since=since)
        async with self.db.session() as read:
            return await dao_nearest_open_duplicate(read, query, cells=cells, since=since)

    # ------------------------------------------------------------------ reading
    async def _view(
        self, caller: Caller, report: Report, *, distance_m: float | None = None, full: bool = False
    ) -> ReportView:
        async with self.db.session() as session:
            return await self._view_in(session, caller, report, distance_m=distance_m, full=full)

    async def _view_in(
        self,
        session: AsyncSession,
        caller: Caller,
        report: Report,
        *,
        distance_m: float | None = None,
        full: bool = False,
    ) -> ReportView:
        account_id = person_id(caller)
        reporter = await dao_reporter(session, report.id)
        mine = account_id is not None and reporter is not None and reporter.account_id == account_id
        private = can_manage(caller, report.department) or mine
        view = ReportView(report=report, distance_m=distance_m, mine=mine)
        if account_id is not None:
            view.following = bool(await dao_followed_ids(session, account_id, [report.id]))
        if full:
            history = await dao_history(session, report.id)
            view.history = [h for h in history if h.kind != "note" or h.public_note]
            if can_manage(caller, report.department):
                view.staff_notes = [h for h in history if h.internal_note]
        if private:
            view.reporter = reporter
        return view

    async def get(self, caller: Caller, report_id: str) -> ReportView:
        async with self.db.session() as session:
            report = await dao_get_report(session, report_id) if report_id else None
            if report is None:
                raise NotFound("report not found")
            return await self._view_in(session, caller, report, full=True)

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
        check_point(lat, lon)
        check_radius(radius_m, self.max_radius_m)
        check_statuses(statuses)
        if page_size < 0:
            raise InvalidArgument("page_size must be positive")
        limit = min(page_size or 50, MAX_PAGE_SIZE)
        cursor = self._search_cursor(page_token)
        ky, kx = equirectangular_scale(lat)
        query = NearbyQuery(
            lat=lat,
            lon=lon,
            radius_m=radius_m,
            statuses=list(statuses) or list(ACTIVE_STATUSES),
            category=category or None,
            meters_per_deg_lat=ky,
            meters_per_deg_lon=kx,
        )
        plan = search_plan(lat, lon, radius_m)
        async with self.db.session() as session:
            rows: list[tuple[str, float]] = []
            for stage in plan.stages:
                rows = await dao_nearby_candidates(
                    session, query, resolution=plan.resolution, cells=stage.cells, limit=limit + 1, cursor=cursor
                )
                if stage.complete or (len(rows) > limit and math.sqrt(rows[limit][1]) <= stage.safe_distance_m):
                    break
            page = rows[:limit]
            reports = await dao_reports_by_ids(session, [r for r, _ in page])
            account_id = person_id(caller)
            following = await dao_followed_ids(session, account_id, list(reports)) if account_id else set()
            mine = await dao_reported_ids(session, account_id, list(reports)) if account_id else set()
        views = []
        for report_id, _ in page:
            report = reports[report_id]
            distance = haversine_m(lat, lon, report.lat, report.lon)
            if distance <= radius_m:
                views.append(
                    ReportView(
                        report=report, distance_m=distance, following=report_id in following, mine=report_id in mine
                    )
                )
        token = _encode_token([page[-1][1], page[-1][0]]) if len(rows) > limit else ""
        return SearchResult(views=views, next_page_token=token)

    @staticmethod
    def _search_cursor(token: str) -> tuple[float, str] | None:
        if not token:
            return None
        payload = _decode_token(token)
        if not (
            isinstance(payload, list)
            and len(payload) == 2
            and isinstance(payload[0], (int, float))
            and isinstance(payload[1], str)
        ):
            raise InvalidArgument("invalid page_token")
        return float(payload[0]), payload[1]

    async def list(
        self, caller: Caller, filters: ListFilter, *, page_size: int = 0, page_token: str = ""
    ) -> SearchResult:
        check_statuses(filters.statuses)
        if len(filters.report_ids) > MAX_LIST_PAGE_SIZE:
            raise InvalidArgument("too many ids")
        if page_size < 0:
            raise InvalidArgument("page_size must be positive")
        if filters.start and filters.end and filters.start >= filters.end:
            raise InvalidArgument("start must be before end")
        limit = min(page_size or 100, MAX_LIST_PAGE_SIZE)
        offset = 0
        if page_token:
            payload = _decode_token(page_token)
            if not isinstance(payload, int) or payload < 0:
                raise InvalidArgument("invalid page_token")
            offset = payload
        async with self.db.session() as session:
            reports = list(await dao_list_reports(session, filters, limit=limit + 1, offset=offset))
            account_id = person_id(caller)
            ids = [r.id for r in reports[:limit]]
            following = await dao_followed_ids(session, account_id, ids) if account_id else set()
        views = [ReportView(report=r, following=r.id in following) for r in reports[:limit]]
        token = _encode_token(offset + limit) if len(reports) > limit else ""
        return SearchResult(views=views, next_page_token=token)

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

    # ------------------------------------------------------------------ following
    async def follow(self, caller: Caller, report_id: str, *, follow: bool = True) -> int:
        account_id = require_person(caller)
        async with self.db.transaction() as session:
            report = await dao_get_report(session, report_id) if report_id else None
            if report is None:
                raise NotFound("report not found")
            if follow and await dao_follow(session, report.id, account_id):
                publishing.followed(session, report.id, account_id)
            if not follow and await dao_unfollow(session, report.id, account_id):
                publishing.unfollowed(session, report.id, account_id)
            await session.flush()
            await session.refresh(report)
            return report.follower_count

    # ------------------------------------------------------------------ staff
    async def _managed(self, session: AsyncSession, caller: Caller, report_id: str) -> Report:
        require_staff(caller)
        report = await dao_get_report(session, report_id, for_update=True) if report_id else None
        if report is None:
            raise NotFound("report not found")
        if not can_manage(caller, report.department):
            raise PermissionDenied("not your department")
        return report

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
        public_note = check_text("public_note", public_note, 2000)
        internal_note = check_text("internal_note", internal_note, 4000)
        async with self.db.transaction() as session:
            report = await self._managed(session, caller, report_id)
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
            return await self._view_in(session, caller, report, full=True)

    async def add_note(self, caller: Caller, report_id: str, *, text: str, public: bool) -> ReportView:
        text = check_text("text", text, 4000)
        if not text:
            raise InvalidArgument("text is required")
        async with self.db.transaction() as session:
            report = await self._managed(session, caller, report_id)
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
            return await self._view_in(session, caller, report, full=True)

    async def merge(self, caller: Caller, report_id: str, parent_id: str) -> ReportView:
        if not parent_id or parent_id == report_id:
            raise InvalidArgument("parent_id must name another report")
        async with self.db.transaction() as session:
            report = await self._managed(session, caller, report_id)
            parent = await self._managed(session, caller, parent_id)
            if parent.status == "duplicate" and parent.parent_id:
                parent = await self._managed(session, caller, parent.parent_id)
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
            return await self._view_in(session, caller, report, full=True)


def public_copy(view: ReportView) -> ReportView:
    """The same view without anything private (used where a caller's rights are unknown)."""
    return replace(view, reporter=None, staff_notes=())


__all__ = ["STATUSES", "CreateResult", "NewReport", "ReportView", "ReportsService", "SearchResult", "UnknownCategory"]
