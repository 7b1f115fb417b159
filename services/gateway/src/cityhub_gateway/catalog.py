"""Catalog routes: departments, city services, service centres, the city; and `get_city`, the
city's facts (time zone, contact, Open311 jurisdiction) for any gateway module.

Catalog reads are public and cacheable: every answer carries a strong ETag (a hash of the body),
`Cache-Control: public, max-age=300` and `Vary: Accept-Language`; `If-None-Match` gets a 304.
They are the same for every caller at one catalog revision, so the gateway keeps them in memory
(`response_cache.py`, invalidated by the catalog's revision events): lists and pages as encoded
bodies with their ETag, centres as values, their live wait times merged per request.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Annotated, Any, TypeVar, cast

import msgspec
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub_sdk.languages import DEFAULT_LANGUAGE, is_rtl, negotiate
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.types import ControllerRouterHandler

from cityhub_gateway.catalog_schemas import (
    CityOut,
    DepartmentsOut,
    Language,
    ServiceCenterOut,
    ServiceCentersOut,
    ServiceOut,
    ServicesOut,
    center_out,
    city_out,
    department_out,
    service_out,
)
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.errors import invalid
from cityhub_gateway.params import (
    AcceptLanguage,
    LangQuery,
    ObjectId,
    OptionalLatitude,
    OptionalLongitude,
    PageSize,
    PageToken,
)
from cityhub_gateway.response_cache import CACHE_CONTROL, EncodedAnswer, ResponseCache, etag_matches, strong_etag
from cityhub_gateway.waittimes import center_waits, live_cache
from cityhub_gateway.waittimes_schemas import (
    ServiceCentersWithWaitOut,
    ServiceCenterWithWaitOut,
    centers_with_wait,
    with_wait,
)

CITY_TTL_S = 60.0  # the city's facts change rarely; a minute-old copy is fine everywhere
CENTER_MAX_RADIUS_M = 50_000.0  # the catalog's own limit for a centre search
T = TypeVar("T")

CenterRadius = Annotated[
    float | None,
    QueryParameter(
        name="radius_m",
        required=False,
        gt=0.0,
        le=CENTER_MAX_RADIUS_M,
        description="Search radius in metres (default 5,000, at most 50,000); needs lat and lon",
    ),
]
Slug = Annotated[str | None, QueryParameter(required=False, max_length=64)]


# -- the city's facts, for every gateway module ------------------------------------------------

_cities: weakref.WeakKeyDictionary[catalog_pb2_grpc.CatalogServiceStub, dict[str, tuple[float, catalog_pb2.City]]]
_cities = weakref.WeakKeyDictionary()


async def get_city(clients: ServiceClients, lang: str = DEFAULT_LANGUAGE) -> catalog_pb2.City:
    """The city as the catalog describes it, cached beside the clients for `CITY_TTL_S`.

    Time zone, contact and Open311 jurisdiction are city data (catalog's `city.yaml`), never
    constants in the gateway; `lang` only changes the name.
    """
    cached = _cities.setdefault(clients.catalog, {})
    hit = cached.get(lang)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CITY_TTL_S:
        return hit[1]
    city: catalog_pb2.City = (await clients.catalog.GetCity(catalog_pb2.GetCityRequest(lang=lang))).city
    cached[lang] = (now, city)
    return city


# -- HTTP caching ------------------------------------------------------------------------------


def _etag(payload: Any) -> str:
    return strong_etag(msgspec.json.encode(payload))


def cacheable(request: Request[Any, Any, Any], payload: T, *, media_type: str = "application/json") -> Response[T]:
    """The payload with ETag/Cache-Control/Vary, or an empty 304 when the client's copy is current."""
    etag = _etag(payload)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Language"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(content=None, status_code=304, headers=headers)  # type: ignore[arg-type]
    return Response(content=payload, headers=headers, media_type=media_type)


def catalog_cache(request: Request[Any, Any, Any]) -> ResponseCache:
    cache: ResponseCache = request.app.state.catalog_cache
    return cache


async def cached_answer(
    request: Request[Any, Any, Any],
    key: Hashable,
    build: Callable[[], Awaitable[tuple[Any, int]]],
    *,
    media_type: str = "application/json",
) -> Response[Any]:
    """The catalog answer for `key`, encoded once per revision: `build()` gives (payload, revision)."""

    async def encoded() -> tuple[EncodedAnswer, int]:
        payload, revision = await build()
        return EncodedAnswer.of(payload, media_type), revision

    answer = await catalog_cache(request).get_or_fetch(key, encoded)
    return answer.response(request.headers.get("if-none-match"))


def _language(lang: str | None, accept_language: str | None) -> Language:
    return cast(Language, negotiate(lang, accept_language))


# -- controllers -----------------------------------------------------------------------------------


class DepartmentController(Controller):
    path = "/v1/departments"
    tags = ["catalog"]

    @get("/", operation_id="listDepartments", summary="Every city department", cache=False)
    async def list_departments(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
        page_size: PageSize = None,
        page_token: PageToken = None,
    ) -> Response[DepartmentsOut]:
        language = _language(lang, accept_language)

        async def build() -> tuple[DepartmentsOut, int]:
            response = await clients.catalog.ListDepartments(
                catalog_pb2.ListDepartmentsRequest(lang=language, page_size=page_size or 0, page_token=page_token or "")
            )
            out = DepartmentsOut(
                items=[department_out(d) for d in response.departments],
                lang=language,
                rtl=is_rtl(language),
                total=response.total_size,
                next_page_token=response.next_page_token or None,
            )
            return out, response.revision

        return await cached_answer(request, ("departments", language, page_size, page_token), build)


class ServiceController(Controller):
    path = "/v1/services"
    tags = ["catalog"]

    @get(
        "/",
        operation_id="listServices",
        summary="City services: all, filtered, or ranked by a free-text query",
        cache=False,
    )
    async def list_services(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        q: Annotated[str | None, QueryParameter(required=False, max_length=500, description="Free-text search")] = None,
        category: Slug = None,
        department: Slug = None,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
        page_size: PageSize = None,
        page_token: PageToken = None,
    ) -> Response[ServicesOut]:
        language = _language(lang, accept_language)

        async def build() -> tuple[ServicesOut, int]:
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
                lang=language,
                rtl=is_rtl(language),
                total=response.total_size,
                next_page_token=response.next_page_token or None,
            )
            return out, response.revision

        key = ("services", language, q, category, department, page_size, page_token)
        return await cached_answer(request, key, build)

    @get(
        "/{slug:str}",
        operation_id="getService",
        summary="One city service with its how-to, fees, documents and form",
        cache=False,
    )
    async def get_service(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        slug: ObjectId,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> Response[ServiceOut]:
        language = _language(lang, accept_language)

        async def build() -> tuple[ServiceOut, int]:
            response = await clients.catalog.GetService(catalog_pb2.GetServiceRequest(lang=language, slug=slug))
            return service_out(response.service), response.revision

        return await cached_answer(request, ("service", language, slug), build)


class ServiceCenterController(Controller):
    path = "/v1/service-centers"
    tags = ["catalog"]

    @get(
        "/",
        operation_id="listServiceCenters",
        summary="Service centres, nearest first when lat/lon are given",
        cache=False,
    )
    async def list_centers(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        lat: OptionalLatitude = None,
        lon: OptionalLongitude = None,
        radius_m: CenterRadius = None,
        service: Slug = None,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
        page_size: PageSize = None,
        page_token: PageToken = None,
    ) -> Response[ServiceCentersWithWaitOut]:
        if (lat is None) != (lon is None) or (radius_m is not None and lat is None):
            raise invalid("lat", "lat, lon and radius_m must be given together")
        near = lat is not None and lon is not None
        language = _language(lang, accept_language)

        async def build() -> tuple[ServiceCentersOut, int]:
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
                rtl=is_rtl(language),
                total=response.total_size,
                next_page_token=response.next_page_token or None,
            )
            return out, response.revision

        key = ("centers", language, lat, lon, radius_m, service, page_size, page_token)
        out = await catalog_cache(request).get_or_fetch(key, build)
        waits = await center_waits(request.app.state, clients, [c.id for c in out.items])
        return live_cache(cacheable(request, centers_with_wait(out, waits)), bool(waits))

    @get(
        "/{center_id:str}",
        operation_id="getServiceCenter",
        summary="One service centre with its hours and queues",
        cache=False,
    )
    async def get_center(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        center_id: ObjectId,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> Response[ServiceCenterWithWaitOut]:
        language = _language(lang, accept_language)

        async def build() -> tuple[ServiceCenterOut, int]:
            response = await clients.catalog.GetServiceCenter(
                catalog_pb2.GetServiceCenterRequest(lang=language, id=center_id)
            )
            return center_out(response.center, near=False), response.revision

        found = await catalog_cache(request).get_or_fetch(("center", language, center_id), build)
        waits = await center_waits(request.app.state, clients, [found.id])
        center = with_wait(found, waits.get(found.id))
        return live_cache(cacheable(request, center), bool(waits))


class CityController(Controller):
    path = "/v1/city"
    tags = ["catalog"]

    @get(
        "/",
        operation_id="getCity",
        summary="The city: name, time zone, centre, boundary, contact and Open311 jurisdiction",
        cache=False,
    )
    async def get_city(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> Response[CityOut]:
        language = _language(lang, accept_language)
        return cacheable(request, city_out(await get_city(clients, language), language, is_rtl(language)))


CATALOG_ROUTES: list[ControllerRouterHandler] = [
    DepartmentController,
    ServiceController,
    ServiceCenterController,
    CityController,
]
