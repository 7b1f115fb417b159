"""Incident routes for residents: report (multipart or JSON), nearby search, details, follow, photos,
and the city's alerts.

Query parameters are parsed strictly here (NaN, infinities, out-of-range values and oversized radii
are 422 problem+json) before any gRPC call. Public answers never carry who reported what: the
reporter's contact appears only for the reporter themselves.
"""

from __future__ import annotations

import math
from datetime import UTC
from typing import Annotated, Any

import msgspec
from cityhub.incidents.v1 import incidents_pb2
from cityhub_sdk.auth import Caller
from google.protobuf.timestamp_pb2 import Timestamp
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import HeaderParameter, Parameter, QueryParameter
from litestar.types import ControllerRouterHandler

from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.errors import ApiError
from cityhub_gateway.lang import AcceptLanguage, LangQuery, negotiate

MAX_RADIUS_M = 5000.0
DEFAULT_RADIUS_M = 1000.0
MAX_PHOTO_BYTES = 5 * 1024 * 1024
ReportId = Annotated[str, Parameter(max_length=64)]
# Clients retry a create safely by repeating this header (a UUID); the incidents service remembers it.
IdempotencyKey = Annotated[str | None, HeaderParameter(name="Idempotency-Key", required=False)]
REPLAYED_HEADER = "Idempotent-Replayed"
TEXT_FIELDS = (
    "category",
    "description",
    "address",
    "zipcode",
    "contact_name",
    "contact_email",
    "contact_phone",
    "device_id",
)


def invalid(name: str, message: str) -> ValidationException:
    return ValidationException(detail=f"{name}: {message}", extra=[{"key": name, "message": message}])


def parse_float(name: str, raw: Any, *, low: float, high: float, required: bool = True) -> float | None:
    """A finite float within [low, high]; refuses nan/inf spelled any way and non-numbers."""
    if raw is None or raw == "":
        if required:
            raise invalid(name, "is required")
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise invalid(name, "must be a number")
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise invalid(name, "must be a number") from exc
    if not math.isfinite(value) or not low <= value <= high:
        raise invalid(name, f"must be a finite number within [{low:g}, {high:g}]")
    return value


def required_float(name: str, raw: Any, *, low: float, high: float) -> float:
    value = parse_float(name, raw, low=low, high=high)
    assert value is not None  # parse_float raises on a missing required value
    return value


def parse_int(name: str, raw: str | None, *, low: int, high: int) -> int:
    if raw is None or raw == "":
        return 0
    if not raw.isdigit():
        raise invalid(name, "must be a whole number")
    value = int(raw)
    if not low <= value <= high:
        raise invalid(name, f"must be within [{low}, {high}]")
    return value


def parse_bool(name: str, raw: Any) -> bool:
    if raw in (None, "", False, "false", "0", 0):
        return False
    if raw in (True, "true", "1", 1):
        return True
    raise invalid(name, "must be true or false")


