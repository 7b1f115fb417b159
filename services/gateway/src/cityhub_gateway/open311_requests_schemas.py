"""Open311 GeoReport v2 request shapes (https://wiki.open311.org/GeoReport_v2), as the spec names
them: the POST form, a service request and the POST receipt. They document the contract; the
answers themselves are rendered in the spec's JSON or XML by open311_format."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIType, Schema

FormText = Annotated[str, msgspec.Meta(max_length=200)]
ATTRIBUTE_FIELDS = Schema(
    type=OpenAPIType.STRING,
    description="`attribute[code]` answers the service definition's attribute `code` "
    "(`attribute[code][]` once per value of a multivaluelist)",
)


class ServiceRequestForm(msgspec.Struct, kw_only=True):
    """POST requests: application/x-www-form-urlencoded, as the spec defines it. Unknown members
    are ignored, as Open311 clients expect; `attribute[code]` members carry the form answers."""

    api_key: Annotated[str, msgspec.Meta(max_length=200, description="A department's API key")] = ""
    jurisdiction_id: Annotated[str, msgspec.Meta(max_length=100)] = ""
    service_code: Annotated[str, msgspec.Meta(max_length=64)] = ""
    lat: Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)] | None = None
    long: Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)] | None = None
    address_string: Annotated[str, msgspec.Meta(max_length=300)] = ""
    address_id: FormText = ""
    zipcode: Annotated[str, msgspec.Meta(max_length=16)] = ""
    email: FormText = ""
    device_id: FormText = ""
    account_id: FormText = ""
    first_name: FormText = ""
    last_name: FormText = ""
    phone: FormText = ""
    description: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    media_url: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class ServiceRequestReceipt(msgspec.Struct, kw_only=True):
    service_request_id: str
    service_notice: str | None
    account_id: str | None


class ServiceRequestOut(msgspec.Struct, kw_only=True):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float
    long: float
    media_url: str | None


def json_answer(container: type, status: int, description: str) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=container, media_type="application/json", description=description, generate_examples=False
        )
    }


def xml_answer(status: int, description: str) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=str, media_type="text/xml", description=description + " (XML)", generate_examples=False
        )
    }
