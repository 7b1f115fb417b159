"""Open311 GeoReport v2, read side: discovery, the service list and service definitions.

The list holds the city services that take reports or requests (Open311 is about service
requests); `metadata` is true when the service has a form, whose attributes the definition
lists with the spec's datatypes and values. Texts follow `lang` / Accept-Language (an
extension: the spec has no language parameter), English by default. The contact and the
jurisdiction are the city's, from catalog. Errors are the spec's error list, in the format of
the request's extension. JSON answers are typed Structs; each `.xml` twin renders the same values.
The service list and definitions are catalog answers: kept encoded per catalog revision
(`catalog.cached_answer`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from cityhub.catalog.v1 import catalog_pb2
from cityhub_sdk.languages import negotiate
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import Parameter, QueryParameter
from litestar.types import ControllerRouterHandler

from cityhub_gateway.catalog import cacheable, cached_answer, get_city
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.open311_format import (
    MEDIA_TYPES,
    OPEN311_EXCEPTION_HANDLERS,
    SPECIFICATION,
    XML,
    Format,
    Open311Error,
    Open311Operation,
    check_jurisdiction,
    format_of,
    to_xml,
)
from cityhub_gateway.open311_schemas import (
    Open311AttributeOut,
    Open311DefinitionOut,
    Open311DiscoveryOut,
    Open311EndpointOut,
    Open311ServiceOut,
    Open311ValueOut,
)
from cityhub_gateway.params import AcceptLanguage, LangQuery

CHANGESET = datetime(2026, 11, 22, tzinfo=UTC)
LIST_TYPES = ("singlevaluelist", "multivaluelist")
KEY_SERVICE = "Reading needs no key; reports are filed through the CityHub app."
Jurisdiction = Annotated[str | None, QueryParameter(name="jurisdiction_id", required=False, max_length=100)]


def service_item(s: catalog_pb2.Service) -> Open311ServiceOut:
    """One entry of GET services: exactly the spec's fields."""
    return Open311ServiceOut(
        service_code=s.service_code,
        service_name=s.name,
        description=s.summary,
        metadata=len(s.form) > 0,
        type=s.type,  # type: ignore[arg-type]  # the catalog's vocabulary
        keywords=", ".join(s.keywords),
        group=s.category_name,
    )


def attribute_item(a: catalog_pb2.FormAttribute) -> Open311AttributeOut:
    return Open311AttributeOut(
        variable=a.variable,
        code=a.code,
        datatype=a.datatype,  # type: ignore[arg-type]  # the catalog's vocabulary
        required=a.required,
        datatype_description=a.datatype_description or None,
        order=a.order,
        description=a.description,
        values=[Open311ValueOut(key=v.key, name=v.name) for v in a.values] if a.datatype in LIST_TYPES else None,
    )


def definition_item(s: catalog_pb2.Service) -> Open311DefinitionOut:
    return Open311DefinitionOut(service_code=s.service_code, attributes=[attribute_item(a) for a in s.form])


def contact_line(city: catalog_pb2.City) -> str:
    """Discovery's free-text `contact`: the city's name, general line and email."""
    return ", ".join(part for part in (city.name, city.contact_phone, city.contact_email) if part)


async def _request_services(clients: ServiceClients, lang: str) -> tuple[list[catalog_pb2.Service], int]:
    """Every service that takes reports or requests, in catalog order (all pages), and the oldest
    revision a page was read at (the whole list is no newer than that)."""
    services: list[catalog_pb2.Service] = []
    token = ""
    revision: int | None = None
    while True:
        page = await clients.catalog.ListServices(
            catalog_pb2.ListServicesRequest(lang=lang, page_size=100, page_token=token)
        )
        services.extend(s for s in page.services if s.takes_reports or s.takes_requests)
        revision = page.revision if revision is None else min(revision, page.revision)
        token = page.next_page_token
        if not token:
            return services, revision


def _code_from(file: str, fmt: Format) -> str:
    suffix = f".{fmt}"
    if not file.endswith(suffix) or len(file) == len(suffix):
        raise Open311Error(404, "service_code not found; use /services/{service_code}.json or .xml")
    return file[: -len(suffix)]


def _xml_text(payload: msgspec.Struct | list[Any], *, root: str) -> str:
    return to_xml(msgspec.to_builtins(payload), root=root).decode("utf-8")


