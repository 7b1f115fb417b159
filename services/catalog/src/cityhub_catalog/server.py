"""The gRPC face of the catalog: translate messages, call a use case, translate back."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub_sdk.auth import ROLE_DEPARTMENT, ROLE_OPERATOR, ROLE_STAFF, require

from cityhub_catalog.errors import CatalogError
from cityhub_catalog.geo import validate_circle
from cityhub_catalog.health_checks import RegistrationHealthChecker
from cityhub_catalog.i18n import resolve_lang
from cityhub_catalog.messages import (
    center_message,
    city_message,
    department_message,
    registration_message,
    service_message,
)
from cityhub_catalog.paging import next_page_token, page_window
from cityhub_catalog.service import CatalogService, ServicePatch

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Self = TypeVar("Self")
Handler = Callable[[Self, Req, grpc.aio.ServicerContext], Awaitable[Resp]]


def _status(method: Handler[Self, Req, Resp]) -> Handler[Self, Req, Resp]:
    """Use-case errors end the RPC with their status code and client-safe text."""

    @functools.wraps(method)
    async def wrapper(self: Self, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        try:
            return await method(self, request, context)
        except CatalogError as exc:
            await context.abort(exc.code, str(exc))
            raise  # abort raises; this keeps type checkers honest

    return wrapper


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, service: CatalogService, checker: RegistrationHealthChecker | None = None) -> None:
        self.service = service
        self.checker = checker

    @_status
    async def ListDepartments(
        self, request: catalog_pb2.ListDepartmentsRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListDepartmentsResponse:
        lang = resolve_lang(request.lang)
        offset, size = page_window(request.page_size, request.page_token)
        departments = (await self.service.snapshot()).departments
        return catalog_pb2.ListDepartmentsResponse(
            lang=lang,
            departments=[department_message(d, lang) for d in departments[offset : offset + size]],
            next_page_token=next_page_token(offset, size, len(departments)),
            total_size=len(departments),
        )

    @_status
    async def ListServices(
        self, request: catalog_pb2.ListServicesRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListServicesResponse:
        lang = resolve_lang(request.lang)
        offset, size = page_window(request.page_size, request.page_token)
        snapshot, services = await self.service.list_services(
            lang=lang, query=request.query, category=request.category, department=request.department
        )
        return catalog_pb2.ListServicesResponse(
            services=[service_message(s, lang, snapshot.categories) for s in services[offset : offset + size]],
            next_page_token=next_page_token(offset, size, len(services)),
            total_size=len(services),
            lang=lang,
        )

    @_status
    async def GetService(
        self, request: catalog_pb2.GetServiceRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.GetServiceResponse:
        lang = resolve_lang(request.lang)
        snapshot, service = await self.service.get_service(slug=request.slug, service_code=request.service_code)
        return catalog_pb2.GetServiceResponse(service=service_message(service, lang, snapshot.categories))

    @_status
    async def ListServiceCenters(
        self, request: catalog_pb2.ListServiceCentersRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListServiceCentersResponse:
        lang = resolve_lang(request.lang)
        circle = validate_circle(request.lat, request.lon, request.radius_m) if request.near else None
        offset, size = page_window(request.page_size, request.page_token)
        results = await self.service.list_centers(circle=circle, service=request.service)
        return catalog_pb2.ListServiceCentersResponse(
            centers=[center_message(r, lang) for r in results[offset : offset + size]],
            next_page_token=next_page_token(offset, size, len(results)),
            total_size=len(results),
        )

    @_status
    async def GetServiceCenter(
        self, request: catalog_pb2.GetServiceCenterRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.GetServiceCenterResponse:
        lang = resolve_lang(request.lang)
        return catalog_pb2.GetServiceCenterResponse(
            center=center_message(await self.service.get_center(request.id), lang)
        )

    @_status
    async def GetCity(
        self, request: catalog_pb2.GetCityRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.GetCityResponse:
        return catalog_pb2.GetCityResponse(city=city_message(await self.service.get_city(), resolve_lang(request.lang)))

    @_status
    async def RegisterDepartmentService(
        self, request: catalog_pb2.RegisterDepartmentServiceRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.RegisterDepartmentServiceResponse:
        caller = await require(context, ROLE_DEPARTMENT)
        registration = await self.service.register_department_service(caller, request.slug, request.address)
        if self.checker is not None:
            self.checker.check_soon()
        return catalog_pb2.RegisterDepartmentServiceResponse(registration=registration_message(registration))

    @_status
    async def ListDepartmentServices(
        self, request: catalog_pb2.ListDepartmentServicesRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListDepartmentServicesResponse:
        offset, size = page_window(request.page_size, request.page_token)
        caller = await require(context)
        rows = await self.service.list_registrations(
            caller, department=request.department, offset=offset, limit=size + 1
        )
        return catalog_pb2.ListDepartmentServicesResponse(
            registrations=[registration_message(r) for r in rows[:size]],
            next_page_token=next_page_token(offset, size, offset + len(rows)),
        )

    @_status
    async def UpdateService(
        self, request: catalog_pb2.UpdateServiceRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.UpdateServiceResponse:
        caller = await require(context, ROLE_STAFF, ROLE_OPERATOR)
        patch = ServicePatch(
            name=dict(request.name),
            summary=dict(request.summary),
            eligibility=dict(request.eligibility),
            report_radius_m=request.report_radius_m if request.HasField("report_radius_m") else None,
            takes_reports=request.takes_reports if request.HasField("takes_reports") else None,
            takes_requests=request.takes_requests if request.HasField("takes_requests") else None,
            channels=list(request.channels),
        )
        service, changed = await self.service.update_service(caller, request.slug, patch)
        snapshot = await self.service.snapshot()
        return catalog_pb2.UpdateServiceResponse(
            service=service_message(service, "en", snapshot.categories), changed=changed
        )
