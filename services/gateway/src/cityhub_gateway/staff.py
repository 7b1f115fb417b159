"""Staff routes: their department's incidents (with reporter contact), status changes, notes,
merges, and city alerts.

The incidents service decides who may see and act on what (a department's staff only their own
department, operators any): the gateway forwards the caller and the department asked for.
"""

from __future__ import annotations

from typing import Annotated

from cityhub.incidents.v1 import incidents_pb2
from cityhub_sdk.auth import Caller
from cityhub_sdk.timestamps import to_timestamp
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.types import ControllerRouterHandler

from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.incidents_schemas import (
    STATUS_GROUPS,
    AlertIn,
    AlertOut,
    MergeIn,
    NoteIn,
    ReportPage,
    StaffReportOut,
    StatusChangeIn,
    Statuses,
    StatusGroupName,
    alert_input,
    alert_out,
    report_page,
    staff_report_out,
)
from cityhub_gateway.params import IdempotencyKey, ObjectId, PageSize, PageToken

Department = Annotated[
    str | None,
    QueryParameter(name="department", required=False, max_length=64, description="Operators: any department"),
]
Group = Annotated[
    StatusGroupName | None,
    QueryParameter(name="status_group", required=False, description="Only open or only closed reports"),
]


class StaffIncidentController(Controller):
    path = "/v1/staff/incidents"
    tags = ["staff"]

    @get(
        "/",
        operation_id="listStaffIncidents",
        summary="My department's incidents, newest first (operators: any department)",
    )
    async def list_reports(
        self,
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        status: Statuses = None,
        status_group: Group = None,
        department: Department = None,
        page_size: PageSize = None,
        page_token: PageToken = None,
    ) -> ReportPage:
        response = await clients.incidents.ListReports(
            incidents_pb2.ListReportsRequest(
                department=department or "",
                statuses=status or [],
                status_group=STATUS_GROUPS[status_group] if status_group else incidents_pb2.STATUS_GROUP_UNSPECIFIED,
                page_size=page_size or 0,
                page_token=page_token or "",
            ),
            metadata=caller.metadata(),
        )
        return report_page(response)

    @get(
        "/{report_id:str}",
        operation_id="getStaffIncident",
        summary="One incident with reporter contact and staff notes",
    )
    async def get_report(
        self, report_id: ObjectId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> StaffReportOut:
        response = await clients.incidents.GetReport(
            incidents_pb2.GetReportRequest(report_id=report_id, staff_view=True), metadata=caller.metadata()
        )
        return staff_report_out(response.report)

    @post(
        "/{report_id:str}/status",
        operation_id="changeIncidentStatus",
        summary="Change the status (public note, internal note, expected date)",
        status_code=200,
    )
    async def change_status(
        self,
        report_id: ObjectId,
        data: JSONBody[StatusChangeIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> StaffReportOut:
        response = await clients.incidents.ChangeReportStatus(
            incidents_pb2.ChangeReportStatusRequest(
                report_id=report_id,
                status=data.status,
                public_note=data.public_note,
                internal_note=data.internal_note,
                expected_at=to_timestamp(data.expected_at),
            ),
            metadata=caller.metadata(),
        )
        return staff_report_out(response.report)

    @post(
        "/{report_id:str}/notes",
        operation_id="addIncidentNote",
        summary="Add a note (internal unless public=true)",
        status_code=200,
    )
    async def add_note(
        self,
        report_id: ObjectId,
        data: JSONBody[NoteIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> StaffReportOut:
        response = await clients.incidents.AddReportNote(
            incidents_pb2.AddReportNoteRequest(report_id=report_id, text=data.text, public=data.public),
            metadata=caller.metadata(),
        )
        return staff_report_out(response.report)

    @post(
        "/{report_id:str}/merge",
        operation_id="mergeIncident",
        summary="Mark as duplicate of parent_id; followers move to the parent",
        status_code=200,
    )
    async def merge(
        self,
        report_id: ObjectId,
        data: JSONBody[MergeIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> StaffReportOut:
        response = await clients.incidents.MergeReport(
            incidents_pb2.MergeReportRequest(report_id=report_id, parent_id=data.parent_id), metadata=caller.metadata()
        )
        return staff_report_out(response.report)


class StaffAlertController(Controller):
    path = "/v1/staff/alerts"
    tags = ["staff"]

    @post("/", operation_id="publishAlert", summary="Publish a city alert for my department")
    async def publish(
        self,
        data: JSONBody[AlertIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        idempotency_key: IdempotencyKey = None,
    ) -> AlertOut:
        response = await clients.incidents.PublishAlert(
            incidents_pb2.PublishAlertRequest(alert=alert_input(data), idempotency_key=idempotency_key or ""),
            metadata=caller.metadata(),
        )
        return alert_out(response.alert, "en")

    @put("/{alert_id:str}", operation_id="updateAlert", summary="Replace an alert's content")
    async def update(
        self,
        alert_id: ObjectId,
        data: JSONBody[AlertIn],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
    ) -> AlertOut:
        response = await clients.incidents.UpdateAlert(
            incidents_pb2.UpdateAlertRequest(alert_id=alert_id, alert=alert_input(data)), metadata=caller.metadata()
        )
        return alert_out(response.alert, "en")

    @delete("/{alert_id:str}", operation_id="endAlert", summary="End an alert now", status_code=200)
    async def end(
        self, alert_id: ObjectId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> AlertOut:
        response = await clients.incidents.EndAlert(
            incidents_pb2.EndAlertRequest(alert_id=alert_id), metadata=caller.metadata()
        )
        return alert_out(response.alert, "en")


STAFF_ROUTES: list[ControllerRouterHandler] = [StaffIncidentController, StaffAlertController]
