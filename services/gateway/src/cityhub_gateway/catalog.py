"""Catalog routes: departments, city services, service centres, the city.

Catalog reads are public and cacheable: every answer carries a strong ETag (a hash of the body),
`Cache-Control: public, max-age=300` and `Vary: Accept-Language`; `If-None-Match` gets a 304.
"""

from __future__ import annotations

import hashlib
import math
from typing import Annotated, Any, TypeVar

import msgspec
from cityhub.catalog.v1 import catalog_pb2
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import FromPath, QueryParameter
from litestar.types import ControllerRouterHandler

from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.lang import AcceptLanguage, LangQuery, negotiate

CACHE_CONTROL = "public, max-age=300"
RTL_LANGUAGES = frozenset({"fa"})
T = TypeVar("T")

PageSize = Annotated[int | None, QueryParameter(name="page_size", required=False, ge=1, le=100)]
PageToken = Annotated[str | None, QueryParameter(name="page_token", required=False, max_length=200)]


# -- HTTP caching ------------------------------------------------------------------------------


def _etag(payload: Any) -> str:
    return '"' + hashlib.sha256(msgspec.json.encode(payload)).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


def cacheable(request: Request[Any, Any, Any], payload: T, *, media_type: str = "application/json") -> Response[T]:
    """The payload with ETag/Cache-Control/Vary, or an empty 304 when the client's copy is current."""
    etag = _etag(payload)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Language"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(content=None, status_code=304, headers=headers)  # type: ignore[arg-type]
    return Response(content=payload, headers=headers, media_type=media_type)


def finite(name: str, value: float | None) -> float | None:
    """Python parses "nan" and "inf" as floats; the API refuses them like any other bad number."""
    if value is not None and not math.isfinite(value):
        raise ValidationException(
            detail=f"{name} must be a finite number", extra=[{"key": name, "message": "must be a finite number"}]
        )
    return value


# -- DTOs ----------------------------------------------------------------------------------------


class DepartmentOut(msgspec.Struct):
    slug: str
    name: str
    description: str
    phone: str
    email: str
    website: str


class DepartmentsOut(msgspec.Struct):
    items: list[DepartmentOut]
    lang: str
    rtl: bool
    total: int
    next_page_token: str | None = None


class FeeOut(msgspec.Struct):
    amount: str
    currency: str
    description: str


class AttributeValueOut(msgspec.Struct):
    key: str
    name: str


class FormAttributeOut(msgspec.Struct):
    code: str
    datatype: str
    required: bool
    variable: bool
    order: int
    description: str
    datatype_description: str
    values: list[AttributeValueOut]


class ServiceOut(msgspec.Struct):
    slug: str
    service_code: str
    department: str
    category: str
    category_name: str
    type: str
    name: str
    summary: str
    keywords: list[str]
    steps: list[str]
    fees: list[FeeOut]
    documents: list[str]
    eligibility: str
    channels: list[str]
    centers: list[str]
    takes_reports: bool
    takes_requests: bool
    report_radius_m: int
    form: list[FormAttributeOut]
    lang: str
    rtl: bool
    version: str


class ServicesOut(msgspec.Struct):
    items: list[ServiceOut]
    lang: str
    rtl: bool
    total: int
    next_page_token: str | None = None


class HoursOut(msgspec.Struct):
    day: str
    ranges: list[str]


class QueueOut(msgspec.Struct):
    slug: str
    name: str
    services: list[str]


class ServiceCenterOut(msgspec.Struct):
    id: str
    name: str
    address: str
    lat: float
    lon: float
    phone: str
    hours: list[HoursOut]
    queues: list[QueueOut]
    lang: str
    rtl: bool
    distance_m: float | None = None


class ServiceCentersOut(msgspec.Struct):
    items: list[ServiceCenterOut]
    lang: str
    rtl: bool
    total: int
    next_page_token: str | None = None


class LatLonOut(msgspec.Struct):
    lat: float
    lon: float


class CityOut(msgspec.Struct):
    name: str
    timezone: str
    center: LatLonOut
    boundary: list[LatLonOut]
    lang: str
    rtl: bool


def department_out(d: catalog_pb2.Department) -> DepartmentOut:
    return DepartmentOut(
        slug=d.slug, name=d.name, description=d.description, phone=d.phone, email=d.email, website=d.website
    )


def service_out(s: catalog_pb2.Service) -> ServiceOut:
    return ServiceOut(
        slug=s.slug,
        service_code=s.service_code,
        department=s.department,
        category=s.category,
        category_name=s.category_name,
        type=s.type,
        name=s.name,
        summary=s.summary,
        keywords=list(s.keywords),
        steps=list(s.steps),
        fees=[FeeOut(amount=f.amount, currency=f.currency, description=f.description) for f in s.fees],
        documents=list(s.documents),
        eligibility=s.eligibility,
        channels=list(s.channels),
        centers=list(s.center_ids),
        takes_reports=s.takes_reports,
        takes_requests=s.takes_requests,
        report_radius_m=s.report_radius_m,
        form=[
            FormAttributeOut(
                code=a.code,
                datatype=a.datatype,
                required=a.required,
                variable=a.variable,
                order=a.order,
                description=a.description,
                datatype_description=a.datatype_description,
                values=[AttributeValueOut(key=v.key, name=v.name) for v in a.values],
            )
            for a in s.form
        ],
        lang=s.lang,
        rtl=s.rtl,
        version=s.version,
    )


def center_out(c: catalog_pb2.ServiceCenter, *, near: bool) -> ServiceCenterOut:
    return ServiceCenterOut(
        id=c.id,
        name=c.name,
        address=c.address,
        lat=c.lat,
        lon=c.lon,
        phone=c.phone,
        hours=[HoursOut(day=h.day, ranges=list(h.ranges)) for h in c.hours],
        queues=[QueueOut(slug=q.slug, name=q.name, services=list(q.services)) for q in c.queues],
        lang=c.lang,
        rtl=c.rtl,
        distance_m=c.distance_m if near else None,
    )


