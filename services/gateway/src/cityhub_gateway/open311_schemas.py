"""Open311 GeoReport v2 read-side answers (discovery, service list, service definition) as
msgspec Structs with exactly the spec's fields; the XML form is rendered from the same values."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from cityhub_gateway.catalog_schemas import Datatype, ServiceType


class Open311EndpointOut(msgspec.Struct):
    specification: str
    url: str
    changeset: datetime
    type: Literal["production", "test"]
    formats: list[Literal["text/xml", "application/json"]]


class Open311DiscoveryOut(msgspec.Struct):
    changeset: datetime
    contact: str
    key_service: str
    endpoints: list[Open311EndpointOut]


class Open311ServiceOut(msgspec.Struct):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: ServiceType
    keywords: str
    group: str


class Open311ValueOut(msgspec.Struct):
    key: str
    name: str


class Open311AttributeOut(msgspec.Struct, omit_defaults=True):
    """`values` appears only for the list datatypes, as the spec has it."""

    variable: bool
    code: str
    datatype: Datatype
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[Open311ValueOut] | None = None


class Open311DefinitionOut(msgspec.Struct):
    service_code: str
    attributes: list[Open311AttributeOut]
