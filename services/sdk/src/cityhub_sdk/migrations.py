"""Alembic per service: each service keeps its own migrations/ folder; this runs them.

A service's `migrations/env.py` is two lines (`from cityhub_sdk.migrations import run_env`), so
every service migrates the same way, locally on SQLite and in production on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from cityhub_sdk.db import is_sqlite, normalize_database_url

MIGRATION_LOCK_KEY = 0x43495459  # "CITY": one advisory lock per database, taken while migrating


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", normalize_database_url(database_url).replace("%", "%%"))
    return config


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    """Bring the database to `revision`; safe to run on every start."""
    from cityhub_sdk.db import _prepare_sqlite_file

    url = normalize_database_url(database_url)
    if is_sqlite(url):
        _prepare_sqlite_file(url)
    command.upgrade(alembic_config(migrations_dir, url), revision)


async def upgrade_async(migrations_dir: Path, database_url: str) -> None:
    await asyncio.to_thread(upgrade, migrations_dir, database_url)


def run_env(target_metadata: MetaData | None = None) -> None:
    """Body of every service's migrations/env.py (online mode, async engine)."""
    from alembic import context

    config = context.config

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Replicas starting together: one migrates, the others wait, then find nothing to do.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            context.run_migrations()

    async def run_async() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())
