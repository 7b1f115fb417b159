"""The gRPC face of the catalog: decode a request, call a use case, encode the answer.

Use-case errors are the SDK's (`cityhub_sdk.errors`); the interceptor the SDK installs on every
server turns them into statuses, so no handler catches anything. Every read's answer is the same
for every caller at one catalog revision: it is built once per (revision, request) and kept
(`answers.RevisionAnswers`), and carries that revision for the callers' own caches.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import grpc
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub_sdk.auth import ROLE_DEPARTMENT, ROLE_OPERATOR, ROLE_STAFF, require
from cityhub_sdk.languages import resolve_language
from google.protobuf.message import Message

from cityhub_catalog.answers import RevisionAnswers
from cityhub_catalog.health_checks import RegistrationHealthChecker
from cityhub_catalog.messages import (
    center_message,
    city_message,
    department_message,
    registration_message,
    service_message,
)
from cityhub_catalog.service import CatalogService, Near, Paging, ServicePatch
from cityhub_catalog.snapshot import CatalogSnapshot

M = TypeVar("M", bound=Message)


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, service: CatalogService, checker: RegistrationHealthChecker | None = None) -> None:
        self.service = service
        self.checker = checker
        self.answers: RevisionAnswers[Message] = RevisionAnswers()

    async def _answer(self, request: Message, lang: str, build: Callable[[CatalogSnapshot], Awaitable[M]]) -> M:
        """The answer to `request` at the current revision: kept from before, or built and kept."""
        snapshot = await self.service.snapshot()
        key = (type(request).__name__, lang, request.SerializeToString(deterministic=True))
        kept = self.answers.get(snapshot.revision, key)
        if kept is not None:
            return cast(M, kept)
        answer = await build(snapshot)
        self.answers.put(snapshot.revision, key, answer)
        return answer

    async def ListDepartments(
        self, request: catalog_pb2.ListDepartmentsRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListDepartmentsResponse:
        lang = resolve_language(request.lang)

        async def build(snapshot: CatalogSnapshot) -> catalog_pb2.ListDepartmentsResponse:
            page = self.service.list_departments(snapshot, Paging(request.page_size, request.page_token))
            return catalog_pb2.ListDepartmentsResponse(
                lang=lang,
                departments=[department_message(d, lang) for d in page.items],
                next_page_token=page.next_token,
                total_size=page.total or 0,
                revision=snapshot.revision,
            )

        return await self._answer(request, lang, build)

    async def ListServices(
        self, request: catalog_pb2.ListServicesRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListServicesResponse:
        lang = resolve_language(request.lang)

        async def build(snapshot: CatalogSnapshot) -> catalog_pb2.ListServicesResponse:
            page = self.service.list_services(
                snapshot,
                lang=lang,
                paging=Paging(request.page_size, request.page_token),
                query=request.query,
                category=request.category,
                department=request.department,
            )
            return catalog_pb2.ListServicesResponse(
                services=[service_message(s, lang, snapshot.categories) for s in page.items],
                next_page_token=page.next_token,
                total_size=page.total or 0,
                lang=lang,
                revision=snapshot.revision,
            )

        return await self._answer(request, lang, build)

    async def GetService(
        self, request: catalog_pb2.GetServiceRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.GetServiceResponse:
        lang = resolve_language(request.lang)

        async def build(snapshot: CatalogSnapshot) -> catalog_pb2.GetServiceResponse:
            service = self.service.get_service(snapshot, slug=request.slug, service_code=request.service_code)
            return catalog_pb2.GetServiceResponse(
                service=service_message(service, lang, snapshot.categories), revision=snapshot.revision
            )

        return await self._answer(request, lang, build)

    async def ListServiceCenters(
        self, request: catalog_pb2.ListServiceCentersRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListServiceCentersResponse:
        lang = resolve_language(request.lang)

        async def build(snapshot: CatalogSnapshot) -> catalog_pb2.ListServiceCentersResponse:
            # Centres are read after the revision: their content is never older than the label.
            page = await self.service.list_centers(
                near=Near(request.lat, request.lon, request.radius_m) if request.near else None,
                paging=Paging(request.page_size, request.page_token),
                service=request.service,
            )
            return catalog_pb2.ListServiceCentersResponse(
                centers=[center_message(r, lang) for r in page.items],
                next_page_token=page.next_token,
                total_size=page.total or 0,
                revision=snapshot.revision,
            )

        return await self._answer(request, lang, build)

    async def GetServiceCenter(
        self, request: catalog_pb2.GetServiceCenterRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.GetServiceCenterResponse:
        lang = resolve_language(request.lang)

        async def build(snapshot: CatalogSnapshot) -> catalog_pb2.GetServiceCenterResponse:
            center = await self.service.get_center(request.id)
            return catalog_pb2.GetServiceCenterResponse(center=center_message(center, lang), revision=snapshot.revision)

        return await self._answer(request, lang, build)

    async def GetCity(
        self, request: catalog_pb2.GetCityRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.GetCityResponse:
        lang = resolve_language(request.lang)

        async def build(snapshot: CatalogSnapshot) -> catalog_pb2.GetCityResponse:
            city = await self.service.get_city()
            return catalog_pb2.GetCityResponse(city=city_message(city, lang), revision=snapshot.revision)

        return await self._answer(request, lang, build)

    async def RegisterDepartmentService(
        self, request: catalog_pb2.RegisterDepartmentServiceRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.RegisterDepartmentServiceResponse:
        caller = await require(context, ROLE_DEPARTMENT)
        registration = await self.service.register_department_service(caller, request.slug, request.address)
        if self.checker is not None:
            self.checker.check_soon()
        return catalog_pb2.RegisterDepartmentServiceResponse(registration=registration_message(registration))

    async def ListDepartmentServices(
        self, request: catalog_pb2.ListDepartmentServicesRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListDepartmentServicesResponse:
        caller = await require(context)
        page = await self.service.list_registrations(
            caller, department=request.department, paging=Paging(request.page_size, request.page_token)
        )
        return catalog_pb2.ListDepartmentServicesResponse(
            registrations=[registration_message(r) for r in page.items], next_page_token=page.next_token
        )

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
