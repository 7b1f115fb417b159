"""Open311 GeoReport v2, read side: discovery, the service list and service definitions.

The list holds the city services that take reports or requests (Open311 is about service
requests); `metadata` is true when the service has a form, whose attributes the definition
lists with the spec's datatypes and values. Texts follow `lang` / Accept-Language (an
extension: the spec has no language parameter), English by default. Errors are the spec's
error list, in the format of the request's extension.
"""

from __future__ import annotations

from typing import Annotated, Any

from cityhub.catalog.v1 import catalog_pb2
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.types import ControllerRouterHandler

from cityhub_gateway.catalog import cacheable
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.lang import AcceptLanguage, LangQuery, negotiate
from cityhub_gateway.open311_format import (
    JURISDICTION_ID,
    MEDIA_TYPES,
    OPEN311_EXCEPTION_HANDLERS,
    SPECIFICATION,
    Open311Error,
    body_of,
    check_jurisdiction,
    format_of,
)

CHANGESET = "2026-11-22T00:00:00Z"
LIST_TYPES = ("singlevaluelist", "multivaluelist")
Jurisdiction = Annotated[str | None, QueryParameter(name="jurisdiction_id", required=False, max_length=100)]


def service_item(s: catalog_pb2.Service) -> dict[str, Any]:
    """One entry of GET services: exactly the spec's fields."""
    return {
        "service_code": s.service_code,
        "service_name": s.name,
        "description": s.summary,
        "metadata": len(s.form) > 0,
        "type": s.type,
        "keywords": ", ".join(s.keywords),
        "group": s.category_name,
    }


def attribute_item(a: catalog_pb2.FormAttribute) -> dict[str, Any]:
    item: dict[str, Any] = {
        "variable": a.variable,
        "code": a.code,
        "datatype": a.datatype,
        "required": a.required,
        "datatype_description": a.datatype_description or None,
        "order": a.order,
        "description": a.description,
    }
    if a.datatype in LIST_TYPES:
        item["values"] = [{"key": v.key, "name": v.name} for v in a.values]
    return item


def definition_item(s: catalog_pb2.Service) -> dict[str, Any]:
    return {"service_code": s.service_code, "attributes": [attribute_item(a) for a in s.form]}


async def _request_services(clients: ServiceClients, lang: str) -> list[catalog_pb2.Service]:
    """Every service that takes reports or requests, in catalog order (all pages)."""
    services: list[catalog_pb2.Service] = []
    token = ""
    while True:
        page = await clients.catalog.ListServices(
            catalog_pb2.ListServicesRequest(lang=lang, page_size=100, page_token=token)
        )
        services.extend(s for s in page.services if s.takes_reports or s.takes_requests)
        token = page.next_page_token
        if not token:
            return services


def _code_from(file: str, fmt: str) -> str:
    suffix = f".{fmt}"
    if not file.endswith(suffix) or len(file) == len(suffix):
        raise Open311Error(404, "service_code not found; use /services/{service_code}.json or .xml")
    return file[: -len(suffix)]


class Open311Controller(Controller):
    path = "/open311/v2"
    tags = ["open311"]
    exception_handlers = OPEN311_EXCEPTION_HANDLERS

    @get(["/discovery.json", "/discovery.xml"], summary="Open311 discovery", cache=False)
    async def discovery(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        fmt = format_of(request)
        payload = {
            "changeset": CHANGESET,
            "contact": "Lakeview 311, +1-206-555-0100, open311@lakeview.example",
            "key_service": "Reading needs no key; reports are filed through the CityHub app.",
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": str(request.base_url).rstrip("/") + "/open311/v2",
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        }
        return cacheable(request, body_of(fmt, payload, root="discovery"), media_type=MEDIA_TYPES[fmt])

    @get(["/services.json", "/services.xml"], summary="Open311 service list", cache=False)
    async def services(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        jurisdiction_id: Jurisdiction = None,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> Response[bytes]:
        fmt = format_of(request)
        check_jurisdiction(jurisdiction_id)
        services = await _request_services(clients, negotiate(lang, accept_language))
        body = body_of(fmt, [service_item(s) for s in services], root="services", item="service")
        return cacheable(request, body, media_type=MEDIA_TYPES[fmt])

    @get(["/services/{file:str}"], summary="Open311 service definition ({service_code}.json|.xml)", cache=False)
    async def definition(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        file: FromPath[str],
        jurisdiction_id: Jurisdiction = None,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> Response[bytes]:
        fmt = format_of(request)
        code = _code_from(file, fmt)
        check_jurisdiction(jurisdiction_id)
        response = await clients.catalog.GetService(
            catalog_pb2.GetServiceRequest(lang=negotiate(lang, accept_language), service_code=code)
        )
        service = response.service
        if not (service.takes_reports or service.takes_requests):
            raise Open311Error(404, "service_code not found")
        body = body_of(fmt, definition_item(service), root="service_definition")
        return cacheable(request, body, media_type=MEDIA_TYPES[fmt])


OPEN311_ROUTES: list[ControllerRouterHandler] = [Open311Controller]

__all__ = ["JURISDICTION_ID", "OPEN311_ROUTES"]
