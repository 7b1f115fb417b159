"""Open311 GeoReport v2, request side: POST requests (department API key), GET requests with the
spec's filters, GET requests/{id} (a list of one). Rendering and errors come from open311_format.

Mapping: a request is an incident report; its `status` is `open` while the report is open,
acknowledged, in progress or scheduled, else `closed`; `agency_responsible` is the owning
department; dates carry the city's UTC offset. POST needs `api_key` (a department key issued by
identity), forwarded to incidents as `x-api-key`, which verifies it again.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from cityhub.catalog.v1 import catalog_pb2
from cityhub.incidents.v1 import incidents_pb2
from cityhub_sdk.timestamps import utc
from google.protobuf.timestamp_pb2 import Timestamp
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import Parameter, QueryParameter
from litestar.types import ControllerRouterHandler

from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.open311_format import (
    OPEN311_EXCEPTION_HANDLERS,
    Format,
    Open311Error,
    check_jurisdiction,
    error_list,
    format_of,
    render,
)

CITY_TZ = ZoneInfo("America/Los_Angeles")
OPEN = ("open", "acknowledged", "in_progress", "scheduled")
CLOSED = ("fixed", "closed", "duplicate", "not_ours")
DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
Query = Annotated[str | None, QueryParameter(required=False, max_length=2000)]


def w3c(stamp: Timestamp, present: bool = True) -> str | None:
    if not present or (stamp.seconds == 0 and stamp.nanos == 0):
        return None
    return stamp.ToDatetime(tzinfo=UTC).astimezone(CITY_TZ).isoformat(timespec="seconds")


def parse_w3c(name: str, raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a W3C date-time, e.g. 2026-01-01T00:00:00Z") from exc
    return value.replace(tzinfo=CITY_TZ) if value.tzinfo is None else value


def request_item(report: incidents_pb2.Report, names: dict[str, str], base_url: str) -> dict[str, Any]:
    return {
        "service_request_id": report.id,
        "status": "open" if report.status in OPEN else "closed",
        "status_notes": report.status_notes or None,
        "service_name": names.get(report.service_code, report.category),
        "service_code": report.service_code,
        "description": report.description,
        "agency_responsible": report.department,
        "service_notice": None,
        "requested_datetime": w3c(report.created_at),
        "updated_datetime": w3c(report.updated_at),
        "expected_datetime": w3c(report.expected_at, report.HasField("expected_at")),
        "address": report.address or None,
        "address_id": None,
        "zipcode": report.zipcode or None,
        "lat": report.lat,
        "long": report.lon,
        "media_url": f"{base_url}/v1/incidents/{report.id}/photo" if report.has_photo else None,
    }


async def service_names(clients: ServiceClients) -> dict[str, str]:
    response = await clients.catalog.ListServices(catalog_pb2.ListServicesRequest(lang="en", page_size=100))
    return {s.service_code: s.name for s in response.services}


def _base_url(request: Request[Any, Any, Any]) -> str:
    return str(request.base_url).rstrip("/")


def _float(name: str, raw: str | None) -> float:
    try:
        value = float(raw or "")
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a number") from exc
    if not math.isfinite(value):
        raise Open311Error(400, f"{name} must be a finite number")
    return value


class Open311RequestsController(Controller):
    path = "/open311/v2"
    tags = ["open311"]
    exception_handlers = OPEN311_EXCEPTION_HANDLERS

    @post(["/requests.json", "/requests.xml"], summary="Open311: create a service request (api_key required)")
    async def create(
        self, request: Request[Any, Any, Any], clients: NamedDependency[ServiceClients]
    ) -> Response[bytes]:
        fmt: Format = format_of(request)
        if not request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            raise Open311Error(400, "send the request form-encoded (application/x-www-form-urlencoded)")
        form = await request.form()
        fields: dict[str, str] = {}
        attributes: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if not isinstance(value, str):
                raise Open311Error(400, f"{key}: files are not accepted; use media_url")
            if key.startswith("attribute[") and key.endswith("]"):
                code = key[len("attribute[") : -1].removesuffix("][").removesuffix("]")
                attributes.setdefault(code, []).append(value)
            else:
                fields[key] = value
        check_jurisdiction(fields.get("jurisdiction_id") or request.query_params.get("jurisdiction_id"))
        api_key = fields.get("api_key") or request.query_params.get("api_key")
        if not api_key:
            raise Open311Error(400, "api_key is required to create service requests")
        if not fields.get("service_code"):
            raise Open311Error(400, "service_code is required")
        if not fields.get("lat") or not fields.get("long"):
            raise Open311Error(400, "lat and long are required (address-only requests are not geocoded)")
        name = " ".join(p for p in (fields.get("first_name", ""), fields.get("last_name", "")) if p)
        message = incidents_pb2.CreateReportRequest(
            category=fields["service_code"],
            description=fields.get("description", ""),
            lat=_float("lat", fields.get("lat")),
            lon=_float("long", fields.get("long")),
            address=fields.get("address_string", ""),
            zipcode=fields.get("zipcode", ""),
            attributes={code: ",".join(values) for code, values in attributes.items()},
            contact=incidents_pb2.ReporterContact(
                name=name,
                email=fields.get("email", ""),
                phone=fields.get("phone", ""),
                device_id=fields.get("device_id", ""),
            ),
        )
        response = await clients.incidents.CreateReport(message, metadata=(("x-api-key", api_key),), timeout=15)
        if response.created:
            item = {"service_request_id": response.report.id, "service_notice": None, "account_id": None}
        else:
            item = {
                "service_request_id": response.duplicate_of.id,
                "service_notice": "An open request for this problem already exists nearby; it is returned instead.",
                "account_id": None,
            }
        return render(fmt, [item], root="service_requests", item="request", status=201)

    @get(
        ["/requests.json", "/requests.xml"],
        summary="Open311: service requests (90 days / 1000 by default)",
        cache=False,
    )
    async def list_requests(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        service_request_id: Query = None,
        service_code: Query = None,
        start_date: Query = None,
        end_date: Query = None,
        status: Query = None,
        jurisdiction_id: Query = None,
    ) -> Response[bytes]:
        fmt = format_of(request)
        check_jurisdiction(jurisdiction_id)
        ids = [i.strip() for i in (service_request_id or "").split(",") if i.strip()]
        if len(ids) > MAX_RESULTS:
            raise Open311Error(400, f"at most {MAX_RESULTS} service_request_id values")
        query = incidents_pb2.ListReportsRequest(page_size=MAX_RESULTS)
        if ids:
            query.report_ids.extend(ids)  # overrides every other filter (spec)
        else:
            start, end = parse_w3c("start_date", start_date), parse_w3c("end_date", end_date)
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
            codes = [c.strip() for c in (service_code or "").split(",") if c.strip()]
            query.service_codes.extend(codes)
            statuses = {s.strip().lower() for s in (status or "").split(",") if s.strip()}
            if statuses - {"open", "closed"}:
                raise Open311Error(400, "status must be open and/or closed")
            if statuses == {"open"}:
                query.statuses.extend(OPEN)
            elif statuses == {"closed"}:
                query.statuses.extend(CLOSED)
        response = await clients.incidents.ListReports(query)
        names = await service_names(clients)
        items = [request_item(r, names, _base_url(request)) for r in response.reports]
        return render(fmt, items, root="service_requests", item="request")

    @get(
        ["/requests/{file:str}"], summary="Open311: one service request ({id}.json|.xml), as a list of one", cache=False
    )
    async def get_request(
        self,
        request: Request[Any, Any, Any],
        file: Annotated[str, Parameter(max_length=80)],
        clients: NamedDependency[ServiceClients],
        jurisdiction_id: Query = None,
    ) -> Response[bytes]:
        fmt = format_of(request)
        check_jurisdiction(jurisdiction_id)
        suffix = f".{fmt}"
        if not file.endswith(suffix) or len(file) == len(suffix):
            return error_list(fmt, [(404, "use /requests/{service_request_id}.json or .xml")])
        response = await clients.incidents.ListReports(
            incidents_pb2.ListReportsRequest(report_ids=[file[: -len(suffix)]], page_size=1)
        )
        if not response.reports:
            raise Open311Error(404, "service_request_id not found")
        names = await service_names(clients)
        return render(
            fmt, [request_item(response.reports[0], names, _base_url(request))], root="service_requests", item="request"
        )


OPEN311_REQUESTS_ROUTES: list[ControllerRouterHandler] = [Open311RequestsController]
