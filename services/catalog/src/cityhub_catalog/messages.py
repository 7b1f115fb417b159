"""Rows to protobuf messages, with every text resolved to one language (English per-field fallback)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cityhub.catalog.v1 import catalog_pb2
from cityhub_sdk.languages import is_rtl, pick, pick_list
from cityhub_sdk.timestamps import to_timestamp

from cityhub_catalog.models import Category, City, CityService, Department, DepartmentRegistration, Queue
from cityhub_catalog.service import CenterResult

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def department_message(d: Department, lang: str) -> catalog_pb2.Department:
    return catalog_pb2.Department(
        slug=d.slug,
        name=pick(d.name, lang),
        description=pick(d.description, lang),
        phone=d.phone,
        email=d.email,
        website=d.website,
    )


def _attribute(attr: Mapping[str, Any], lang: str) -> catalog_pb2.FormAttribute:
    return catalog_pb2.FormAttribute(
        code=str(attr["code"]),
        datatype=str(attr["datatype"]),
        required=bool(attr.get("required", False)),
        variable=bool(attr.get("variable", True)),
        order=int(attr.get("order", 0)),
        description=pick(attr.get("description"), lang),
        datatype_description=pick(attr.get("datatype_description"), lang),
        values=[
            catalog_pb2.AttributeValue(key=str(v["key"]), name=pick(v.get("name"), lang))
            for v in attr.get("values") or []
        ],
    )


def service_message(s: CityService, lang: str, categories: Mapping[str, Category]) -> catalog_pb2.Service:
    category = categories.get(s.category)
    return catalog_pb2.Service(
        slug=s.slug,
        service_code=s.service_code,
        department=s.department,
        category=s.category,
        category_name=pick(category.name, lang) if category else s.category,
        type=s.type,
        name=pick(s.name, lang),
        summary=pick(s.summary, lang),
        keywords=pick_list(s.keywords, lang),
        steps=pick_list(s.steps, lang),
        fees=[
            catalog_pb2.Fee(
                amount=str(f["amount"]),
                currency=str(f.get("currency", "USD")),
                description=pick(f.get("description"), lang),
            )
            for f in s.fees
        ],
        documents=pick_list(s.documents, lang),
        eligibility=pick(s.eligibility, lang),
        channels=s.channels,
        center_ids=s.centers,
        takes_reports=s.takes_reports,
        takes_requests=s.takes_requests,
        report_radius_m=s.report_radius_m,
        form=[_attribute(a, lang) for a in sorted(s.form, key=lambda a: int(a.get("order", 0)))],
        lang=lang,
        rtl=is_rtl(lang),
        version=s.version,
    )


def _queue(q: Queue, lang: str) -> catalog_pb2.Queue:
    return catalog_pb2.Queue(slug=q.slug, name=pick(q.name, lang), services=q.services)


def center_message(result: CenterResult, lang: str) -> catalog_pb2.ServiceCenter:
    c = result.center
    return catalog_pb2.ServiceCenter(
        id=c.slug,
        name=pick(c.name, lang),
        address=pick(c.address, lang),
        lat=c.lat,
        lon=c.lon,
        phone=c.phone,
        hours=[
            catalog_pb2.OpeningHours(day=day, ranges=[f"{r[0]}-{r[1]}" for r in c.hours.get(day, [])])
            for day in WEEKDAYS
        ],
        queues=[_queue(q, lang) for q in result.queues],
        distance_m=round(result.distance_m, 1) if result.distance_m is not None else 0.0,
        lang=lang,
        rtl=is_rtl(lang),
    )


def city_message(city: City, lang: str) -> catalog_pb2.City:
    return catalog_pb2.City(
        name=pick(city.name, lang),
        timezone=city.timezone,
        center_lat=city.center_lat,
        center_lon=city.center_lon,
        boundary=[catalog_pb2.LatLon(lat=lat, lon=lon) for lat, lon in city.boundary],
        contact_phone=city.contact_phone,
        contact_email=city.contact_email,
        emergency_phone=city.emergency_phone,
        jurisdiction_id=city.jurisdiction_id,
        website=city.website,
    )


def registration_message(r: DepartmentRegistration) -> catalog_pb2.DepartmentServiceRegistration:
    return catalog_pb2.DepartmentServiceRegistration(
        slug=r.slug,
        department=r.department,
        address=r.address,
        health=r.health,
        checked_at=to_timestamp(r.checked_at),
        registered_at=to_timestamp(r.registered_at),
    )