def _rtl(lang: str) -> bool:
    return lang in RTL_LANGUAGES


# -- controllers -----------------------------------------------------------------------------------


class DepartmentController(Controller):
    path = "/v1/departments"
    tags = ["catalog"]

    @get("/", summary="Every city department", cache=False)
    async def list_departments(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
        page_size: PageSize = None,
        page_token: PageToken = None,
    ) -> Response[DepartmentsOut]:
        language = negotiate(lang, accept_language)
        response = await clients.catalog.ListDepartments(
            catalog_pb2.ListDepartmentsRequest(lang=language, page_size=page_size or 0, page_token=page_token or "")
        )
        out = DepartmentsOut(
            items=[department_out(d) for d in response.departments],
            lang=response.lang or language,
            rtl=_rtl(response.lang or language),
            total=response.total_size,
            next_page_token=response.next_page_token or None,
        )
        return cacheable(request, out)


class ServiceController(Controller):
    path = "/v1/services"
    tags = ["catalog"]

    @get("/", summary="City services: all, filtered, or ranked by a free-text query", cache=False)
    async def list_services(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        q: Annotated[str | None, QueryParameter(required=False, max_length=500, description="Free-text search")] = None,
        category: Annotated[str | None, QueryParameter(required=False, max_length=64)] = None,
        department: Annotated[str | None, QueryParameter(required=False, max_length=64)] = None,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
        page_size: PageSize = None,
        page_token: PageToken = None,
    ) -> Response[ServicesOut]:
        language = negotiate(lang, accept_language)
        response = await clients.catalog.ListServices(
            catalog_pb2.ListServicesRequest(
                lang=language,
                query=q or "",
                category=category or "",
                department=department or "",
                page_size=page_size or 0,
                page_token=page_token or "",
            )
        )
        out = ServicesOut(
            items=[service_out(s) for s in response.services],
            lang=response.lang or language,
            rtl=_rtl(response.lang or language),
            total=response.total_size,
            next_page_token=response.next_page_token or None,
        )
        return cacheable(request, out)

    @get("/{slug:str}", summary="One city service with its how-to, fees, documents and form", cache=False)
    async def get_service(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        slug: FromPath[str],
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> Response[ServiceOut]:
        language = negotiate(lang, accept_language)
        response = await clients.catalog.GetService(catalog_pb2.GetServiceRequest(lang=language, slug=slug))
        return cacheable(request, service_out(response.service))


class ServiceCenterController(Controller):
    path = "/v1/service-centers"
    tags = ["catalog"]

    @get("/", summary="Service centres, nearest first when lat/lon are given", cache=False)
    async def list_centers(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        lat: Annotated[float | None, QueryParameter(required=False, ge=-90, le=90)] = None,
        lon: Annotated[float | None, QueryParameter(required=False, ge=-180, le=180)] = None,
        radius_m: Annotated[
            float | None, QueryParameter(required=False, gt=0, le=50_000, description="Default 5000 with lat/lon")
        ] = None,
        service: Annotated[str | None, QueryParameter(required=False, max_length=64)] = None,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
        page_size: PageSize = None,
        page_token: PageToken = None,
    ) -> Response[ServiceCentersOut]:
        lat, lon, radius_m = finite("lat", lat), finite("lon", lon), finite("radius_m", radius_m)
        if (lat is None) != (lon is None) or (radius_m is not None and lat is None):
            raise ValidationException(
                detail="lat and lon go together (and radius_m needs them)",
                extra=[{"key": "lat", "message": "lat, lon and radius_m must be given together"}],
            )
        near = lat is not None and lon is not None
        language = negotiate(lang, accept_language)
        response = await clients.catalog.ListServiceCenters(
            catalog_pb2.ListServiceCentersRequest(
                lang=language,
                near=near,
                lat=lat or 0.0,
                lon=lon or 0.0,
                radius_m=radius_m or 5000.0,
                service=service or "",
                page_size=page_size or 0,
                page_token=page_token or "",
            )
        )
        out = ServiceCentersOut(
            items=[center_out(c, near=near) for c in response.centers],
            lang=language,
            rtl=_rtl(language),
            total=response.total_size,
            next_page_token=response.next_page_token or None,
        )
        return cacheable(request, out)

    @get("/{center_id:str}", summary="One service centre with its hours and queues", cache=False)
    async def get_center(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        center_id: FromPath[str],
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> Response[ServiceCenterOut]:
        language = negotiate(lang, accept_language)
        response = await clients.catalog.GetServiceCenter(
            catalog_pb2.GetServiceCenterRequest(lang=language, id=center_id)
        )
        return cacheable(request, center_out(response.center, near=False))


class CityController(Controller):
    path = "/v1/city"
    tags = ["catalog"]

    @get("/", summary="The city: name, time zone, centre and boundary", cache=False)
    async def get_city(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> Response[CityOut]:
        language = negotiate(lang, accept_language)
        city = (await clients.catalog.GetCity(catalog_pb2.GetCityRequest(lang=language))).city
        out = CityOut(
            name=city.name,
            timezone=city.timezone,
            center=LatLonOut(lat=city.center_lat, lon=city.center_lon),
            boundary=[LatLonOut(lat=p.lat, lon=p.lon) for p in city.boundary],
            lang=language,
            rtl=_rtl(language),
        )
        return cacheable(request, out)


CATALOG_ROUTES: list[ControllerRouterHandler] = [
    DepartmentController,
    ServiceController,
    ServiceCenterController,
    CityController,
]
