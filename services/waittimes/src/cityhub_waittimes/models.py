"""Waittimes tables.

`queue_events` is the log (primary key: centre + kiosk event id, so a repeated event is a no-op);
`queue_states` holds each queue's checkpoint (the fold up to the reorder window) and the last
published figures; `queue_hours` the hourly history behind busy hours; `check_ins` the virtual
tickets of signed-in residents (the only table with an account id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cityhub_sdk.tables import utcnow
from sqlmodel import Field, SQLModel

TS = sa.DateTime(timezone=True)


class QueueEventRow(SQLModel, table=True):
    __tablename__ = "queue_events"

    center_id: str = Field(primary_key=True, max_length=64)
    event_id: str = Field(primary_key=True, max_length=100)
    queue: str = Field(max_length=64)
    kind: int
    ticket: str = Field(default="", max_length=64)
    counter: str = Field(default="", max_length=64)
    occurred_at: datetime = Field(sa_type=TS)
    received_at: datetime = Field(default_factory=utcnow, sa_type=TS)


class QueueStateRow(SQLModel, table=True):
    __tablename__ = "queue_states"

    center_id: str = Field(primary_key=True, max_length=64)
    queue: str = Field(primary_key=True, max_length=64)
    checkpoint: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    watermark_at: datetime | None = Field(default=None, sa_type=TS)
    watermark_id: str = ""
    latest_at: datetime | None = Field(default=None, sa_type=TS)
    published: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)  # the QueueState last published
    version: int = 0


class QueueHourRow(SQLModel, table=True):
    __tablename__ = "queue_hours"

    center_id: str = Field(primary_key=True, max_length=64)
    queue: str = Field(primary_key=True, max_length=64)
    hour_start: datetime = Field(primary_key=True, sa_type=TS)
    arrivals: int = 0
    waits: int = 0
    wait_sum_s: float = 0.0


class CheckInRow(SQLModel, table=True):
    __tablename__ = "check_ins"

    id: str = Field(primary_key=True, max_length=32)
    account_id: str = Field(max_length=64, index=True)
    center_id: str = Field(max_length=64)
    queue: str = Field(max_length=64)
    ticket: str = Field(max_length=64)
    appointment: bool = False
    status: str = Field(default="waiting", max_length=16)  # waiting | called | served | no_show | cancelled
    people_ahead: int = 0
    reminded: bool = False
    counter: str = ""
    estimate: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)  # for this ticket's position
    idempotency_key: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TS)
    called_at: datetime | None = Field(default=None, sa_type=TS)
    ended_at: datetime | None = Field(default=None, sa_type=TS)


ACTIVE_CHECK_IN = ("waiting", "called")
