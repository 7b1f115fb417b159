"""The city's contact facts: general and emergency phone, email, website, Open311 jurisdiction id.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("contact_phone", "contact_email", "emergency_phone", "jurisdiction_id", "website")


def upgrade() -> None:
    with op.batch_alter_table("city") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.String(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("city") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
