"""Turning catalog records (YAML or edited rows) into table rows, with content-hash versions.

A service's `version` is a hash of everything a client can see of it, so seeding the same file
twice changes nothing, while any real edit gives a new version (the ETag material and the
trigger for `cityhub.catalog.service.updated`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import h3
from cityhub.catalog.v1 import events_pb2
from cityhub_sdk.tables import utcnow
from cityhub_sdk.timestamps import to_timestamp

from cityhub_catalog.models import Category, City, CityService, Department, Queue, ServiceCenter

H3_RESOLUTION = 7
H3_COARSE_RESOLUTION = 5

# Columns that make up a service's visible content (and so its version).
_CONTENT_FIELDS = (
    "slug",
    "service_code",
    "department",
    "category",
    "type",
    "takes_reports",
    "takes_requests",
    "report_radius_m",
    "name",
    "summary",
    "eligibility",
    "keywords",
    "steps",
    "documents",
    "fees",
    "channels",
    "centers",
    "form",
)


def content_version(content: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: content.get(k) for k in _CONTENT_FIELDS}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def service_content(service: CityService) -> dict[str, Any]:
    return {k: getattr(service, k) for k in _CONTENT_FIELDS}


def service_from_record(record: Mapping[str, Any], position: int) -> CityService:
    """A services.yaml entry as a row (version computed, `updated_at` now)."""
    content: dict[str, Any] = {
        "slug": str(record["slug"]),
        "service_code": str(record["service_code"]),
        "department": str(record["department"]),
        "category": str(record["category"]),
        "type": str(record.get("type", "realtime")),
        "takes_reports": bool(record.get("takes_reports", False)),
        "takes_requests": bool(record.get("takes_requests", False)),
        "report_radius_m": int(record.get("report_radius_m") or 0),
        "name": dict(record["name"]),
        "summary": dict(record.get("summary") or {}),
        "eligibility": dict(record.get("eligibility") or {}),
        "keywords": {k: list(v or []) for k, v in (record.get("keywords") or {}).items()},
        "steps": {k: list(v or []) for k, v in (record.get("steps") or {}).items()},
        "documents": {k: list(v or []) for k, v in (record.get("documents") or {}).items()},
        "fees": [dict(fee) for fee in record.get("fees") or []],
        "channels": list(record.get("channels") or []),
        "centers": list(record.get("centers") or []),
        "form": [dict(attr) for attr in record.get("form") or []],
    }
    # A YAML round trip through json makes the stored shape exactly what the DB gives back.
    content = json.loads(json.dumps(content))
    return CityService(**content, position=position, version=content_version(content), updated_at=utcnow())


def department_from_record(record: Mapping[str, Any]) -> Department:
    contact = record.get("contact", {})
    return Department(
        slug=record["slug"],
        name=record["name"],
        description=record.get("description", {}),
        phone=contact.get("phone", ""),
        email=contact.get("email", ""),
        website=contact.get("website", ""),
    )


def category_from_record(record: Mapping[str, Any], position: int) -> Category:
    return Category(slug=record["slug"], name=record["name"], position=position)


def center_from_record(record: Mapping[str, Any]) -> tuple[ServiceCenter, list[Queue]]:
    lat, lon = float(record["lat"]), float(record["lon"])
    center = ServiceCenter(
        slug=record["slug"],
        name=record["name"],
        address=record["address"],
        lat=lat,
        lon=lon,
        h3_cell=h3.latlng_to_cell(lat, lon, H3_RESOLUTION),
        h3_cell_coarse=h3.latlng_to_cell(lat, lon, H3_COARSE_RESOLUTION),
        phone=record.get("phone", ""),
        hours={day: [list(r) for r in ranges] for day, ranges in record["hours"].items()},
    )
    queues = [
        Queue(center=record["slug"], slug=q["slug"], name=q["name"], services=list(q["services"]), position=i)
        for i, q in enumerate(record.get("queues", []))
    ]
    return center, queues


def city_from_record(record: Mapping[str, Any]) -> City:
    contact = record.get("contact") or {}
    return City(
        slug=record["slug"],
        name=record["name"],
        timezone=record["timezone"],
        center_lat=float(record["centre"]["lat"]),
        center_lon=float(record["centre"]["lon"]),
        boundary=[[float(lat), float(lon)] for lat, lon in record["boundary"]],
        languages=list(record.get("languages", [])),
        contact_phone=str(contact.get("phone", "")),
        contact_email=str(contact.get("email", "")),
        emergency_phone=str(record.get("emergency_phone", "")),
        jurisdiction_id=str(record.get("jurisdiction_id", "")),
        website=str(contact.get("website", "")),
    )


def service_updated_event(service: CityService) -> events_pb2.ServiceUpdated:
    """The event payload: references and coarse facts only, never texts or personal data."""
    return events_pb2.ServiceUpdated(
        slug=service.slug,
        service_code=service.service_code,
        department=service.department,
        category=service.category,
        takes_reports=service.takes_reports,
        report_radius_m=service.report_radius_m,
        version=service.version,
        updated_at=to_timestamp(service.updated_at),
    )
