"""Catalog use cases: they validate input, own their transactions, page their answers and raise
the SDK's errors (the SDK's interceptor turns them into gRPC statuses)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from cityhub_sdk.auth import ROLE_DEPARTMENT, ROLE_OPERATOR, ROLE_SERVICE, ROLE_STAFF, Caller
from cityhub_sdk.db import Database
from cityhub_sdk.errors import InvalidArgument, NotFound, PermissionDenied
from cityhub_sdk.geo import distance_m
from cityhub_sdk.languages import SUPPORTED_LANGUAGES
from cityhub_sdk.outbox import add_event
from cityhub_sdk.paging import page_window
from cityhub_sdk.subjects import CATALOG_SERVICE_UPDATED
from cityhub_sdk.tables import utcnow

from cityhub_catalog.content import content_version, service_content, service_updated_event
from cityhub_catalog.geo import covering_cells, search_circle
from cityhub_catalog.models import City, CityService, Department, DepartmentRegistration, Queue, ServiceCenter
from cityhub_catalog.repository import (
    dao_centers_in_cells,
    dao_get_center,
    dao_get_city,
    dao_get_registration,
    dao_get_service,
    dao_list_centers,
    dao_list_registrations,
    dao_queues_of,
    dao_save_registration,
    dao_save_service,
)
from cityhub_catalog.revision import bump_revision
from cityhub_catalog.snapshot import CatalogSnapshot, SnapshotCache

MAX_QUERY_CHARS = 500
MAX_TEXT_CHARS = 2000
CHANNELS = frozenset({"online", "in_person", "phone", "app", "mail"})
# host:port, host a DNS name, IPv4 or [IPv6]; the catalog dials it for health checks.
_ADDRESS_RE = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$")
T = TypeVar("T")


@dataclass(frozen=True)
class Paging:
    """What a list request asks for: `size` 0 is the default, `token` the previous page's."""

    size: int = 0
    token: str = ""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int | None  # None when counting would cost a query of its own
    next_token: str


def _page(items: Sequence[T], paging: Paging) -> Page[T]:
    window = page_window(paging.size, paging.token)
    return Page(items[window.offset : window.offset + window.size], len(items), window.next_token(len(items)))


@dataclass(frozen=True)
class Near:
    """A proximity search as requested (validated by the use case)."""

    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class CenterResult:
    center: ServiceCenter
    queues: Sequence[Queue]
    distance_m: float | None = None


@dataclass(frozen=True)
class ServicePatch:
    """A partial edit of a service; empty maps / None / empty lists leave a field alone."""

    name: Mapping[str, str] = field(default_factory=dict)
    summary: Mapping[str, str] = field(default_factory=dict)
    eligibility: Mapping[str, str] = field(default_factory=dict)
    report_radius_m: int | None = None
    takes_reports: bool | None = None
    takes_requests: bool | None = None
    channels: Sequence[str] = ()


def _merge_texts(current: Mapping[str, str], edit: Mapping[str, str], what: str) -> dict[str, str]:
    merged = dict(current)
    for lang, text in edit.items():
        if lang not in SUPPORTED_LANGUAGES:
            raise InvalidArgument(f"{what}: unsupported language {lang[:16]!r}")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidArgument(f"{what}.{lang} is longer than {MAX_TEXT_CHARS} characters")
        if text.strip():
            merged[lang] = text.strip()
        elif lang == "en":
            raise InvalidArgument(f"{what}.en cannot be removed: it is every language's fallback")
        else:
            merged.pop(lang, None)
    return merged


