"""Open311 GeoReport v2, request side: POST requests (department API key), GET requests with the
spec's filters, GET requests/{id} (a list of one). Rendering and errors come from open311_format.

Mapping: a request is an incident report; its `status` is the report's status group (incidents
decides which statuses are open), `agency_responsible` the owning department; dates carry the
city's UTC offset (the catalog's time zone). POST needs `api_key` (a department key issued by
identity), forwarded to incidents as `x-api-key`, which verifies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from cityhub.catalog.v1 import catalog_pb2
from cityhub.incidents.v1 import incidents_pb2
from cityhub_sdk.timestamps import utc
from google.protobuf.timestamp_pb2 import Timestamp
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter, QueryParameter
from litestar.types import ControllerRouterHandler

from cityhub_gateway.catalog import get_city
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.open311_format import (
    OPEN311_EXCEPTION_HANDLERS,
    Format,
    Open311Error,
    Open311Operation,
    check_jurisdiction,
    error_list,
    render,
)
from cityhub_gateway.open311_requests_schemas import (
    ATTRIBUTE_FIELDS,
    ServiceRequestForm,
    ServiceRequestOut,
    ServiceRequestReceipt,
    json_answer,
    xml_answer,
)

DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
GROUPS = {"open": incidents_pb2.STATUS_GROUP_OPEN, "closed": incidents_pb2.STATUS_GROUP_CLOSED}
DUPLICATE_NOTICE = "An open request for this problem already exists nearby; it is returned instead."

CodeList = Annotated[str | None, QueryParameter(required=False, max_length=2000, description="Comma-separated list")]
Jurisdiction = Annotated[str | None, QueryParameter(name="jurisdiction_id", required=False, max_length=100)]
DateFilter = Annotated[
    datetime | None, QueryParameter(required=False, description="W3C date-time; without an offset, city time")
]
StatusFilter = Annotated[
    str | None,
    QueryParameter(
        required=False, pattern=r"^(open|closed)(,(open|closed))?$", description="open, closed or open,closed"
    ),
]
ApiKeyQuery = Annotated[
    str | None,
    QueryParameter(name="api_key", required=False, max_length=200, description="Also accepted in the form"),
]
FormBody = Body(
    media_type=RequestEncodingType.URL_ENCODED,
    schema_extra={"additional_properties": ATTRIBUTE_FIELDS},
)


async def form_encoded_only(request: Request[Any, Any, Any]) -> None:
    if request.content_type[0] != RequestEncodingType.URL_ENCODED:
        raise Open311Error(400, "send the request form-encoded (application/x-www-form-urlencoded)")


async def attribute_answers(request: Request[Any, Any, Any]) -> dict[str, str]:
    """`attribute[code]` and `attribute[code][]` members (the spec's dynamic names), by code."""
    answers: dict[str, list[str]] = {}
    for key, value in (await request.form()).multi_items():
        if key.startswith("attribute[") and isinstance(value, str):
            code = key.removeprefix("attribute[").removesuffix("[]").removesuffix("]")
            answers.setdefault(code, []).append(value)
    return {code: ",".join(values) for code, values in answers.items()}


async def city_zone(clients: ServiceClients) -> ZoneInfo:
    return ZoneInfo((await get_city(clients)).timezone or "UTC")


def local(stamp: Timestamp, zone: ZoneInfo) -> datetime:
    """The city's local time, to the second (Open311 clients expect W3C date-times)."""
    return stamp.ToDatetime(tzinfo=UTC).astimezone(zone).replace(microsecond=0)


def local_or_none(stamp: Timestamp, zone: ZoneInfo, present: bool) -> datetime | None:
    return local(stamp, zone) if present and (stamp.seconds or stamp.nanos) else None


def in_city(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    return value.replace(tzinfo=zone) if value is not None and value.tzinfo is None else value


def request_item(report: incidents_pb2.Report, names: dict[str, str], zone: ZoneInfo, base: str) -> ServiceRequestOut:
    return ServiceRequestOut(
        service_request_id=report.id,
        status="closed" if report.status_group == incidents_pb2.STATUS_GROUP_CLOSED else "open",
        status_notes=report.status_notes or None,
        service_name=names.get(report.service_code, report.category),
        service_code=report.service_code,
        description=report.description,
        agency_responsible=report.department,
        service_notice=None,
        requested_datetime=local(report.created_at, zone),
        updated_datetime=local(report.updated_at, zone),
        expected_datetime=local_or_none(report.expected_at, zone, report.HasField("expected_at")),
        address=report.address or None,
        address_id=None,
        zipcode=report.zipcode or None,
        lat=report.lat,
        long=report.lon,
        media_url=f"{base}/v1/incidents/{report.id}/photo" if report.has_photo else None,
    )


async def service_names(clients: ServiceClients) -> dict[str, str]:
    response = await clients.catalog.ListServices(catalog_pb2.ListServicesRequest(lang="en", page_size=100))
    return {s.service_code: s.name for s in response.services}


async def rendered_requests(
    fmt: Format, request: Request[Any, Any, Any], clients: ServiceClients, reports: list[incidents_pb2.Report]
) -> Response[bytes]:
    names, zone = await service_names(clients), await city_zone(clients)
    base = request.app.state.settings.public_url()  # PUBLIC_BASE_URL, never the Host header
    items = [msgspec.to_builtins(request_item(r, names, zone, base)) for r in reports]
    return render(fmt, items, root="service_requests", item="request")


async def create_request(
    fmt: Format,
    data: ServiceRequestForm,
    request: Request[Any, Any, Any],
    clients: ServiceClients,
    query: tuple[str | None, str | None],
) -> Response[bytes]:
    """The spec allows api_key and jurisdiction_id in the query too; the form's win."""
    api_key, jurisdiction_id = query
    await check_jurisdiction(clients, data.jurisdiction_id or jurisdiction_id)
    key = data.api_key or api_key
    if not key:
        raise Open311Error(400, "api_key is required to create service requests")
    if not data.service_code:
        raise Open311Error(400, "service_code is required")
    if data.lat is None or data.long is None:
        raise Open311Error(400, "lat and long are required (address-only requests are not geocoded)")
    message = incidents_pb2.CreateReportRequest(
        category=data.service_code,
        description=data.description,
        lat=data.lat,
        lon=data.long,
        address=data.address_string,
        zipcode=data.zipcode,
        attributes=await attribute_answers(request),
        contact=incidents_pb2.ReporterContact(
            name=" ".join(p for p in (data.first_name, data.last_name) if p),
            email=data.email,
            phone=data.phone,
            device_id=data.device_id,
        ),
    )
    response = await clients.incidents.CreateReport(message, metadata=(("x-api-key", key),), timeout=15)
    receipt = (
        ServiceRequestReceipt(service_request_id=response.report.id, service_notice=None, account_id=None)
        if response.created
        else ServiceRequestReceipt(
            service_request_id=response.duplicate_of.id, service_notice=DUPLICATE_NOTICE, account_id=None
        )
    )
    return render(fmt, [msgspec.to_builtins(receipt)], root="service_requests", item="request", status=201)


def list_query(
    ids: str | None,
    service_code: str | None,
    start_date: datetime | None,
    end_date: datetime | None,
    status: str | None,
    zone: ZoneInfo,
) -> incidents_pb2.ListReportsRequest:
    """The spec's filters: ids override everything; otherwise a window of at most 90 days."""
    query = incidents_pb2.ListReportsRequest(page_size=MAX_RESULTS)
    wanted = [i.strip() for i in (ids or "").split(",") if i.strip()]
    if len(wanted) > MAX_RESULTS:
        raise Open311Error(400, f"at most {MAX_RESULTS} service_request_id values")
    if wanted:
        query.report_ids.extend(wanted)
        return query
    start, end = in_city(start_date, zone), in_city(end_date, zone)
    if start is None and end is None:
        end = datetime.now(UTC)
    if start is None and end is not None:
        start = end - DEFAULT_WINDOW
    elif end is None and start is not None:
        end = start + DEFAULT_WINDOW
    assert start is not None and end is not None
    if end <= start:
        raise Open311Error(400, "end_date must be after start_date")
    if end - start > DEFAULT_WINDOW:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    query.start.FromDatetime(utc(start))
    query.end.FromDatetime(utc(end))
    query.service_codes.extend(c.strip() for c in (service_code or "").split(",") if c.strip())
    groups = set((status or "").split(",")) - {""}
    if len(groups) == 1:
        query.status_group = GROUPS[groups.pop()]
    return query


@dataclass(frozen=True)
class RequestFilters:
    service_request_id: str | None
    service_code: str | None
    start_date: datetime | None
    end_date: datetime | None
    status: str | None
    jurisdiction_id: str | None


async def request_filters(
    service_request_id: CodeList = None,
    service_code: CodeList = None,
    start_date: DateFilter = None,
    end_date: DateFilter = None,
    status: StatusFilter = None,
    jurisdiction_id: Jurisdiction = None,
) -> RequestFilters:
    """The spec's GET requests parameters, shared by the JSON and XML routes."""
    return RequestFilters(service_request_id, service_code, start_date, end_date, status, jurisdiction_id)


async def list_requests(
    fmt: Format, request: Request[Any, Any, Any], clients: ServiceClients, filters: RequestFilters
) -> Response[bytes]:
    await check_jurisdiction(clients, filters.jurisdiction_id)
    query = list_query(
        filters.service_request_id,
        filters.service_code,
        filters.start_date,
        filters.end_date,
        filters.status,
        zone=await city_zone(clients),
    )
    response = await clients.incidents.ListReports(query)
    return await rendered_requests(fmt, request, clients, list(response.reports))


class Open311RequestsController(Controller):
    path = "/open311/v2"
    tags = ["open311"]
    exception_handlers = OPEN311_EXCEPTION_HANDLERS
    dependencies = {"filters": Provide(request_filters)}

    @post(
        "/requests.json",
        operation_id="createServiceRequest",
        summary="Open311: create a service request (api_key required)",
        before_request=form_encoded_only,
        responses=json_answer(list[ServiceRequestReceipt], 201, "The new request's id (a list of one)"),
    )
    async def create_json(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[ServiceRequestForm, FormBody],
        clients: NamedDependency[ServiceClients],
        api_key: ApiKeyQuery = None,
        jurisdiction_id: Jurisdiction = None,
    ) -> Response[bytes]:
        return await create_request("json", data, request, clients, (api_key, jurisdiction_id))

    @post(
        "/requests.xml",
        operation_id="createServiceRequestXml",
        summary="Open311: create a service request (api_key required), answered in XML",
        before_request=form_encoded_only,
        responses=xml_answer(201, "The new request's id"),
    )
    async def create_xml(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[ServiceRequestForm, FormBody],
        clients: NamedDependency[ServiceClients],
        api_key: ApiKeyQuery = None,
        jurisdiction_id: Jurisdiction = None,
    ) -> Response[bytes]:
        return await create_request("xml", data, request, clients, (api_key, jurisdiction_id))

    @get(
        "/requests.json",
        operation_id="listServiceRequests",
        summary="Open311: service requests (90 days / 1000 by default)",
        cache=False,
        responses=json_answer(list[ServiceRequestOut], 200, "Service requests, newest first"),
    )
    async def list_json(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        filters: NamedDependency[RequestFilters],
    ) -> Response[bytes]:
        return await list_requests("json", request, clients, filters)

    @get(
        "/requests.xml",
        operation_id="listServiceRequestsXml",
        summary="Open311: service requests in XML (90 days / 1000 by default)",
        cache=False,
        responses=xml_answer(200, "Service requests, newest first"),
    )
    async def list_xml(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        filters: NamedDependency[RequestFilters],
    ) -> Response[bytes]:
        return await list_requests("xml", request, clients, filters)

    @get(
        "/requests/{file:str}",
        operation_id="getServiceRequest",
        summary="Open311: one service request ({id}.json or {id}.xml), as a list of one",
        cache=False,
        responses=json_answer(list[ServiceRequestOut], 200, "A list of one (in XML for {id}.xml)"),
        operation_class=Open311Operation,
    )
    async def get_request(
        self,
        request: Request[Any, Any, Any],
        file: Annotated[str, Parameter(max_length=80, description="{service_request_id}.json or .xml")],
        clients: NamedDependency[ServiceClients],
        jurisdiction_id: Jurisdiction = None,
    ) -> Response[bytes]:
        fmt: Format = "xml" if file.endswith(".xml") else "json"
        await check_jurisdiction(clients, jurisdiction_id)
        request_id = file.removesuffix(f".{fmt}")
        if not file.endswith(f".{fmt}") or not request_id:
            return error_list(fmt, [(404, "use /requests/{service_request_id}.json or .xml")])
        response = await clients.incidents.ListReports(
            incidents_pb2.ListReportsRequest(report_ids=[request_id], page_size=1)
        )
        if not response.reports:
            raise Open311Error(404, "service_request_id not found")
        return await rendered_requests(fmt, request, clients, [response.reports[0]])


OPEN311_REQUESTS_ROUTES: list[ControllerRouterHandler] = [Open311RequestsController]
