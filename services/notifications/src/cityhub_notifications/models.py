"""Notifications tables.

Area subscriptions keep only the H3 cells covering the circle (never the saved place's
coordinates); the inbox row is unique per (account, source event), which is what makes a
redelivered event harmless; a delivery is one notification's trip down the resident's
fallback chain, and each try of a channel is an attempt row.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from cityhub_sdk.tables import utcnow
from sqlmodel import Field, SQLModel

KIND_AREA = "area"
KIND_TOPIC = "topic"
KIND_REPORT = "report"

URGENCY_NORMAL = 1
URGENCY_URGENT = 2

# The delivery state machine: created -> sending -> delivered | failed_temporary -> sending ... | failed_permanent.
STATUS_CREATED = "created"
STATUS_SENDING = "sending"
STATUS_DELIVERED = "delivered"
STATUS_FAILED_TEMPORARY = "failed_temporary"
STATUS_FAILED_PERMANENT = "failed_permanent"
TRANSITIONS: dict[str, frozenset[str]] = {
    STATUS_CREATED: frozenset({STATUS_SENDING, STATUS_FAILED_PERMANENT}),
    STATUS_SENDING: frozenset({STATUS_DELIVERED, STATUS_FAILED_TEMPORARY, STATUS_FAILED_PERMANENT, STATUS_CREATED}),
    STATUS_FAILED_TEMPORARY: frozenset({STATUS_SENDING, STATUS_FAILED_PERMANENT}),
    STATUS_DELIVERED: frozenset(),
    STATUS_FAILED_PERMANENT: frozenset(),
}


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = (sa.UniqueConstraint("account_id", "key", name="uq_subscriptions_account_key"),)

    id: str = Field(primary_key=True, max_length=32)
    account_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=16)
    key: str = Field(max_length=200)  # what makes a subscription the same one: "area:<place>", "topic:<type>:<value>"
    place_id: str | None = Field(default=None, max_length=64)
    radius_m: int | None = None
    topic_type: str | None = Field(default=None, max_length=32, index=True)
    topic_value: str | None = Field(default=None, max_length=128, index=True)
    report_id: str | None = Field(default=None, max_length=64, index=True)
    cell_count: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class AreaCell(SQLModel, table=True):
    """One res-9 H3 cell of an area subscription, with its res-7 parent for alert fan-out."""

    __tablename__ = "area_cells"

    subscription_id: str = Field(primary_key=True, max_length=32)
    cell: int = Field(primary_key=True, sa_type=sa.BigInteger, index=True)
    cell_r7: int = Field(sa_type=sa.BigInteger, index=True)
    account_id: str = Field(max_length=64)


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "source_event_id", name="uq_notifications_account_event"),
        sa.Index("ix_notifications_account_created", "account_id", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    account_id: str = Field(max_length=64)
    source_event_id: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    ref: str = Field(max_length=100, index=True)  # "report:<id>" / "alert:<id>": what it is about
    urgency: int = URGENCY_NORMAL
    lang: str = Field(max_length=16)
    template_version: int = 1
    title: str
    body: str
    data: str = "{}"  # JSON map of references shown to the app
    event_time: datetime = Field(sa_type=sa.DateTime(timezone=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    read_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class Delivery(SQLModel, table=True):
    """One notification's way down the fallback chain; `channel` is where it currently is."""

    __tablename__ = "deliveries"
    __table_args__ = (sa.Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    notification_id: str = Field(max_length=32, unique=True)
    account_id: str = Field(max_length=64, index=True)
    urgency: int = URGENCY_NORMAL
    chain: str = "[]"  # JSON list of channel names, snapshot of the preference at creation
    position: int = 0
    channel: str = Field(max_length=32)
    status: str = Field(default=STATUS_CREATED, max_length=24)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    last_error: str | None = None
    event_time: datetime = Field(sa_type=sa.DateTime(timezone=True))
    handed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class DeliveryAttempt(SQLModel, table=True):
    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(index=True)
    account_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=32)
    status: str = Field(max_length=24)
    error: str | None = None
    started_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    finished_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Device(SQLModel, table=True):
    __tablename__ = "devices"
    __table_args__ = (sa.UniqueConstraint("account_id", "endpoint", name="uq_devices_account_endpoint"),)

    id: str = Field(primary_key=True, max_length=32)
    account_id: str = Field(max_length=64, index=True)
    platform: str = Field(max_length=16)
    endpoint: str = Field(max_length=2000)
    p256dh: str = Field(max_length=200)
    auth: str = Field(max_length=100)
    label: str = Field(default="", max_length=100)
    active: bool = True
    failures: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    last_success_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class Preferences(SQLModel, table=True):
    __tablename__ = "preferences"

    account_id: str = Field(primary_key=True, max_length=64)
    channels: str = '["push", "email"]'  # JSON fallback chain beyond the inbox
    quiet_start: str = Field(default="", max_length=5)  # "22:00"
    quiet_end: str = Field(default="", max_length=5)
    time_zone: str = Field(default="America/Los_Angeles", max_length=64)
    max_per_hour: int = 10
    language: str = Field(default="en", max_length=16)  # copied from the identity profile
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class Template(SQLModel, table=True):
    __tablename__ = "templates"

    event_type: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    lang: str = Field(primary_key=True, max_length=16)
    title: str
    body: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class VapidKey(SQLModel, table=True):
    """A generated VAPID key pair for local runs (production sets VAPID_PRIVATE_KEY)."""

    __tablename__ = "vapid_keys"

    id: int = Field(default=1, primary_key=True)
    private_key: str  # base64url raw P-256 private scalar
    public_key: str  # base64url uncompressed point
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
