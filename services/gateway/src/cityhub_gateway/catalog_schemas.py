"""The catalog's HTTP answers (msgspec Structs, so the OpenAPI document types every field) and
their conversion from the catalog's protobuf messages."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from cityhub.catalog.v1 import catalog_pb2

# A language the platform offers (`cityhub_sdk.languages.SUPPORTED_LANGUAGES`).
Language = Literal["en", "zh-Hant", "vi", "ja", "fa"]
ServiceType = Literal["realtime", "batch", "blackbox"]
Channel = Literal["online", "in_person", "phone", "app", "mail"]
Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Metres = Annotated[float, msgspec.Meta(ge=0)]


class DepartmentOut(msgspec.Struct):
    slug: str
    name: str
    description: str
    phone: str
    email: str
    website: str


class DepartmentsOut(msgspec.Struct):
    items: list[DepartmentOut]
    lang: Language
    rtl: bool
    total: int
    next_page_token: str | None = None


class FeeOut(msgspec.Struct):
    amount: Annotated[str, msgspec.Meta(description="Decimal amount, e.g. `25.00`")]
    currency: Annotated[str, msgspec.Meta(description="ISO 4217 code")]
    description: str


class AttributeValueOut(msgspec.Struct):
    key: str
    name: str


class FormAttributeOut(msgspec.Struct):
    code: str
    datatype: Datatype
    required: bool
    variable: bool
    order: int
    description: str
    datatype_description: str
    values: list[AttributeValueOut]


class ServiceOut(msgspec.Struct):
    slug: str
    service_code: str
    department: str
    category: str
    category_name: str
    type: ServiceType
    name: str
    summary: str
    keywords: list[str]
    steps: list[str]
    fees: list[FeeOut]
    documents: list[str]
    eligibility: str
    channels: list[Channel]
    centers: list[str]
    takes_reports: bool
    takes_requests: bool
    report_radius_m: int
    form: list[FormAttributeOut]
    lang: Language
    rtl: bool
    version: Annotated[str, msgspec.Meta(description="Changes exactly when the service's content does")]


class ServicesOut(msgspec.Struct):
    items: list[ServiceOut]
    lang: Language
    rtl: bool
    total: int
    next_page_token: str | None = None


class HoursOut(msgspec.Struct):
    day: Weekday
    ranges: Annotated[list[str], msgspec.Meta(description="Local times, e.g. `08:30-17:00`")]


class QueueOut(msgspec.Struct):
    slug: str
    name: str
    services: list[str]


class ServiceCenterOut(msgspec.Struct):
    id: str
    name: str
    address: str
    lat: float
    lon: float
    phone: str
    hours: list[HoursOut]
    queues: list[QueueOut]
    lang: Language
    rtl: bool
    distance_m: Annotated[Metres | None, msgspec.Meta(description="Only in a search by lat/lon")] = None


class ServiceCentersOut(msgspec.Struct):
    items: list[ServiceCenterOut]
    lang: Language
    rtl: bool
    total: int
    next_page_token: str | None = None


class LatLonOut(msgspec.Struct):
    lat: float
    lon: float


class CityOut(msgspec.Struct):
    name: str
    timezone: Annotated[str, msgspec.Meta(description="IANA time zone, e.g. America/Los_Angeles")]
    center: LatLonOut
    boundary: list[LatLonOut]
    contact_phone: Annotated[str, msgspec.Meta(description="The city's general line")]
    contact_email: str
    emergency_phone: str
    jurisdiction_id: Annotated[str, msgspec.Meta(description="Open311 jurisdiction_id")]
    website: str
    lang: Language
    rtl: bool


def department_out(d: catalog_pb2.Department) -> DepartmentOut:
    return DepartmentOut(
        slug=d.slug, name=d.name, description=d.description, phone=d.phone, email=d.email, website=d.website
    )


def _attribute_out(a: catalog_pb2.FormAttribute) -> FormAttributeOut:
    return FormAttributeOut(
        code=a.code,
        datatype=a.datatype,  # type: ignore[arg-type]  # the catalog's vocabulary
        required=a.required,
        variable=a.variable,
        order=a.order,
        description=a.description,
        datatype_description=a.datatype_description,
        values=[AttributeValueOut(key=v.key, name=v.name) for v in a.values],
    )


def service_out(s: catalog_pb2.Service) -> ServiceOut:
    return ServiceOut(
        slug=s.slug,
        service_code=s.service_code,
        department=s.department,
        category=s.category,
        category_name=s.category_name,
        type=s.type,  # type: ignore[arg-type]  # the catalog's vocabulary
        name=s.name,
        summary=s.summary,
        keywords=list(s.keywords),
        steps=list(s.steps),
        fees=[FeeOut(amount=f.amount, currency=f.currency, description=f.description) for f in s.fees],
        documents=list(s.documents),
        eligibility=s.eligibility,
        channels=list(s.channels),  # type: ignore[arg-type]
        centers=list(s.center_ids),
        takes_reports=s.takes_reports,
        takes_requests=s.takes_requests,
        report_radius_m=s.report_radius_m,
        form=[_attribute_out(a) for a in s.form],
        lang=s.lang,  # type: ignore[arg-type]
        rtl=s.rtl,
        version=s.version,
    )


def center_out(c: catalog_pb2.ServiceCenter, *, near: bool) -> ServiceCenterOut:
    return ServiceCenterOut(
        id=c.id,
        name=c.name,
        address=c.address,
        lat=c.lat,
        lon=c.lon,
        phone=c.phone,
        hours=[HoursOut(day=h.day, ranges=list(h.ranges)) for h in c.hours],  # type: ignore[arg-type]
        queues=[QueueOut(slug=q.slug, name=q.name, services=list(q.services)) for q in c.queues],
        lang=c.lang,  # type: ignore[arg-type]
        rtl=c.rtl,
        distance_m=c.distance_m if near else None,
    )


def city_out(city: catalog_pb2.City, lang: Language, rtl: bool) -> CityOut:
    return CityOut(
        name=city.name,
        timezone=city.timezone,
        center=LatLonOut(lat=city.center_lat, lon=city.center_lon),
        boundary=[LatLonOut(lat=p.lat, lon=p.lon) for p in city.boundary],
        contact_phone=city.contact_phone,
        contact_email=city.contact_email,
        emergency_phone=city.emergency_phone,
        jurisdiction_id=city.jurisdiction_id,
        website=city.website,
        lang=lang,
        rtl=rtl,
    )
