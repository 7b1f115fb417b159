"""Catalog content: categories, services, service centres with H3 cells, queues, city,
department registrations and the catalog revision counter.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("slug", sa.String(64), primary_key=True),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "services",
        sa.Column("slug", sa.String(64), primary_key=True),
        sa.Column("service_code", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False, server_default="realtime"),
        sa.Column("takes_reports", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("takes_requests", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("report_radius_m", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("eligibility", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("fees", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("centers", sa.JSON(), nullable=False),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("version", sa.String(64), nullable=False, server_default=""),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_services_service_code", "services", ["service_code"], unique=True)
    op.create_index("ix_services_department", "services", ["department"])
    op.create_index("ix_services_category", "services", ["category"])
    op.create_table(
        "service_centers",
        sa.Column("slug", sa.String(64), primary_key=True),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("h3_cell", sa.String(16), nullable=False),
        sa.Column("h3_cell_coarse", sa.String(16), nullable=False),
        sa.Column("phone", sa.String(), nullable=False, server_default=""),
        sa.Column("hours", sa.JSON(), nullable=False),
    )
    op.create_index("ix_service_centers_h3_cell", "service_centers", ["h3_cell"])
    op.create_index("ix_service_centers_h3_cell_coarse", "service_centers", ["h3_cell_coarse"])
    op.create_table(
        "queues",
        sa.Column("center", sa.String(64), primary_key=True),
        sa.Column("slug", sa.String(64), primary_key=True),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "city",
        sa.Column("slug", sa.String(64), primary_key=True),
        sa.Column("name", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("center_lat", sa.Float(), nullable=False),
        sa.Column("center_lon", sa.Float(), nullable=False),
        sa.Column("boundary", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
    )
    op.create_table(
        "department_registrations",
        sa.Column("slug", sa.String(64), primary_key=True),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("health", sa.String(16), nullable=False, server_default="UNKNOWN"),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_department_registrations_department", "department_registrations", ["department"])
    op.create_table(
        "catalog_revision",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "catalog_revision",
        "department_registrations",
        "city",
        "queues",
        "service_centers",
        "services",
        "categories",
    ):
        op.drop_table(table)
