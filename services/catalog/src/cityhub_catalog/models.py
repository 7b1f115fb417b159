"""Catalog tables. Translatable texts are JSON maps from language to text (or to lists of texts).

Services keep their whole multilingual content in JSON columns: the catalog is read far more
than written, always as whole records, and the search index is built from memory anyway.
Service centres carry H3 cells (resolution 7 for short radii, 5 for wide ones) in indexed
columns so proximity queries narrow by index before the exact great-circle distance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cityhub_sdk.tables import utcnow
from sqlmodel import Field, SQLModel

Texts = dict[str, str]
TextLists = dict[str, list[str]]


class Department(SQLModel, table=True):
    __tablename__ = "departments"

    slug: str = Field(primary_key=True, max_length=64)
    name: Texts = Field(sa_type=sa.JSON)
    description: Texts = Field(sa_type=sa.JSON)
    phone: str = ""
    email: str = ""
    website: str = ""


class Category(SQLModel, table=True):
    """An Open311 `group`."""

    __tablename__ = "categories"

    slug: str = Field(primary_key=True, max_length=64)
    name: Texts = Field(sa_type=sa.JSON)
    position: int = 0


class CityService(SQLModel, table=True):
    """One city service; `version` is a content hash, so it changes exactly when the service does."""

    __tablename__ = "services"

    slug: str = Field(primary_key=True, max_length=64)
    service_code: str = Field(max_length=64, unique=True, index=True)
    department: str = Field(max_length=64, index=True)
    category: str = Field(max_length=64, index=True)
    type: str = Field(default="realtime", max_length=16)
    takes_reports: bool = False
    takes_requests: bool = False
    report_radius_m: int = 0
    name: Texts = Field(sa_type=sa.JSON)
    summary: Texts = Field(sa_type=sa.JSON)
    eligibility: Texts = Field(sa_type=sa.JSON)
    keywords: TextLists = Field(sa_type=sa.JSON)
    steps: TextLists = Field(sa_type=sa.JSON)
    documents: TextLists = Field(sa_type=sa.JSON)
    fees: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    channels: list[str] = Field(sa_type=sa.JSON)
    centers: list[str] = Field(sa_type=sa.JSON)
    form: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    position: int = 0
    version: str = Field(default="", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class ServiceCenter(SQLModel, table=True):
    __tablename__ = "service_centers"

    slug: str = Field(primary_key=True, max_length=64)
    name: Texts = Field(sa_type=sa.JSON)
    address: Texts = Field(sa_type=sa.JSON)
    lat: float
    lon: float
    h3_cell: str = Field(max_length=16, index=True)  # resolution 7 (~1.4 km edges)
    h3_cell_coarse: str = Field(max_length=16, index=True)  # resolution 5 (~9.9 km edges)
    phone: str = ""
    hours: dict[str, list[list[str]]] = Field(sa_type=sa.JSON)


class Queue(SQLModel, table=True):
    """A counter/queue a centre runs, and the services it handles (wait times are per queue)."""

    __tablename__ = "queues"

    center: str = Field(primary_key=True, max_length=64)
    slug: str = Field(primary_key=True, max_length=64)
    name: Texts = Field(sa_type=sa.JSON)
    services: list[str] = Field(sa_type=sa.JSON)
    position: int = 0


class City(SQLModel, table=True):
    """The city's facts: clients and the gateway read its contact, time zone and Open311 id here."""

    __tablename__ = "city"

    slug: str = Field(primary_key=True, max_length=64)
    name: Texts = Field(sa_type=sa.JSON)
    timezone: str
    center_lat: float
    center_lon: float
    boundary: list[list[float]] = Field(sa_type=sa.JSON)
    languages: list[str] = Field(sa_type=sa.JSON)
    contact_phone: str = ""
    contact_email: str = ""
    emergency_phone: str = ""
    jurisdiction_id: str = ""
    website: str = ""


class DepartmentRegistration(SQLModel, table=True):
    """A department's own gRPC service registered to handle one catalog service."""

    __tablename__ = "department_registrations"

    slug: str = Field(primary_key=True, max_length=64)
    department: str = Field(max_length=64, index=True)
    address: str = Field(max_length=255)
    health: str = Field(default="UNKNOWN", max_length=16)
    checked_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    registered_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class CatalogRevision(SQLModel, table=True):
    """One row whose counter moves with every catalog change: replicas rebuild their cache on it."""

    __tablename__ = "catalog_revision"

    id: int = Field(default=1, primary_key=True)
    revision: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
