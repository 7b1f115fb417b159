"""Initial waittimes schema: platform tables, the queue event log, checkpoints, hourly history,
check-ins.

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cityhub_sdk.tables import create_platform_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    create_platform_tables()
    op.create_table(
        "queue_events",
        sa.Column("center_id", sa.String(64), primary_key=True),
        sa.Column("event_id", sa.String(100), primary_key=True),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False, server_default=""),
        sa.Column("counter", sa.String(64), nullable=False, server_default=""),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
    )
    # The fold reads one queue's events after its checkpoint, in (time, id) order, from this index.
    op.create_index("ix_queue_events_order", "queue_events", ["center_id", "queue", "occurred_at", "event_id"])
    op.create_index("ix_queue_events_received_at", "queue_events", ["received_at"])
    op.create_table(
        "queue_states",
        sa.Column("center_id", sa.String(64), primary_key=True),
        sa.Column("queue", sa.String(64), primary_key=True),
        sa.Column("checkpoint", sa.JSON(), nullable=False),
        sa.Column("watermark_at", TS, nullable=True),
        sa.Column("watermark_id", sa.String(), nullable=False, server_default=""),
        sa.Column("latest_at", TS, nullable=True),
        sa.Column("published", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "queue_hours",
        sa.Column("center_id", sa.String(64), primary_key=True),
        sa.Column("queue", sa.String(64), primary_key=True),
        sa.Column("hour_start", TS, primary_key=True),
        sa.Column("arrivals", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("waits", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("wait_sum_s", sa.Float(), nullable=False, server_default="0"),
    )
    op.create_table(
        "check_ins",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("center_id", sa.String(64), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),
        sa.Column("ticket", sa.String(64), nullable=False),
        sa.Column("appointment", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("people_ahead", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reminded", sa.Boolean(), nullable=False),
        sa.Column("counter", sa.String(), nullable=False, server_default=""),
        sa.Column("estimate", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("called_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
    )
    op.create_index("ix_check_ins_account_id", "check_ins", ["account_id"])
    op.create_index("ix_check_ins_queue_status", "check_ins", ["center_id", "queue", "status"])


def downgrade() -> None:
    for table in ("check_ins", "queue_hours", "queue_states", "queue_events"):
        op.drop_table(table)
