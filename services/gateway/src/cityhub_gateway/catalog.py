"""Catalog routes: departments, city services, service centres."""

from __future__ import annotations

import msgspec
from cityhub.catalog.v1 import catalog_pb2
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.types import ControllerRouterHandler

from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.lang import AcceptLanguage, LangQuery, negotiate


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
    next_page_token: str | None = None


class DepartmentController(Controller):
    path = "/v1/departments"
    tags = ["catalog"]

    @get("/", summary="Every city department")
    async def list_departments(
        self,
        clients: NamedDependency[ServiceClients],
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> DepartmentsOut:
        language = negotiate(lang, accept_language)
        response = await clients.catalog.ListDepartments(catalog_pb2.ListDepartmentsRequest(lang=language))
        return DepartmentsOut(
            items=[
                DepartmentOut(
                    slug=d.slug, name=d.name, description=d.description, phone=d.phone, email=d.email, website=d.website
                )
                for d in response.departments
            ],
            lang=response.lang or language,
        )


CATALOG_ROUTES: list[ControllerRouterHandler] = [DepartmentController]
