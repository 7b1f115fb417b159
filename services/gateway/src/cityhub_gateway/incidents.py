"""Incident routes for residents: report (multipart with an optional photo), nearby search,
details, follow, photos, and the city's alerts.

Every input is typed and bounded (NaN, infinities, out-of-range values and oversized radii are 422
problem+json before any gRPC call). Public answers never carry who reported what: the reporter's
contact appears only for the reporter themselves.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from cityhub.incidents.v1 import incidents_pb2
from cityhub_sdk.auth import Caller
from cityhub_sdk.languages import negotiate
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi import ResponseSpec
from litestar.params import Body, QueryParameter
from litestar.types import ControllerRouterHandler

from cityhub_gateway.client_address import CLIENT_ADDRESS_KEY, client_address
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.errors import PROBLEM_JSON, ApiError, FieldError, invalid
from cityhub_gateway.incidents_schemas import (
    FORM_ANSWERS_DECODERS,
    MAX_PHOTO_BYTES,
    AlertOut,
    AlertPage,
    DuplicateReportProblem,
    FollowOut,
    IncidentForm,
    ReportOut,
    ReportPage,
    Statuses,
    alert_out,
    report_out,
    report_page,
)
from cityhub_gateway.params import (
    AcceptLanguage,
    IdempotencyKey,
    LangQuery,
    Latitude,
    Longitude,
    ObjectId,
    OptionalLatitude,
    OptionalLongitude,
    PageSize,
    PageToken,
    RadiusM,
)

DEFAULT_RADIUS_M = 1000.0
REPLAYED_HEADER = "Idempotent-Replayed"
PHOTO_TYPES = ("image/", "application/octet-stream")  # generated clients may not name the type
Force = Annotated[
    bool, QueryParameter(name="force", required=False, description="File even when an open report is close by")
]
Category = Annotated[str | None, QueryParameter(name="category", required=False, max_length=64)]

DUPLICATE_RESPONSE = {
    409: ResponseSpec(
        data_container=DuplicateReportProblem,
        media_type=PROBLEM_JSON,
        description="An open report of the same kind is close by (follow `existing_report`, or repeat "
        "with ?force=true), or the Idempotency-Key was used for another report",
        generate_examples=False,
    )
}
PHOTO_RESPONSE = {
    200: ResponseSpec(
        data_container=bytes,
        media_type="image/*",
        description="JPEG, PNG or WebP, metadata stripped",
        generate_examples=False,
    )
}


async def multipart_only(request: Request[Any, Any, Any]) -> None:
    """A report is multipart/form-data (as documented); anything else is 415, not a parse error."""
    if request.content_type[0] != RequestEncodingType.MULTI_PART:
        raise ApiError("unsupported-media-type", "send the report as multipart/form-data")


async def photo_bytes(form: IncidentForm) -> bytes:
    if form.photo is None:
        return b""
    if form.photo.content_type and not form.photo.content_type.startswith(PHOTO_TYPES):
        raise invalid("photo", "must be a JPEG, PNG or WebP image")
    data = await form.photo.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise ApiError("payload-too-large", "photo: larger than 5 MB", errors=[FieldError("photo", "larger than 5 MB")])
    return data


class IncidentController(Controller):
    path = "/v1/incidents"
    tags = ["incidents"]

    @post(
        "/",
        operation_id="createIncident",
        summary="Report an incident (anonymous or signed in); 409 offers an open report nearby instead",
        before_request=multipart_only,
        type_decoders=FORM_ANSWERS_DECODERS,
        responses=DUPLICATE_RESPONSE,
        response_headers=[
            ResponseHeader(
                name=REPLAYED_HEADER,
                description="`true` when this answers a retry with the same Idempotency-Key",
                documentation_only=True,
                required=False,
            )
        ],
    )
    async def create(
        self,
        data: Annotated[IncidentForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        request: Request[Any, Any, Any],
        force: Force = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReportOut]:
        message = incidents_pb2.CreateReportRequest(
            category=data.category,
            description=data.description,
            lat=data.lat,
            lon=data.lon,
            address=data.address,
            zipcode=data.zipcode,
            photo=await photo_bytes(data),
            attributes=data.attributes,
            contact=incidents_pb2.ReporterContact(
                name=data.contact_name, email=data.contact_email, phone=data.contact_phone, device_id=data.device_id
            ),
            force=force or data.force,
            idempotency_key=idempotency_key or "",
        )
        # The client address lets incidents count anonymous reports against its per-address quota.
        metadata = (*caller.metadata(), (CLIENT_ADDRESS_KEY, client_address(request)))
        response = await clients.incidents.CreateReport(message, metadata=metadata, timeout=15)
        if not response.created:
            existing = report_out(response.duplicate_of)
            raise ApiError(
                "conflict",
                "An open report of the same kind exists close by: follow it instead, or repeat with ?force=true.",
                extra={"existing_report": msgspec.to_builtins(existing), "follow_url": existing.follow_url},
            )
        # A replay answers like the first create (201, same report), flagged for the client.
        headers = {REPLAYED_HEADER: "true"} if response.replayed else {}
        return Response(report_out(response.report, history=True), status_code=201, headers=headers)

    @get("/", operation_id="listNearbyIncidents", summary="Incidents near a point, nearest first (public fields)")
    async def nearby(
        self,
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        lat: Latitude,
        lon: Longitude,
        radius_m: RadiusM = DEFAULT_RADIUS_M,
        status: Statuses = None,
        category: Category = None,
        page_size: PageSize = None,
        page_token: PageToken = None,
    ) -> ReportPage:
        response = await clients.incidents.SearchReports(
            incidents_pb2.SearchReportsRequest(
                lat=lat,
                lon=lon,
                radius_m=radius_m,
                statuses=status or [],
                category=category or "",
                page_size=page_size or 0,
                page_token=page_token or "",
            ),
            metadata=caller.metadata(),
        )
        return report_page(response)

    @get("/{report_id:str}", operation_id="getIncident", summary="One incident with its public history")
    async def get_report(
        self, report_id: ObjectId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> ReportOut:
        response = await clients.incidents.GetReport(
            incidents_pb2.GetReportRequest(report_id=report_id), metadata=caller.metadata()
        )
        return report_out(response.report, history=True)

    @get(
        "/{report_id:str}/photo",
        operation_id="getIncidentPhoto",
        summary="The incident's photo (metadata stripped)",
        responses=PHOTO_RESPONSE,
    )
    async def photo(
        self, report_id: ObjectId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> Response[bytes]:
        response = await clients.incidents.GetReportPhoto(
            incidents_pb2.GetReportPhotoRequest(report_id=report_id), metadata=caller.metadata()
        )
        return Response(
            response.data,
            media_type=response.content_type,
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    @post(
        "/{report_id:str}/follow",
        operation_id="followIncident",
        summary="Follow an incident: be told when its status changes",
        status_code=200,
    )
    async def follow(
        self, report_id: ObjectId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> FollowOut:
        response = await clients.incidents.FollowReport(
            incidents_pb2.FollowReportRequest(report_id=report_id), metadata=caller.metadata()
        )
        return FollowOut(report_id=report_id, following=True, follower_count=response.follower_count)

    @delete(
        "/{report_id:str}/follow",
        operation_id="unfollowIncident",
        summary="Stop following an incident",
        status_code=200,
    )
    async def unfollow(
        self, report_id: ObjectId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> FollowOut:
        response = await clients.incidents.UnfollowReport(
            incidents_pb2.UnfollowReportRequest(report_id=report_id), metadata=caller.metadata()
        )
        return FollowOut(report_id=report_id, following=False, follower_count=response.follower_count)


class AlertController(Controller):
    path = "/v1/alerts"
    tags = ["alerts"]

    @get("/", operation_id="listAlerts", summary="City alerts in force, optionally only those covering lat/lon")
    async def list_alerts(
        self,
        clients: NamedDependency[ServiceClients],
        lat: OptionalLatitude = None,
        lon: OptionalLongitude = None,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> AlertPage:
        if (lat is None) != (lon is None):
            raise invalid("lat" if lat is None else "lon", "give lat and lon together")
        language = negotiate(lang, accept_language)
        response = await clients.incidents.ListAlerts(
            incidents_pb2.ListAlertsRequest(near=lat is not None, lat=lat or 0.0, lon=lon or 0.0)
        )
        return AlertPage(items=[alert_out(a, language) for a in response.alerts], lang=language)

    @get("/{alert_id:str}", operation_id="getAlert", summary="One alert")
    async def get_alert(
        self,
        alert_id: ObjectId,
        clients: NamedDependency[ServiceClients],
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> AlertOut:
        response = await clients.incidents.GetAlert(incidents_pb2.GetAlertRequest(alert_id=alert_id))
        return alert_out(response.alert, negotiate(lang, accept_language))


INCIDENTS_ROUTES: list[ControllerRouterHandler] = [IncidentController, AlertController]