def iso(stamp: Timestamp, present: bool = True) -> str | None:
    if not present or (stamp.seconds == 0 and stamp.nanos == 0):
        return None
    return stamp.ToDatetime(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def report_json(report: incidents_pb2.Report, *, private: bool = False, history: bool = False) -> dict[str, Any]:
    """Public fields of a report; `private` adds the reporter's contact and staff notes (staff routes)."""
    body: dict[str, Any] = {
        "id": report.id,
        "category": report.category,
        "service_code": report.service_code,
        "department": report.department,
        "status": report.status,
        "status_notes": report.status_notes or None,
        "description": report.description,
        "lat": report.lat,
        "lon": report.lon,
        "address": report.address or None,
        "zipcode": report.zipcode or None,
        "attributes": dict(report.attributes),
        "created_at": iso(report.created_at),
        "updated_at": iso(report.updated_at),
        "expected_at": iso(report.expected_at, report.HasField("expected_at")),
        "photo_url": f"/v1/incidents/{report.id}/photo" if report.has_photo else None,
        "follower_count": report.follower_count,
        "parent_id": report.parent_id or None,
        "anonymous": report.anonymous,
        "following": report.following,
        "mine": report.mine,
        "follow_url": f"/v1/incidents/{report.id}/follow",
    }
    if report.distance_m:
        body["distance_m"] = round(report.distance_m, 1)
    if history:
        body["history"] = [
            {
                "kind": h.kind,
                "old_status": h.old_status or None,
                "new_status": h.new_status or None,
                "note": h.public_note or None,
                "expected_at": iso(h.expected_at, h.HasField("expected_at")),
                "at": iso(h.at),
            }
            for h in report.history
        ]
    if (private or report.mine) and report.HasField("reporter"):
        body["contact"] = {"name": report.reporter.name, "email": report.reporter.email, "phone": report.reporter.phone}
    if private:
        body["staff_notes"] = [{"text": n.text, "author_id": n.author_id, "at": iso(n.at)} for n in report.staff_notes]
    return body


def alert_json(alert: incidents_pb2.CityAlert, lang: str) -> dict[str, Any]:
    return {
        "id": alert.id,
        "department": alert.department,
        "kind": alert.kind,
        "severity": alert.severity,
        "state": alert.state,
        "area": (
            {"type": "polygon", "coordinates": [[p.lat, p.lon] for p in alert.polygon]}
            if alert.polygon
            else {"type": "circle", "center": [alert.center_lat, alert.center_lon], "radius_m": alert.radius_m}
        ),
        "starts_at": iso(alert.starts_at),
        "ends_at": iso(alert.ends_at),
        "lang": lang if lang in alert.title else "en",
        "title": alert.title.get(lang) or alert.title.get("en", ""),
        "body": alert.body.get(lang) or alert.body.get("en", ""),
        "translations": {"title": dict(alert.title), "body": dict(alert.body)},
        "updated_at": iso(alert.updated_at),
    }


async def _report_fields(request: Request[Any, Any, Any]) -> tuple[dict[str, Any], dict[str, str], bytes]:
    """The report form: multipart/form-data (with an optional `photo` file) or a JSON object."""
    content_type = request.headers.get("content-type", "")
    attributes: dict[str, str] = {}
    photo = b""
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key != "photo":
                    raise invalid(key, "unexpected file")
                photo = await value.read(MAX_PHOTO_BYTES + 1)
                if len(photo) > MAX_PHOTO_BYTES:
                    raise invalid("photo", "larger than 5 MB")
            elif key.startswith("attribute[") and key.endswith("]"):
                attributes[key[10:-1]] = str(value)
            else:
                fields[key] = value
        return fields, attributes, photo
    if content_type.startswith("application/json"):
        try:
            data = msgspec.json.decode(await request.body())
        except msgspec.DecodeError as exc:
            raise invalid("body", "is not valid JSON") from exc
        if not isinstance(data, dict):
            raise invalid("body", "must be a JSON object")
        raw_attributes = data.pop("attributes", None) or {}
        if not isinstance(raw_attributes, dict) or not all(isinstance(v, str) for v in raw_attributes.values()):
            raise invalid("attributes", "must map codes to strings")
        return data, {str(k): v for k, v in raw_attributes.items()}, b""
    raise invalid("body", "send multipart/form-data or application/json")


class IncidentController(Controller):
    path = "/v1/incidents"
    tags = ["incidents"]

    @post("/", summary="Report an incident (anonymous or signed in); 409 offers an open report nearby instead")
    async def create(
        self,
        request: Request[Any, Any, Any],
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        force: Annotated[str | None, QueryParameter(name="force", required=False)] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        fields, attributes, photo = await _report_fields(request)
        for name in TEXT_FIELDS:
            if name in fields and not isinstance(fields[name], str):
                raise invalid(name, "must be a string")
        lat = required_float("lat", fields.get("lat"), low=-90, high=90)
        lon = required_float("lon", fields.get("lon"), low=-180, high=180)
        message = incidents_pb2.CreateReportRequest(
            category=fields.get("category", ""),
            description=fields.get("description", ""),
            lat=lat,
            lon=lon,
            address=fields.get("address", ""),
            zipcode=fields.get("zipcode", ""),
            photo=photo,
            attributes=attributes,
            contact=incidents_pb2.ReporterContact(
                name=fields.get("contact_name", ""),
                email=fields.get("contact_email", ""),
                phone=fields.get("contact_phone", ""),
                device_id=fields.get("device_id", ""),
            ),
            force=parse_bool("force", force) or parse_bool("force", fields.get("force")),
            idempotency_key=idempotency_key or "",
        )
        response = await clients.incidents.CreateReport(message, metadata=caller.metadata(), timeout=15)
        if not response.created:
            existing = report_json(response.duplicate_of)
            raise ApiError(
                "conflict",
                "An open report of the same kind exists close by: follow it instead, or repeat with ?force=true.",
                extra={"existing_report": existing, "follow_url": existing["follow_url"]},
            )
        # A replay answers like the first create (201, same report), flagged for the client.
        headers = {REPLAYED_HEADER: "true"} if response.replayed else {}
        return Response(report_json(response.report, history=True), status_code=201, headers=headers)

    @get("/", summary="Incidents near a point, nearest first (public fields only)")
    async def nearby(
        self,
        clients: NamedDependency[ServiceClients],
        caller: NamedDependency[Caller],
        lat: Annotated[str | None, QueryParameter(name="lat", required=False)] = None,
        lon: Annotated[str | None, QueryParameter(name="lon", required=False)] = None,
        radius_m: Annotated[str | None, QueryParameter(name="radius_m", required=False)] = None,
        status: Annotated[str | None, QueryParameter(name="status", required=False, max_length=200)] = None,
        category: Annotated[str | None, QueryParameter(name="category", required=False, max_length=64)] = None,
        page_size: Annotated[str | None, QueryParameter(name="page_size", required=False)] = None,
        page_token: Annotated[str | None, QueryParameter(name="page_token", required=False, max_length=500)] = None,
    ) -> dict[str, Any]:
        latitude = required_float("lat", lat, low=-90, high=90)
        longitude = required_float("lon", lon, low=-180, high=180)
        radius = parse_float("radius_m", radius_m, low=1, high=MAX_RADIUS_M, required=False) or DEFAULT_RADIUS_M
        statuses = [s.strip() for s in (status or "").split(",") if s.strip()]
        response = await clients.incidents.SearchReports(
            incidents_pb2.SearchReportsRequest(
                lat=latitude,
                lon=longitude,
                radius_m=radius,
                statuses=statuses,
                category=category or "",
                page_size=parse_int("page_size", page_size, low=1, high=100),
                page_token=page_token or "",
            ),
            metadata=caller.metadata(),
        )
        return {
            "items": [report_json(r) for r in response.reports],
            "next_page_token": response.next_page_token or None,
        }

    @get("/{report_id:str}", summary="One incident with its public history")
    async def get_report(
        self, report_id: ReportId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> dict[str, Any]:
        response = await clients.incidents.GetReport(
            incidents_pb2.GetReportRequest(report_id=report_id), metadata=caller.metadata()
        )
        return report_json(response.report, history=True)

    @get("/{report_id:str}/photo", summary="The incident's photo (metadata stripped)")
    async def photo(
        self, report_id: ReportId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> Response[bytes]:
        response = await clients.incidents.GetReportPhoto(
            incidents_pb2.GetReportPhotoRequest(report_id=report_id), metadata=caller.metadata()
        )
        return Response(
            response.data,
            media_type=response.content_type,
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    @post("/{report_id:str}/follow", summary="Follow an incident: be told when its status changes", status_code=200)
    async def follow(
        self, report_id: ReportId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> dict[str, Any]:
        response = await clients.incidents.FollowReport(
            incidents_pb2.FollowReportRequest(report_id=report_id), metadata=caller.metadata()
        )
        return {"report_id": report_id, "following": True, "follower_count": response.follower_count}

    @delete("/{report_id:str}/follow", summary="Stop following an incident", status_code=200)
    async def unfollow(
        self, report_id: ReportId, clients: NamedDependency[ServiceClients], caller: NamedDependency[Caller]
    ) -> dict[str, Any]:
        response = await clients.incidents.UnfollowReport(
            incidents_pb2.UnfollowReportRequest(report_id=report_id), metadata=caller.metadata()
        )
        return {"report_id": report_id, "following": False, "follower_count": response.follower_count}


class AlertController(Controller):
    path = "/v1/alerts"
    tags = ["alerts"]

    @get("/", summary="City alerts in force, optionally only those covering lat/lon")
    async def list_alerts(
        self,
        clients: NamedDependency[ServiceClients],
        lat: Annotated[str | None, QueryParameter(name="lat", required=False)] = None,
        lon: Annotated[str | None, QueryParameter(name="lon", required=False)] = None,
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> dict[str, Any]:
        latitude = parse_float("lat", lat, low=-90, high=90, required=lon not in (None, ""))
        longitude = parse_float("lon", lon, low=-180, high=180, required=latitude is not None)
        language = negotiate(lang, accept_language)
        near = latitude is not None and longitude is not None
        response = await clients.incidents.ListAlerts(
            incidents_pb2.ListAlertsRequest(near=near, lat=latitude or 0.0, lon=longitude or 0.0)
        )
        return {"items": [alert_json(a, language) for a in response.alerts], "lang": language}

    @get("/{alert_id:str}", summary="One alert")
    async def get_alert(
        self,
        alert_id: Annotated[str, Parameter(max_length=64)],
        clients: NamedDependency[ServiceClients],
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> dict[str, Any]:
        response = await clients.incidents.GetAlert(incidents_pb2.GetAlertRequest(alert_id=alert_id))
        return alert_json(response.alert, negotiate(lang, accept_language))


INCIDENTS_ROUTES: list[ControllerRouterHandler] = [IncidentController, AlertController]
