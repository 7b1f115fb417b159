"""The gRPC face of the catalog: translate messages, call a use case, translate back."""

from __future__ import annotations

import grpc
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc

from cityhub_catalog.i18n import pick
from cityhub_catalog.service import CatalogService


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    def __init__(self, service: CatalogService) -> None:
        self.service = service

    async def ListDepartments(
        self, request: catalog_pb2.ListDepartmentsRequest, context: grpc.aio.ServicerContext
    ) -> catalog_pb2.ListDepartmentsResponse:
        lang = request.lang or "en"
        departments = await self.service.list_departments()
        return catalog_pb2.ListDepartmentsResponse(
            lang=lang,
            departments=[
                catalog_pb2.Department(
                    slug=d.slug,
                    name=pick(d.name, lang),
                    description=pick(d.description, lang),
                    phone=d.phone,
                    email=d.email,
                    website=d.website,
                )
                for d in departments
            ],
        )
