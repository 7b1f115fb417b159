"""The gRPC face of incidents: decode the request, call one use case, encode the answer.

Use-case errors are SDK `ServiceError`s: the SDK's interceptor turns them into their status.
"""

from __future__ import annotations

from typing import TypeAlias

import grpc
from cityhub.incidents.v1 import incidents_pb2, incidents_pb2_grpc
from cityhub_sdk.auth import current_caller
from cityhub_sdk.timestamps import from_timestamp

from cityhub_incidents.messages import (
    alert_input,
    alert_message,
    list_filter,
    new_report,
    report_message,
    status_group_of,
)
from cityhub_incidents.quota import client_address_of
from cityhub_incidents.service import IncidentsServices

Context: TypeAlias = grpc.aio.ServicerContext


class IncidentsServicer(incidents_pb2_grpc.IncidentsServiceServicer):
    def __init__(self, services: IncidentsServices) -> None:
        self.services = services

    async def CreateReport(
        self, request: incidents_pb2.CreateReportRequest, context: Context
    ) -> incidents_pb2.CreateReportResponse:
        result = await self.services.filing.create(
            current_caller(), new_report(request), client_address=client_address_of(context.invocation_metadata())
        )
        response = incidents_pb2.CreateReportResponse(created=result.created is not None, replayed=result.replayed)
        if result.created is not None:
            response.report.CopyFrom(report_message(result.created))
        if result.duplicate_of is not None:
            response.duplicate_of.CopyFrom(report_message(result.duplicate_of))
        return response

    async def GetReport(
        self, request: incidents_pb2.GetReportRequest, context: Context
    ) -> incidents_pb2.GetReportResponse:
        view = await self.services.reading.get(current_caller(), request.report_id, staff_view=request.staff_view)
        return incidents_pb2.GetReportResponse(report=report_message(view))

    async def SearchReports(
        self, request: incidents_pb2.SearchReportsRequest, context: Context
    ) -> incidents_pb2.SearchReportsResponse:
        result = await self.services.reading.search(
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

    async def ListReports(
        self, request: incidents_pb2.ListReportsRequest, context: Context
    ) -> incidents_pb2.ListReportsResponse:
        result = await self.services.reading.list(
            current_caller(),
            list_filter(request),
            status_group=status_group_of(request.status_group),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return incidents_pb2.ListReportsResponse(
            reports=[report_message(v) for v in result.views], next_page_token=result.next_page_token
        )

    async def GetReportPhoto(
        self, request: incidents_pb2.GetReportPhotoRequest, context: Context
    ) -> incidents_pb2.GetReportPhotoResponse:
        data, content_type = await self.services.reading.photo(request.report_id)
        return incidents_pb2.GetReportPhotoResponse(data=data, content_type=content_type)

    async def FollowReport(
        self, request: incidents_pb2.FollowReportRequest, context: Context
    ) -> incidents_pb2.FollowReportResponse:
        count = await self.services.following.follow(current_caller(), request.report_id, follow=True)
        return incidents_pb2.FollowReportResponse(follower_count=count)

    async def UnfollowReport(
        self, request: incidents_pb2.UnfollowReportRequest, context: Context
    ) -> incidents_pb2.UnfollowReportResponse:
        count = await self.services.following.follow(current_caller(), request.report_id, follow=False)
        return incidents_pb2.UnfollowReportResponse(follower_count=count)

    async def ChangeReportStatus(
        self, request: incidents_pb2.ChangeReportStatusRequest, context: Context
    ) -> incidents_pb2.ChangeReportStatusResponse:
        view = await self.services.lifecycle.change_status(
            current_caller(),
            request.report_id,
            status=request.status,
            public_note=request.public_note,
            internal_note=request.internal_note,
            expected_at=from_timestamp(request.expected_at, request.HasField("expected_at")),
        )
        return incidents_pb2.ChangeReportStatusResponse(report=report_message(view))

    async def AddReportNote(
        self, request: incidents_pb2.AddReportNoteRequest, context: Context
    ) -> incidents_pb2.AddReportNoteResponse:
        view = await self.services.lifecycle.add_note(
            current_caller(), request.report_id, text=request.text, public=request.public
        )
        return incidents_pb2.AddReportNoteResponse(report=report_message(view))

    async def MergeReport(
        self, request: incidents_pb2.MergeReportRequest, context: Context
    ) -> incidents_pb2.MergeReportResponse:
        view = await self.services.lifecycle.merge(current_caller(), request.report_id, request.parent_id)
        return incidents_pb2.MergeReportResponse(report=report_message(view))

    async def PublishAlert(
        self, request: incidents_pb2.PublishAlertRequest, context: Context
    ) -> incidents_pb2.PublishAlertResponse:
        alert = await self.services.alerts.publish(
            current_caller(), alert_input(request.alert), idempotency_key=request.idempotency_key
        )
        return incidents_pb2.PublishAlertResponse(alert=alert_message(alert))

    async def UpdateAlert(
        self, request: incidents_pb2.UpdateAlertRequest, context: Context
    ) -> incidents_pb2.UpdateAlertResponse:
        alert = await self.services.alerts.update(current_caller(), request.alert_id, alert_input(request.alert))
        return incidents_pb2.UpdateAlertResponse(alert=alert_message(alert))

    async def EndAlert(
        self, request: incidents_pb2.EndAlertRequest, context: Context
    ) -> incidents_pb2.EndAlertResponse:
        alert = await self.services.alerts.end(current_caller(), request.alert_id)
        return incidents_pb2.EndAlertResponse(alert=alert_message(alert))

    async def GetAlert(
        self, request: incidents_pb2.GetAlertRequest, context: Context
    ) -> incidents_pb2.GetAlertResponse:
        return incidents_pb2.GetAlertResponse(alert=alert_message(await self.services.alerts.get(request.alert_id)))

    async def ListAlerts(
        self, request: incidents_pb2.ListAlertsRequest, context: Context
    ) -> incidents_pb2.ListAlertsResponse:
        alerts = await self.services.alerts.list(
            point=(request.lat, request.lon) if request.near else None,
            department=request.department,
            include_scheduled=request.include_scheduled,
        )
        return incidents_pb2.ListAlertsResponse(alerts=[alert_message(a) for a in alerts])

    async def ExportAccountData(
        self, request: incidents_pb2.ExportAccountDataRequest, context: Context
    ) -> incidents_pb2.ExportAccountDataResponse:
        return incidents_pb2.ExportAccountDataResponse(
            json=await self.services.accounts.export(current_caller(), request.account_id)
        )
