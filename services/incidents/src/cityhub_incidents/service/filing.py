"""Filing a report: validation, duplicate detection, idempotent retries, one transaction.

Filing is serialised per category so the duplicate check and the insert see one another:
in-process by a lock, across replicas by an advisory lock inside the transaction (PostgreSQL).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from cityhub_sdk.auth import ROLE_DEPARTMENT, Caller
from cityhub_sdk.db import Database
from cityhub_sdk.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from cityhub_sdk.geo import distance_m
from cityhub_sdk.timestamps import now
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_incidents import idempotency, publishing
from cityhub_incidents.access import person_id
from cityhub_incidents.categories import Category, CategoryDirectory, UnknownCategory
from cityhub_incidents.geo import cell, disk_cells, equirectangular_scale
from cityhub_incidents.models import ACTIVE_STATUSES, Report, ReportHistory, ReportReporter
from cityhub_incidents.photos import InvalidPhoto, PhotoStorage, clean_photo
from cityhub_incidents.quota import ReportQuota
from cityhub_incidents.repository import (
    NearbyQuery,
    dao_follow,
    dao_get_report,
    dao_lock_filing,
    dao_nearest_open_duplicate,
)
from cityhub_incidents.service.visibility import ReportView, load_view, report_view
from cityhub_incidents.validation import (
    MAX_ADDRESS,
    MAX_DESCRIPTION,
    check_attributes,
    check_point,
    check_text,
    redact_contact,
)


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


@dataclass(frozen=True)
class CreateResult:
    created: ReportView | None
    duplicate_of: ReportView | None
    replayed: bool = False  # an earlier create with the same idempotency key


class _FiledMeanwhile(Exception):
    """The duplicate check under the filing lock found a report filed since the first look."""

    def __init__(self, report_id: str) -> None:
        super().__init__(report_id)
        self.report_id = report_id  # an id, not the row: the row goes stale with the rolled-back session


class FilingService:
    def __init__(
        self,
        db: Database,
        categories: CategoryDirectory,
        photos: PhotoStorage,
        *,
        duplicate_window: timedelta = timedelta(days=30),
        quota: ReportQuota | None = None,
    ) -> None:
        self.db = db
        self.categories = categories
        self.photos = photos
        self.duplicate_window = duplicate_window
        self.quota = quota or ReportQuota(per_reporter=20, per_address=60, window_s=3600.0)
        self._filing_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

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

    async def create(self, caller: Caller, new: NewReport, *, client_address: str = "") -> CreateResult:
        """`client_address` (from the gateway) counts anonymous reports against the address quota."""
        key = idempotency.claim(caller, "report", new.idempotency_key, new.fingerprint(), device_id=new.device_id)
        if key is not None:
            replay = await self._replay(caller, key)
            if replay is not None:
                return replay
        check_point(new.lat, new.lon)
        description = redact_contact(check_text("description", new.description, MAX_DESCRIPTION, multiline=True))
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
        if caller.role == ROLE_DEPARTMENT and caller.department != category.department:
            # A department's key files for its own department's services only.
            raise PermissionDenied(f"this API key may not file requests for {category.service_code}")
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
                return CreateResult(created=None, duplicate_of=await self._offered(caller, existing, new))

        self.quota.charge(caller, device_id=contact[3], client_address=client_address)
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
            return CreateResult(created=None, duplicate_of=await self._offered(caller, twin, new))
        except BaseException as exc:
            if photo_key is not None:
                await self.photos.delete(photo_key)
            if key is not None and isinstance(exc, IntegrityError):
                replay = await self._replay(caller, key)  # a concurrent twin with the same key won
                if replay is not None:
                    return replay
            raise
        return CreateResult(created=await load_view(self.db, caller, report.id), duplicate_of=None)

    async def _offered(self, caller: Caller, existing: Report, new: NewReport) -> ReportView:
        """The open report offered instead of filing, with its distance from the new one."""
        distance = distance_m(new.lat, new.lon, existing.lat, existing.lon)
        async with self.db.session() as session:
            return await report_view(session, caller, existing, distance_m=distance)

    async def _replay(self, caller: Caller, key: idempotency.IdempotencyClaim) -> CreateResult | None:
        report_id = await idempotency.replayed_id(self.db, key)
        if report_id is None:
            return None
        return CreateResult(created=await load_view(self.db, caller, report_id), duplicate_of=None, replayed=True)

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
