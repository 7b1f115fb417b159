"""The incidents API's shapes: what residents and staff send and receive, and how a report or an
alert from the incidents service becomes one.

Public shapes never carry who reported what: `contact` is filled only for the reporter themselves
(`mine`) and for staff of the owning department (`StaffReportOut`). Optional members are left out
of the JSON when they have no value (`omit_defaults`), so a report without a photo has no
`photo_url` and a public report never has a `contact` key at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from cityhub.incidents.v1 import events_pb2, incidents_pb2
from cityhub_sdk.languages import pick
from cityhub_sdk.timestamps import from_timestamp, to_timestamp
from google.protobuf.timestamp_pb2 import Timestamp
from litestar.datastructures import UploadFile
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema
from litestar.params import KwargDefinition, QueryParameter

from cityhub_gateway.errors import Problem

MAX_PHOTO_BYTES = 5 * 1024 * 1024

ReportStatus = Literal["open", "acknowledged", "in_progress", "scheduled", "fixed", "closed", "duplicate", "not_ours"]
# What staff may set; `duplicate` is the merge action's (POST .../merge).
SettableStatus = Literal["open", "acknowledged", "in_progress", "scheduled", "fixed", "closed", "not_ours"]
StatusGroupName = Literal["open", "closed"]
Statuses = Annotated[
    list[ReportStatus] | None,
    QueryParameter(name="status", required=False, description="Only these statuses (default: the open ones)"),
]
AlertKind = Literal["road_closure", "outage", "water", "event", "weather", "safety"]
AlertSeverity = Literal["info", "warning", "urgent"]
AlertState = Literal["scheduled", "active", "ended"]

Lat = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0, description="WGS84 latitude")]
Lon = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0, description="WGS84 longitude")]
LatLon = tuple[Lat, Lon]
Text = Annotated[str, msgspec.Meta(max_length=200)]
LanguageTexts = Annotated[
    dict[Annotated[str, msgspec.Meta(min_length=1, max_length=16)], Annotated[str, msgspec.Meta(max_length=4000)]],
    msgspec.Meta(max_length=10, description="Language tag (en, zh-Hant, vi, ja, fa) to text"),
]

_GROUP_NAMES: dict[int, StatusGroupName] = {
    incidents_pb2.STATUS_GROUP_OPEN: "open",
    incidents_pb2.STATUS_GROUP_CLOSED: "closed",
}
STATUS_GROUPS: dict[StatusGroupName, incidents_pb2.StatusGroup.ValueType] = {
    "open": incidents_pb2.STATUS_GROUP_OPEN,
    "closed": incidents_pb2.STATUS_GROUP_CLOSED,
}


# -- the report form -------------------------------------------------------------------------


class FormAnswers(dict[str, str]):
    """Answers to the service's form, by attribute code. In multipart they arrive as one part
    holding a JSON object (what generated clients send for an object property)."""


def decode_form_answers(_: type, value: Any) -> FormAnswers:
    """Litestar type decoder: the `attributes` part (JSON text) or an already decoded object."""
    if isinstance(value, str | bytes):
        try:
            value = msgspec.json.decode(value)
        except msgspec.DecodeError as exc:
            raise ValueError('attributes must be a JSON object of strings, e.g. {"size": "large"}') from exc
    return FormAnswers(msgspec.convert(value, dict[Annotated[str, msgspec.Meta(max_length=64)], str]))


def is_form_answers(kind: Any) -> bool:
    return kind is FormAnswers


FORM_ANSWERS_DECODERS = [(is_form_answers, decode_form_answers)]

Answers = Annotated[
    FormAnswers,
    KwargDefinition(
        schema_extra={
            "type": OpenAPIType.OBJECT,
            "additional_properties": Schema(type=OpenAPIType.STRING),
            "description": 'Answers to the service\'s form by attribute code, e.g. {"size": "large"}; '
            "in multipart/form-data one part holding that JSON object",
        }
    ),
]


# Documented as a plain optional file part (not "file or null": generated clients would send "None").
Photo = Annotated[
    UploadFile | None,
    KwargDefinition(
        schema_extra={
            "one_of": None,
            "type": OpenAPIType.STRING,
            "format": OpenAPIFormat.BINARY,
            "content_media_type": "image/*",
            "description": "JPEG, PNG or WebP, at most 5 MB; location and other metadata are removed",
        }
    ),
]


class IncidentForm(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new report (multipart/form-data). Coordinates are required; a photo is optional."""

    category: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="A catalog service slug")]
    lat: Lat
    lon: Lon
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    address: Annotated[str, msgspec.Meta(max_length=300)] = ""
    zipcode: Annotated[str, msgspec.Meta(max_length=16)] = ""
    contact_name: Text = ""
    contact_email: Text = ""
    contact_phone: Text = ""
    device_id: Annotated[str, msgspec.Meta(max_length=200, description="Lets an anonymous reporter retry")] = ""
    force: bool = False
    attributes: Answers = msgspec.field(default_factory=FormAnswers)
    photo: Photo = None


