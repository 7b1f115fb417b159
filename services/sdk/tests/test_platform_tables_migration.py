"""The platform tables' migration helpers on a real database through Alembic, as a service runs them:
a new database gets the current shape at once, an older one is brought to it by a later revision."""

from __future__ import annotations

import textwrap
from pathlib import Path

import sqlalchemy as sa
from cityhub_sdk.db import Database
from cityhub_sdk.migrations import upgrade_async

ENV = "from cityhub_sdk.migrations import run_env\n\nrun_env()\n"

REVISION = """
from alembic import op
import sqlalchemy as sa
from cityhub_sdk.tables import create_platform_tables, upgrade_platform_tables

revision = "{revision}"
down_revision = {down}
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}
"""

# The outbox as the first platform revision created it, before the relay had a retry schedule.
OLD_OUTBOX = """
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
    )
"""


def migrations(folder: Path, first_body: str) -> Path:
    versions = folder / "versions"
    versions.mkdir(parents=True)
    (folder / "env.py").write_text(ENV)
    (versions / "0001_first.py").write_text(REVISION.format(revision="0001", down=None, body=first_body))
    later = textwrap.indent("upgrade_platform_tables()", "    ")
    (versions / "0002_later.py").write_text(REVISION.format(revision="0002", down='"0001"', body=later))
    return folder


async def outbox_columns(database_url: str) -> list[str]:
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            columns = await connection.run_sync(lambda sync: sa.inspect(sync).get_columns("outbox_events"))
    finally:
        await database.dispose()
    return [column["name"] for column in columns]


async def test_an_older_outbox_gets_the_retry_schedule(database_url: str, tmp_path: Path) -> None:
    await upgrade_async(migrations(tmp_path / "migrations", OLD_OUTBOX), database_url)
    assert "next_attempt_at" in await outbox_columns(database_url)


async def test_a_new_database_has_it_from_the_first_revision_and_the_later_one_is_a_no_op(
    database_url: str, tmp_path: Path
) -> None:
    await upgrade_async(migrations(tmp_path / "migrations", "    create_platform_tables()"), database_url)
    assert (await outbox_columns(database_url)).count("next_attempt_at") == 1
