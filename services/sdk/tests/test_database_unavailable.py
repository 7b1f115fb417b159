"""`is_database_unavailable` tells an outage (retry later) from a bug (INTERNAL), on real databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cityhub_sdk.db import Database, is_database_unavailable
from cityhub_sdk.testing import free_port
from sqlalchemy import text


async def _error_of(db: Database, sql: str) -> BaseException:
    with pytest.raises(Exception) as raised:  # any class: what matters is how it is read
        async with db.transaction() as session:
            await session.execute(text(sql))
    return raised.value


async def test_a_statement_error_is_not_an_outage(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'ok.db'}")
    try:
        assert not is_database_unavailable(await _error_of(db, "INSERT INTO missing VALUES (1)"))
        assert not is_database_unavailable(await _error_of(db, "SELEC 1"))
        assert not is_database_unavailable(ValueError("unable to open database"))
    finally:
        await db.dispose()


async def test_a_read_only_sqlite_file_is_an_outage(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE t (x int)")
    db = Database(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        assert is_database_unavailable(await _error_of(db, "INSERT INTO t VALUES (1)"))
    finally:
        await db.dispose()


async def test_a_sqlite_file_that_moved_away_is_an_outage_and_comes_back(tmp_path: Path) -> None:
    folder = tmp_path / "volume"
    db = Database(f"sqlite:///{folder / 'x.db'}")
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE t (x int)"))
        folder.rename(tmp_path / "elsewhere")
        assert is_database_unavailable(await _error_of(db, "INSERT INTO t VALUES (1)"))
        assert not await db.ping()
        (tmp_path / "elsewhere").rename(folder)
        assert await db.ping()
    finally:
        await db.dispose()


async def test_a_postgresql_server_that_refuses_connections_is_an_outage() -> None:
    db = Database(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        assert is_database_unavailable(await _error_of(db, "SELECT 1"))
        assert not await db.ping()
    finally:
        await db.dispose()
