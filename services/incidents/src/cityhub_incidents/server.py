"""The gRPC face of incidents: translate messages, call a use case, translate back."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from cityhub.incidents.v1 import incidents_pb2, incidents_pb2_grpc
from cityhub_sdk.auth import ROLE_SERVICE, current_caller
from cityhub_sdk.db import Database
from cityhub_sdk.timestamps import from_timestamp

from cityhub_incidents import errors
from cityhub_incidents.access import person_id
from cityhub_incidents.accounts import export_account
from cityhub_incidents.alerts import AlertInput, AlertsService
from cityhub_incidents.reports import NewReport, ReportsService
from cityhub_incidents.repository import ListFilter
from cityhub_incidents.views import alert_message, report_message

R = TypeVar("R")
STATUS_OF: dict[type[errors.IncidentsError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
}


def rpc(
    method: Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[R]],
) -> Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[R]]:
    """Turn use-case errors into their gRPC status with the same client-safe text."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> R:
        try:
            return await method(self, request, context)
        except errors.IncidentsError as exc:
            await context.abort(STATUS_OF.get(type(exc), grpc.StatusCode.INTERNAL), str(exc))
            raise  # abort raises; keeps type checkers honest

    return wrapper


def _alert_input(message: incidents_pb2.AlertInput) -> AlertInput:
    return AlertInput(
        department=message.department,
        kind=message.kind,
        severity=message.severity,
        center_lat=message.center_lat,
        center_lon=message.center_lon,
        radius_m=message.radius_m,
        polygon=[(p.lat, p.lon) for p in message.polygon],
        starts_at=from_timestamp(message.starts_at, message.HasField("starts_at")),
        ends_at=from_timestamp(message.ends_at, message.HasField("ends_at")),
        title=dict(message.title),
        body=dict(message.body),
    )