# -- reports ----------------------------------------------------------------------------------


class HistoryEntryOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    kind: Literal["created", "status", "note", "merged"]
    at: datetime
    old_status: ReportStatus | None = None
    new_status: ReportStatus | None = None
    note: str | None = None
    expected_at: datetime | None = None


class ContactOut(msgspec.Struct, kw_only=True):
    """The reporter's contact: only for the reporter and the owning department's staff."""

    name: str
    email: str
    phone: str


class ReportOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    category: str
    service_code: str
    department: str
    status: ReportStatus
    status_group: StatusGroupName
    description: str
    lat: float
    lon: float
    attributes: dict[str, str]
    created_at: datetime
    updated_at: datetime
    follower_count: int
    anonymous: bool
    following: bool
    mine: bool
    follow_url: str
    status_notes: str | None = None
    address: str | None = None
    zipcode: str | None = None
    expected_at: datetime | None = None
    photo_url: str | None = None
    parent_id: str | None = None
    distance_m: float | None = None
    history: list[HistoryEntryOut] | None = None  # single-report answers only
    contact: ContactOut | None = None  # the reporter's own report only


class StaffNoteOut(msgspec.Struct, kw_only=True):
    text: str
    author_id: str
    at: datetime


class StaffReportOut(ReportOut, kw_only=True, omit_defaults=True):
    """The staff view: the reporter's contact and the internal notes as well."""

    staff_notes: list[StaffNoteOut]


class ReportPage(msgspec.Struct, kw_only=True, omit_defaults=True):
    items: list[ReportOut]
    next_page_token: str | None = None


class FollowOut(msgspec.Struct, kw_only=True):
    report_id: str
    following: bool
    follower_count: int


class DuplicateReportProblem(Problem, kw_only=True, omit_defaults=True):
    """409: an open report of the same kind is close by (follow it, or repeat with ?force=true),
    or the Idempotency-Key was used for another report (no `existing_report` then)."""

    existing_report: ReportOut | None = None
    follow_url: str | None = None


def _at(stamp: Timestamp) -> datetime:
    """A timestamp the service always sets."""
    return stamp.ToDatetime(tzinfo=UTC)


def _stamp(stamp: Timestamp, present: bool = True) -> datetime | None:
    """An optional timestamp: None when unset (or left at the epoch)."""
    return from_timestamp(stamp, present) if present and (stamp.seconds or stamp.nanos) else None


def _history(entry: incidents_pb2.HistoryEntry) -> HistoryEntryOut:
    return HistoryEntryOut(
        kind=entry.kind,  # type: ignore[arg-type]
        at=_at(entry.at),
        old_status=entry.old_status or None,  # type: ignore[arg-type]
        new_status=entry.new_status or None,  # type: ignore[arg-type]
        note=entry.public_note or None,
        expected_at=_stamp(entry.expected_at, entry.HasField("expected_at")),
    )


def _contact(report: incidents_pb2.Report) -> ContactOut | None:
    if not report.HasField("reporter"):
        return None
    return ContactOut(name=report.reporter.name, email=report.reporter.email, phone=report.reporter.phone)


def _report_fields(report: incidents_pb2.Report, history: bool) -> dict[str, Any]:
    return {
        "id": report.id,
        "category": report.category,
        "service_code": report.service_code,
        "department": report.department,
        "status": report.status,
        "status_group": _GROUP_NAMES.get(report.status_group, "open"),
        "description": report.description,
        "lat": report.lat,
        "lon": report.lon,
        "attributes": dict(report.attributes),
        "created_at": _at(report.created_at),
        "updated_at": _at(report.updated_at),
        "follower_count": report.follower_count,
        "anonymous": report.anonymous,
        "following": report.following,
        "mine": report.mine,
        "follow_url": f"/v1/incidents/{report.id}/follow",
        "status_notes": report.status_notes or None,
        "address": report.address or None,
        "zipcode": report.zipcode or None,
        "expected_at": _stamp(report.expected_at, report.HasField("expected_at")),
        "photo_url": f"/v1/incidents/{report.id}/photo" if report.has_photo else None,
        "parent_id": report.parent_id or None,
        "distance_m": round(report.distance_m, 1) if report.distance_m else None,
        "history": [_history(h) for h in report.history] if history else None,
    }