def _xml(request: Request[Any, Any, Any], payload: msgspec.Struct | list[Any], *, root: str) -> Response[Any]:
    return cacheable(request, _xml_text(payload, root=root), media_type=MEDIA_TYPES["xml"])


async def _discovery(request: Request[Any, Any, Any], clients: ServiceClients) -> Open311DiscoveryOut:
    return Open311DiscoveryOut(
        changeset=CHANGESET,
        contact=contact_line(await get_city(clients)),
        key_service=KEY_SERVICE,
        endpoints=[
            Open311EndpointOut(
                specification=SPECIFICATION,
                url=request.app.state.settings.public_url() + "/open311/v2",  # never the Host header
                changeset=CHANGESET,
                type="production",
                formats=["text/xml", "application/json"],
            )
        ],
    )


async def _services(
    request: Request[Any, Any, Any],
    clients: ServiceClients,
    fmt: Format,
    jurisdiction_id: str | None,
    lang: str | None,
    accept_language: str | None,
) -> Response[Any]:
    """The service list in `fmt`, encoded once per catalog revision and language."""
    await check_jurisdiction(clients, jurisdiction_id)
    language = negotiate(lang, accept_language)

    async def build() -> tuple[list[Open311ServiceOut] | str, int]:
        services, revision = await _request_services(clients, language)
        items = [service_item(s) for s in services]
        return (_xml_text(items, root="services") if fmt == "xml" else items), revision

    return await cached_answer(request, ("open311-services", fmt, language), build, media_type=MEDIA_TYPES[fmt])


class Open311Controller(Controller):
    path = "/open311/v2"
    tags = ["open311"]
    exception_handlers = OPEN311_EXCEPTION_HANDLERS

    @get("/discovery.json", operation_id="getOpen311Discovery", summary="Open311 discovery", cache=False)
    async def discovery_json(
        self, request: Request[Any, Any, Any], clients: NamedDependency[ServiceClients]
    ) -> Response[Open311DiscoveryOut]:
        return cacheable(request, await _discovery(request, clients), media_type=MEDIA_TYPES["json"])

    @get(
        "/discovery.xml",
        operation_id="getOpen311DiscoveryXml",
        summary="Open311 discovery (XML)",
        media_type=XML,
        cache=False,
    )
    async def discovery_xml(
        self, request: Request[Any, Any, Any], clients: NamedDependency[ServiceClients]
    ) -> Response[str]:
        return _xml(request, await _discovery(request, clients), root="discovery")

    @get("/services.json", operation_id="listOpen311Services", summary="Open311 service list", cache=False)
    async def services_json(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        jurisdiction_id: Jurisdiction = None,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> Response[list[Open311ServiceOut]]:
        return await _services(request, clients, "json", jurisdiction_id, lang, accept_language)

    @get(
        "/services.xml",
        operation_id="listOpen311ServicesXml",
        summary="Open311 service list (XML)",
        media_type=XML,
        cache=False,
    )
    async def services_xml(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        jurisdiction_id: Jurisdiction = None,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> Response[str]:
        return await _services(request, clients, "xml", jurisdiction_id, lang, accept_language)

    @get(
        "/services/{file:str}",
        operation_id="getOpen311ServiceDefinition",
        summary="Open311 service definition ({service_code}.json or .xml)",
        operation_class=Open311Operation,
        cache=False,
    )
    async def definition(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        file: Annotated[str, Parameter(min_length=1, max_length=80)],
        jurisdiction_id: Jurisdiction = None,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> Response[Open311DefinitionOut]:
        fmt = format_of(request)
        code = _code_from(file, fmt)
        await check_jurisdiction(clients, jurisdiction_id)
        language = negotiate(lang, accept_language)

        async def build() -> tuple[Open311DefinitionOut | str, int]:
            response = await clients.catalog.GetService(catalog_pb2.GetServiceRequest(lang=language, service_code=code))
            service = response.service
            if not (service.takes_reports or service.takes_requests):
                raise Open311Error(404, "service_code not found")
            definition = definition_item(service)
            return (_xml_text(definition, root="service_definition") if fmt == "xml" else definition), response.revision

        key = ("open311-definition", fmt, language, code)
        return await cached_answer(request, key, build, media_type=MEDIA_TYPES[fmt])


OPEN311_ROUTES: list[ControllerRouterHandler] = [Open311Controller]
