"""The platform tables every service owns a copy of: outbox, processed events (inbox), dead letters.

They live in each service's own database so that an event is recorded in the same transaction as
the state change (outbox) or the side effect (inbox) it belongs to.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_events"

    id: str = Field(primary_key=True, max_length=64)  # the CloudEvents id and the Nats-Msg-Id
    subject: str = Field(max_length=255)
    headers: str  # JSON: CloudEvents binary-mode headers plus the stored trace context
    payload: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))
    published_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True), index=True)
    attempts: int = 0
    last_error: str | None = None  # error class and a short message of the last failed publish, never the payload
    next_attempt_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))  # None: due now


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_events"

    consumer: str = Field(primary_key=True, max_length=128)
    event_id: str = Field(primary_key=True, max_length=64)
    processed_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


class DeadLetter(SQLModel, table=True):
    __tablename__ = "dead_letters"

    id: int | None = Field(default=None, primary_key=True)
    consumer: str = Field(max_length=128, index=True)
    event_id: str = Field(max_length=64)
    subject: str = Field(max_length=255)
    headers: str
    payload: bytes = Field(sa_type=sa.LargeBinary)
    error: str
    deliveries: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True))


def create_platform_tables() -> None:
    """Call from a service's first Alembic migration: creates the platform tables in their current shape."""
    from alembic import op

    op.create_table(
        "outbox_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_events_published_at", "outbox_events", ["published_at"])
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(128), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dead_letters_consumer", "dead_letters", ["consumer"])


def upgrade_platform_tables() -> None:
    """Bring platform tables made by an older `create_platform_tables` to the current shape.

    Call from a service's later Alembic revision. Idempotent, because a database created after the
    change already got the current shape from `create_platform_tables` in its first revision.
    """
    from alembic import op

    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("outbox_events")}
    if "next_attempt_at" not in present:  # the relay's retry schedule (back-off after a failed publish)
        op.add_column("outbox_events", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