def report_out(report: incidents_pb2.Report, *, history: bool = False) -> ReportOut:
    """The public view; the reporter also sees their own contact."""
    contact = _contact(report) if report.mine else None
    return ReportOut(**_report_fields(report, history), contact=contact)


def staff_report_out(report: incidents_pb2.Report) -> StaffReportOut:
    return StaffReportOut(
        **_report_fields(report, history=True),
        contact=_contact(report),
        staff_notes=[StaffNoteOut(text=n.text, author_id=n.author_id, at=_at(n.at)) for n in report.staff_notes],
    )


def report_page(response: incidents_pb2.SearchReportsResponse | incidents_pb2.ListReportsResponse) -> ReportPage:
    return ReportPage(items=[report_out(r) for r in response.reports], next_page_token=response.next_page_token or None)


# -- staff actions ----------------------------------------------------------------------------


class StatusChangeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    status: SettableStatus
    public_note: Annotated[str, msgspec.Meta(max_length=2000, description="Shown to residents")] = ""
    internal_note: Annotated[str, msgspec.Meta(max_length=4000, description="Staff only")] = ""
    expected_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class NoteIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    public: bool = False


class MergeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    parent_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="The report to keep")]


# -- alerts -----------------------------------------------------------------------------------


class CircleArea(msgspec.Struct, tag_field="type", tag="circle", forbid_unknown_fields=True, kw_only=True):
    center: LatLon
    radius_m: Annotated[float, msgspec.Meta(ge=10.0, le=50_000.0)]


class PolygonArea(msgspec.Struct, tag_field="type", tag="polygon", forbid_unknown_fields=True, kw_only=True):
    coordinates: Annotated[list[LatLon], msgspec.Meta(min_length=3, max_length=200, description="[[lat, lon], ...]")]


Area = CircleArea | PolygonArea


class AlertIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: AlertKind
    severity: AlertSeverity
    area: Area
    ends_at: Annotated[datetime, msgspec.Meta(tz=True)]
    title: Annotated[LanguageTexts, msgspec.Meta(min_length=1, description="Needs an English ('en') text")]
    body: LanguageTexts = {}
    starts_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    department: Annotated[str, msgspec.Meta(max_length=64, description="Operators only")] = ""


class AlertTranslations(msgspec.Struct, kw_only=True):
    title: dict[str, str]
    body: dict[str, str]


class AlertOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    department: str
    kind: str
    severity: str
    state: AlertState
    area: Area
    starts_at: datetime
    ends_at: datetime
    lang: str
    title: str
    body: str
    translations: AlertTranslations
    updated_at: datetime | None = None


class AlertPage(msgspec.Struct, kw_only=True):
    items: list[AlertOut]
    lang: str


def alert_out(alert: incidents_pb2.CityAlert, lang: str) -> AlertOut:
    area: Area = (
        PolygonArea(coordinates=[(p.lat, p.lon) for p in alert.polygon])
        if alert.polygon
        else CircleArea(center=(alert.center_lat, alert.center_lon), radius_m=alert.radius_m)
    )
    titles, bodies = dict(alert.title), dict(alert.body)
    return AlertOut(
        id=alert.id,
        department=alert.department,
        kind=alert.kind,
        severity=alert.severity,
        state=alert.state,  # type: ignore[arg-type]
        area=area,
        starts_at=_at(alert.starts_at),
        ends_at=_at(alert.ends_at),
        lang=lang if lang in titles else "en",
        title=pick(titles, lang),
        body=pick(bodies, lang),
        translations=AlertTranslations(title=titles, body=bodies),
        updated_at=_stamp(alert.updated_at),
    )


def alert_input(data: AlertIn) -> incidents_pb2.AlertInput:
    message = incidents_pb2.AlertInput(
        department=data.department,
        kind=data.kind,
        severity=data.severity,
        title=data.title,
        body=data.body,
        starts_at=to_timestamp(data.starts_at),
        ends_at=to_timestamp(data.ends_at),
    )
    if isinstance(data.area, CircleArea):
        message.center_lat, message.center_lon = data.area.center
        message.radius_m = data.area.radius_m
    else:
        message.polygon.extend(events_pb2.LatLon(lat=lat, lon=lon) for lat, lon in data.area.coordinates)
    return message
