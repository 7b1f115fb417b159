"""Initial incidents schema: platform tables, reports (public + private parts), follows,
history, alerts and their H3 cells.

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

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    create_platform_tables()
    op.create_table(
        "reports",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("service_code", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("h3_r9", sa.String(16), nullable=False),
        sa.Column("h3_r8", sa.String(16), nullable=False),
        sa.Column("address", sa.String(), nullable=False, server_default=""),
        sa.Column("zipcode", sa.String(), nullable=False, server_default=""),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("photo_key", sa.String(), nullable=True),
        sa.Column("photo_content_type", sa.String(), nullable=True),
        sa.Column("parent_id", sa.String(32), nullable=True),
        sa.Column("follower_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("status_notes", sa.Text(), nullable=False, server_default=""),
        sa.Column("expected_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    # Covering indexes for proximity: the cell IN list and the status filter are index conditions,
    # lat/lon/category/id are read from the index itself (no table look-up per candidate).
    op.create_index("ix_reports_near_r9", "reports", ["h3_r9", "status", "lat", "lon", "category", "id"])
    op.create_index("ix_reports_near_r8", "reports", ["h3_r8", "status", "lat", "lon", "category", "id"])
    op.create_index("ix_reports_created_at", "reports", ["created_at"])
    op.create_index("ix_reports_department", "reports", ["department", "status", "created_at"])
    op.create_index("ix_reports_parent_id", "reports", ["parent_id"])
    op.create_table(
        "report_reporters",
        sa.Column("report_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("name", sa.String(), nullable=False, server_default=""),
        sa.Column("email", sa.String(), nullable=False, server_default=""),
        sa.Column("phone", sa.String(), nullable=False, server_default=""),
        sa.Column("device_id", sa.String(), nullable=False, server_default=""),
    )
    op.create_index("ix_report_reporters_account_id", "report_reporters", ["account_id"])
    op.create_table(
        "report_follows",
        sa.Column("report_id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_report_follows_account_id", "report_follows", ["account_id"])
    op.create_table(
        "report_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("report_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("old_status", sa.String(16), nullable=False, server_default=""),
        sa.Column("new_status", sa.String(16), nullable=False, server_default=""),
        sa.Column("public_note", sa.Text(), nullable=False, server_default=""),
        sa.Column("internal_note", sa.Text(), nullable=False, server_default=""),
        sa.Column("actor_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("expected_at", TS, nullable=True),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_report_history_report_id", "report_history", ["report_id", "id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("center_lat", sa.Float(), nullable=False),
        sa.Column("center_lon", sa.Float(), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("polygon", sa.JSON(), nullable=False),
        sa.Column("cells_r7", sa.JSON(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_alerts_ends_at", "alerts", ["ends_at"])
    op.create_table(
        "alert_cells",
        sa.Column("alert_id", sa.String(32), primary_key=True),
        sa.Column("h3_r7", sa.String(16), primary_key=True),
    )
    op.create_index("ix_alert_cells_h3_r7", "alert_cells", ["h3_r7"])


def downgrade() -> None:
    for table in ("alert_cells", "alerts", "report_history", "report_follows", "report_reporters", "reports"):
        op.drop_table(table)
