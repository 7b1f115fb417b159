"""Initial notifications schema: platform tables, subscriptions, inbox, deliveries, devices, preferences, templates.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cityhub_sdk.tables import create_platform_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    create_platform_tables()
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("place_id", sa.String(64), nullable=True),
        sa.Column("radius_m", sa.Integer(), nullable=True),
        sa.Column("topic_type", sa.String(32), nullable=True),
        sa.Column("topic_value", sa.String(128), nullable=True),
        sa.Column("report_id", sa.String(64), nullable=True),
        sa.Column("cell_count", sa.Integer(), nullable=False, server_default="0"),
        _ts("created_at"),
        sa.UniqueConstraint("account_id", "key", name="uq_subscriptions_account_key"),
    )
    op.create_index("ix_subscriptions_account_id", "subscriptions", ["account_id"])
    op.create_index("ix_subscriptions_topic", "subscriptions", ["topic_type", "topic_value"])
    op.create_index("ix_subscriptions_report_id", "subscriptions", ["report_id"])
    op.create_table(
        "area_cells",
        sa.Column("subscription_id", sa.String(32), primary_key=True),
        sa.Column("cell", sa.BigInteger(), primary_key=True),
        sa.Column("cell_r7", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_area_cells_cell", "area_cells", ["cell", "account_id"])
    op.create_index("ix_area_cells_cell_r7", "area_cells", ["cell_r7", "account_id"])
    op.create_index("ix_area_cells_account_id", "area_cells", ["account_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("source_event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("ref", sa.String(100), nullable=False),
        sa.Column("urgency", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(16), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        _ts("event_time"),
        _ts("created_at"),
        _ts("read_at", nullable=True),
        sa.UniqueConstraint("account_id", "source_event_id", name="uq_notifications_account_event"),
    )
    op.create_index("ix_notifications_account_created", "notifications", ["account_id", "created_at"])
    op.create_index("ix_notifications_ref", "notifications", ["ref"])
    op.create_index("ix_notifications_source_event_id", "notifications", ["source_event_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("notification_id", sa.String(32), nullable=False, unique=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("urgency", sa.Integer(), nullable=False),
        sa.Column("chain", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _ts("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("event_time"),
        _ts("handed_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_account_id", "deliveries", ["account_id", "handed_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("started_at"),
        _ts("finished_at"),
    )
    op.create_index("ix_delivery_attempts_delivery_id", "delivery_attempts", ["delivery_id"])
    op.create_index("ix_delivery_attempts_account_id", "delivery_attempts", ["account_id"])
    op.create_table(
        "devices",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.String(2000), nullable=False),
        sa.Column("p256dh", sa.String(200), nullable=False),
        sa.Column("auth", sa.String(100), nullable=False),
        sa.Column("label", sa.String(100), nullable=False, server_default=""),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        _ts("created_at"),
        _ts("last_success_at", nullable=True),
        sa.UniqueConstraint("account_id", "endpoint", name="uq_devices_account_endpoint"),
    )
    op.create_index("ix_devices_account_id", "devices", ["account_id"])
    op.create_table(
        "preferences",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("channels", sa.Text(), nullable=False),
        sa.Column("quiet_start", sa.String(5), nullable=False, server_default=""),
        sa.Column("quiet_end", sa.String(5), nullable=False, server_default=""),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("max_per_hour", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        "templates",
        sa.Column("event_type", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("lang", sa.String(16), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "vapid_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        _ts("created_at"),
    )


def downgrade() -> None:
    for table in (
        "vapid_keys",
        "templates",
        "preferences",
        "devices",
        "delivery_attempts",
        "deliveries",
        "notifications",
        "area_cells",
        "subscriptions",
    ):
        op.drop_table(table)
