"""Incidents tables.

Public report fields live in `reports`; who filed a report and how to reach them live apart in
`report_reporters`, read only for the reporter, the owning department's staff and operators.
`reports` carries its H3 cells (res 9 and 8) so proximity queries read a short IN list of cells
from one covering index, then order by distance.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from cityhub_sdk.tables import utcnow
from sqlmodel import Field, SQLModel

ACTIVE_STATUSES = ("open", "acknowledged", "in_progress", "scheduled")
CLOSED_STATUSES = ("fixed", "closed", "duplicate", "not_ours")
STATUSES = ACTIVE_STATUSES + CLOSED_STATUSES
# Every status is in one of two groups (Open311's `open`/`closed`); incidents alone decides which.
StatusGroup = Literal["open", "closed"]
STATUS_GROUPS: dict[StatusGroup, tuple[str, ...]] = {"open": ACTIVE_STATUSES, "closed": CLOSED_STATUSES}


def status_group(status: str) -> StatusGroup:
    return "open" if status in ACTIVE_STATUSES else "closed"


class Report(SQLModel, table=True):
    __tablename__ = "reports"

    id: str = Field(primary_key=True, max_length=32)
    category: str = Field(max_length=64)
    service_code: str = Field(max_length=64)
    department: str = Field(max_length=64)
    status: str = Field(max_length=16)
    description: str = ""
    lat: float
    lon: float
    h3_r9: str = Field(max_length=16)
    h3_r8: str = Field(max_length=16)
    address: str = ""
    zipcode: str = ""
    attributes: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)
    anonymous: bool = True
    photo_key: str | None = None
    photo_content_type: str | None = None
    parent_id: str | None = Field(default=None, max_length=32)
    follower_count: int = 0
    status_notes: str = ""
    expected_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class ReportReporter(SQLModel, table=True):
    """Private: the reporter's account and contact data for one report."""

    __tablename__ = "report_reporters"

    report_id: str = Field(primary_key=True, max_length=32)
    account_id: str | None = Field(default=None, max_length=64)
    name: str = ""
    email: str = ""
    phone: str = ""
    device_id: str = ""


class ReportFollow(SQLModel, table=True):
    __tablename__ = "report_follows"

    report_id: str = Field(primary_key=True, max_length=32)
    account_id: str = Field(primary_key=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class ReportHistory(SQLModel, table=True):
    """Every change to a report; `internal_note` and `actor_id` stay with staff."""

    __tablename__ = "report_history"

    id: int | None = Field(default=None, primary_key=True)
    report_id: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # created | status | note | merged
    old_status: str = ""
    new_status: str = ""
    public_note: str = ""
    internal_note: str = ""
    actor_id: str = ""
    expected_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"

    id: str = Field(primary_key=True, max_length=32)
    department: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    severity: str = Field(max_length=16)
    center_lat: float = 0.0
    center_lon: float = 0.0
    radius_m: float = 0.0
    polygon: list[Any] = Field(default_factory=list, sa_type=sa.JSON)  # [[lat, lon], ...]
    cells_r7: list[Any] = Field(default_factory=list, sa_type=sa.JSON)
    title: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)
    body: dict[str, str] = Field(default_factory=dict, sa_type=sa.JSON)
    starts_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    ends_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    ended_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_by: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class AlertCell(SQLModel, table=True):
    """One res-7 H3 cell an alert's area touches: "which alerts cover this point" is one lookup."""

    __tablename__ = "alert_cells"

    alert_id: str = Field(primary_key=True, max_length=32)
    h3_r7: str = Field(primary_key=True, max_length=16)


class IdempotencyKey(SQLModel, table=True):
    """A create that a client may retry: (scope, kind, key) is unique, so a retry finds the first result.

    `scope` is the caller (account, department system) or, for anonymous callers, their device id;
    `fingerprint` is a hash of the request so the same key with another body can be refused.
    """

    __tablename__ = "idempotency_keys"

    scope: str = Field(primary_key=True, max_length=128)
    kind: str = Field(primary_key=True, max_length=16)  # report | alert
    key: str = Field(primary_key=True, max_length=200)
    fingerprint: str = Field(max_length=64)
    resource_id: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
