"""Outbox retry schedule: `next_attempt_at` for the relay's back-off after a failed publish.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from cityhub_sdk.tables import upgrade_platform_tables

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    upgrade_platform_tables()


def downgrade() -> None:
    pass  # the column is harmless to older code