class CatalogService:
    def __init__(self, db: Database, cache: SnapshotCache) -> None:
        self.db = db
        self.cache = cache

    async def snapshot(self) -> CatalogSnapshot:
        return await self.cache.get()

    @staticmethod
    def list_departments(snapshot: CatalogSnapshot, paging: Paging) -> Page[Department]:
        return _page(snapshot.departments, paging)

    # -- services ---------------------------------------------------------------------------

    @staticmethod
    def list_services(
        snapshot: CatalogSnapshot,
        *,
        lang: str,
        paging: Paging,
        query: str = "",
        category: str = "",
        department: str = "",
    ) -> Page[CityService]:
        """Services of `snapshot` in catalog order, or ranked by relevance when `query` is set."""
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidArgument(f"query is longer than {MAX_QUERY_CHARS} characters")
        page_window(paging.size, paging.token)  # a bad token is refused before any search
        if query.strip():
            hits = snapshot.index.search(query, lang, limit=len(snapshot.services))
            services = [snapshot.by_slug[hit.slug] for hit in hits if hit.slug in snapshot.by_slug]
        else:
            services = list(snapshot.services)
        if category:
            services = [s for s in services if s.category == category]
        if department:
            services = [s for s in services if s.department == department]
        return _page(services, paging)

    @staticmethod
    def get_service(snapshot: CatalogSnapshot, *, slug: str = "", service_code: str = "") -> CityService:
        service = snapshot.by_slug.get(slug) if slug else snapshot.by_code.get(service_code) if service_code else None
        if service is None:
            raise NotFound("no such service")
        return service

    async def update_service(self, caller: Caller, slug: str, patch: ServicePatch) -> tuple[CityService, bool]:
        """Apply an edit; a real change gets a new version, a revision bump and an event, atomically."""
        if caller.role not in (ROLE_STAFF, ROLE_OPERATOR):
            raise PermissionDenied("only staff and operators edit services")
        if patch.channels and not set(patch.channels) <= CHANNELS:
            raise InvalidArgument(f"channels must be among {', '.join(sorted(CHANNELS))}")
        async with self.db.transaction() as session:
            service = await dao_get_service(session, slug, for_update=True)
            if service is None:
                raise NotFound("no such service")
            if caller.role == ROLE_STAFF and caller.department != service.department:
                raise PermissionDenied("staff edit only their own department's services")
            content = service_content(service)
            content["name"] = _merge_texts(service.name, patch.name, "name")
            content["summary"] = _merge_texts(service.summary, patch.summary, "summary")
            content["eligibility"] = _merge_texts(service.eligibility, patch.eligibility, "eligibility")
            if patch.takes_reports is not None:
                content["takes_reports"] = patch.takes_reports
            if patch.takes_requests is not None:
                content["takes_requests"] = patch.takes_requests
            if patch.report_radius_m is not None:
                content["report_radius_m"] = patch.report_radius_m
            if patch.channels:
                content["channels"] = list(dict.fromkeys(patch.channels))
            if content["takes_reports"] and not 10 <= content["report_radius_m"] <= 2000:
                raise InvalidArgument("report_radius_m must be between 10 and 2000 for a service taking reports")
            version = content_version(content)
            if version == service.version:
                return service, False
            updated = CityService(**content, position=service.position, version=version, updated_at=utcnow())
            await dao_save_service(session, updated)
            await bump_revision(session)
            add_event(session, CATALOG_SERVICE_UPDATED, service_updated_event(updated), source="catalog")
        return updated, True

    # -- centres and city ---------------------------------------------------------------------

    async def list_centers(self, *, near: Near | None, paging: Paging, service: str = "") -> Page[CenterResult]:
        """All centres by slug, or those within `near` nearest first; optionally offering `service`."""
        circle = search_circle(near.lat, near.lon, near.radius_m) if near is not None else None
        page_window(paging.size, paging.token)
        async with self.db.session() as session:
            found: list[tuple[ServiceCenter, float | None]]
            if circle is None:
                found = [(c, None) for c in await dao_list_centers(session)]
            else:
                coarse, cells = covering_cells(circle)
                candidates = await dao_centers_in_cells(session, cells, coarse=coarse)
                measured = [(c, distance_m(circle.lat, circle.lon, c.lat, c.lon)) for c in candidates]
                found = sorted(
                    ((c, d) for c, d in measured if d <= circle.radius_m), key=lambda cd: (cd[1], cd[0].slug)
                )
            queues = await dao_queues_of(session, [c.slug for c, _ in found])
        by_center: dict[str, list[Queue]] = {}
        for queue in queues:
            by_center.setdefault(queue.center, []).append(queue)
        results = [CenterResult(c, by_center.get(c.slug, []), d) for c, d in found]
        if service:
            results = [r for r in results if any(service in q.services for q in r.queues)]
        return _page(results, paging)

    async def get_center(self, slug: str) -> CenterResult:
        async with self.db.session() as session:
            center = await dao_get_center(session, slug)
            if center is None:
                raise NotFound("no such service center")
            queues = await dao_queues_of(session, [slug])
        return CenterResult(center, list(queues))

    async def get_city(self) -> City:
        async with self.db.session() as session:
            city = await dao_get_city(session)
        if city is None:
            raise NotFound("the city is not configured yet")
        return city

    # -- department registrations ---------------------------------------------------------------

    async def register_department_service(self, caller: Caller, slug: str, address: str) -> DepartmentRegistration:
        """A department system registers the gRPC server that handles one of its services."""
        if caller.role != ROLE_DEPARTMENT or not caller.department:
            raise PermissionDenied("only department systems register department services")
        match = _ADDRESS_RE.match(address)
        if match is None or not 0 < int(match.group(1)) < 65536:
            raise InvalidArgument("address must be host:port")
        async with self.db.transaction() as session:
            service = await dao_get_service(session, slug)
            if service is None:
                raise NotFound("no such service")
            if service.department != caller.department:
                raise PermissionDenied("this service belongs to another department")
            registration = await dao_get_registration(session, slug)
            if registration is None:
                registration = DepartmentRegistration(slug=slug, department=service.department, address=address)
            elif registration.address != address:
                registration.address = address
                registration.health = "UNKNOWN"
                registration.checked_at = None
                registration.registered_at = utcnow()
            await dao_save_registration(session, registration)
        return registration

    async def list_registrations(
        self, caller: Caller, *, department: str, paging: Paging
    ) -> Page[DepartmentRegistration]:
        """Operators and other services see all; staff and department systems their own department's."""
        window = page_window(paging.size, paging.token)
        if caller.role in (ROLE_STAFF, ROLE_DEPARTMENT):
            if department and department != caller.department:
                raise PermissionDenied("another department's registrations")
            department = caller.department or "\x00"
        elif caller.role not in (ROLE_OPERATOR, ROLE_SERVICE):
            raise PermissionDenied("not allowed for this role")
        async with self.db.session() as session:
            rows = list(
                await dao_list_registrations(
                    session, department=department, offset=window.offset, limit=window.size + 1
                )
            )
        # One row beyond the page says another page follows.
        return Page(rows[: window.size], None, window.next_token(window.offset + len(rows)))

    async def all_registrations(self) -> list[DepartmentRegistration]:
        async with self.db.session() as session:
            return list(await dao_list_registrations(session))