class IncidentsServicer(incidents_pb2_grpc.IncidentsServiceServicer):
    def __init__(self, reports: ReportsService, alerts: AlertsService, db: Database) -> None:
        self.reports = reports
        self.alerts = alerts
        self.db = db

    @rpc
    async def CreateReport(
        self, request: incidents_pb2.CreateReportRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.CreateReportResponse:
        result = await self.reports.create(
            current_caller(),
            NewReport(
                category=request.category,
                description=request.description,
                lat=request.lat,
                lon=request.lon,
                address=request.address,
                zipcode=request.zipcode,
                photo=request.photo,
                attributes=dict(request.attributes),
                contact_name=request.contact.name,
                contact_email=request.contact.email,
                contact_phone=request.contact.phone,
                device_id=request.contact.device_id,
                force=request.force,
                idempotency_key=request.idempotency_key,
            ),
        )
        response = incidents_pb2.CreateReportResponse(created=result.created is not None, replayed=result.replayed)
        if result.created is not None:
            response.report.CopyFrom(report_message(result.created))
        if result.duplicate_of is not None:
            response.duplicate_of.CopyFrom(report_message(result.duplicate_of))
        return response

    @rpc
    async def GetReport(
        self, request: incidents_pb2.GetReportRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.GetReportResponse:
        view = await self.reports.get(current_caller(), request.report_id)
        return incidents_pb2.GetReportResponse(report=report_message(view))

    @rpc
    async def SearchReports(
        self, request: incidents_pb2.SearchReportsRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.SearchReportsResponse:
        result = await self.reports.search(
            current_caller(),
            lat=request.lat,
            lon=request.lon,
            radius_m=request.radius_m,
            statuses=list(request.statuses),
            category=request.category,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return incidents_pb2.SearchReportsResponse(
            reports=[report_message(v) for v in result.views], next_page_token=result.next_page_token
        )

    @rpc
    async def ListReports(
        self, request: incidents_pb2.ListReportsRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.ListReportsResponse:
        filters = ListFilter(
            report_ids=list(request.report_ids),
            service_code=request.service_code or None,
            category=request.category or None,
            department=request.department or None,
            start=from_timestamp(request.start, request.HasField("start")),
            end=from_timestamp(request.end, request.HasField("end")),
            statuses=list(request.statuses),
            service_codes=list(request.service_codes),
        )
        result = await self.reports.list(
            current_caller(), filters, page_size=request.page_size, page_token=request.page_token
        )
        return incidents_pb2.ListReportsResponse(
            reports=[report_message(v) for v in result.views], next_page_token=result.next_page_token
        )

    @rpc
    async def GetReportPhoto(
        self, request: incidents_pb2.GetReportPhotoRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.GetReportPhotoResponse:
        data, content_type = await self.reports.photo(request.report_id)
        return incidents_pb2.GetReportPhotoResponse(data=data, content_type=content_type)

    @rpc
    async def FollowReport(
        self, request: incidents_pb2.FollowReportRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.FollowReportResponse:
        count = await self.reports.follow(current_caller(), request.report_id, follow=True)
        return incidents_pb2.FollowReportResponse(follower_count=count)

    @rpc
    async def UnfollowReport(
        self, request: incidents_pb2.UnfollowReportRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.UnfollowReportResponse:
        count = await self.reports.follow(current_caller(), request.report_id, follow=False)
        return incidents_pb2.UnfollowReportResponse(follower_count=count)

    @rpc
    async def ChangeReportStatus(
        self, request: incidents_pb2.ChangeReportStatusRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.ChangeReportStatusResponse:
        view = await self.reports.change_status(
            current_caller(),
            request.report_id,
            status=request.status,
            public_note=request.public_note,
            internal_note=request.internal_note,
            expected_at=from_timestamp(request.expected_at, request.HasField("expected_at")),
        )
        return incidents_pb2.ChangeReportStatusResponse(report=report_message(view))

    @rpc
    async def AddReportNote(
        self, request: incidents_pb2.AddReportNoteRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.AddReportNoteResponse:
        view = await self.reports.add_note(
            current_caller(), request.report_id, text=request.text, public=request.public
        )
        return incidents_pb2.AddReportNoteResponse(report=report_message(view))

    @rpc
    async def MergeReport(
        self, request: incidents_pb2.MergeReportRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.MergeReportResponse:
        view = await self.reports.merge(current_caller(), request.report_id, request.parent_id)
        return incidents_pb2.MergeReportResponse(report=report_message(view))

    @rpc
    async def PublishAlert(
        self, request: incidents_pb2.PublishAlertRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.PublishAlertResponse:
        alert = await self.alerts.publish(
            current_caller(), _alert_input(request.alert), idempotency_key=request.idempotency_key
        )
        return incidents_pb2.PublishAlertResponse(alert=alert_message(alert))

    @rpc
    async def UpdateAlert(
        self, request: incidents_pb2.UpdateAlertRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.UpdateAlertResponse:
        alert = await self.alerts.update(current_caller(), request.alert_id, _alert_input(request.alert))
        return incidents_pb2.UpdateAlertResponse(alert=alert_message(alert))

    @rpc
    async def EndAlert(
        self, request: incidents_pb2.EndAlertRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.EndAlertResponse:
        alert = await self.alerts.end(current_caller(), request.alert_id)
        return incidents_pb2.EndAlertResponse(alert=alert_message(alert))

    @rpc
    async def GetAlert(
        self, request: incidents_pb2.GetAlertRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.GetAlertResponse:
        return incidents_pb2.GetAlertResponse(alert=alert_message(await self.alerts.get(request.alert_id)))

    @rpc
    async def ListAlerts(
        self, request: incidents_pb2.ListAlertsRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.ListAlertsResponse:
        alerts = await self.alerts.list(
            point=(request.lat, request.lon) if request.near else None,
            department=request.department,
            include_scheduled=request.include_scheduled,
        )
        return incidents_pb2.ListAlertsResponse(alerts=[alert_message(a) for a in alerts])

    @rpc
    async def ExportAccountData(
        self, request: incidents_pb2.ExportAccountDataRequest, context: grpc.aio.ServicerContext
    ) -> incidents_pb2.ExportAccountDataResponse:
        caller = current_caller()
        if caller.role == ROLE_SERVICE and request.account_id:
            account_id = request.account_id
        elif person_id(caller) is not None:
            account_id = caller.subject or ""
        elif not caller.is_authenticated:
            raise errors.Unauthenticated("sign-in required")
        else:
            raise errors.PermissionDenied("people export their own data")
        return incidents_pb2.ExportAccountDataResponse(json=await export_account(self.db, account_id))
