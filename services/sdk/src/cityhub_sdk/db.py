"""Async database access: SQLite (WAL) by default, PostgreSQL by URL, one database per service.

An outage of the database (no connection, a file that is gone or cannot be written) is told apart
from every other error by `is_database_unavailable`: the SDK answers it UNAVAILABLE with a retry hint
and takes the service out of readiness until the database answers again.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def normalize_database_url(url: str) -> str:
    """Accept the plain URLs operators write and pick the async driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _prepare_sqlite_file(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


class DatabaseUnavailable(Exception):
    """The database server could not be reached at all (refused, reset, unresolvable, timed out)."""


# SQLite's words for "the file cannot be used", as opposed to a bad statement or a missing table.
_SQLITE_UNAVAILABLE = ("unable to open database", "readonly database", "disk i/o error")


def is_database_unavailable(error: BaseException) -> bool:
    """True when `error` (or what caused it) means the database cannot be reached or written, not that
    the statement was wrong: such a call may succeed once the database is back."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseUnavailable | exc.DisconnectionError | exc.InterfaceError):
            return True
        if isinstance(current, exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, exc.OperationalError):
            if type(current.orig).__module__.startswith("sqlite3"):
                message = str(current.orig).lower()
                return any(words in message for words in _SQLITE_UNAVAILABLE)
            return True  # asyncpg: connection failures, server shutting down, statement cancelled
        current = current.__cause__ or current.__context__
    return False


def _raise_unreachable(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """Connect as the dialect would; a socket error becomes `DatabaseUnavailable` (SQLAlchemy passes
    driver errors through wrapped, but an OSError from the driver's connect bare, like any other bug)."""
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as error:  # TimeoutError and ConnectionRefusedError included
        raise DatabaseUnavailable(type(error).__name__) from error


def _on_sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    path = _sqlite_path(dbapi_connection)
    if path is not None:
        record.info["sqlite_file"] = (path, _file_identity(path))


def _sqlite_path(dbapi_connection: Any) -> str | None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA database_list")
    rows = cursor.fetchall()
    cursor.close()
    path = next((str(row[2]) for row in rows if row[1] == "main"), "")
    return path or None  # "" for an in-memory database


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def _on_sqlite_checkout(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A pooled SQLite connection keeps writing to the file it opened, even when that file was moved
    or deleted (a volume gone, a restore): such writes would be lost. One stat per checkout notices it;
    the pool then opens the file afresh, which fails while it is gone (`unable to open database file`)."""
    known = record.info.get("sqlite_file")
    if known is not None and _file_identity(known[0]) != known[1]:
        raise exc.DisconnectionError("the SQLite database file moved or disappeared")


def _trace_statements(engine: AsyncEngine) -> AsyncEngine:
    """A span per statement (SQL text with placeholders, never the bound values), in the caller's trace.

    The instrumentor's global `instrument()` patches one engine per process; every service and test
    creates its own, so each engine gets its own tracer hook. The tracer is a proxy: spans go to
    whatever provider telemetry configures, before or after the engine exists.
    """
    connections = metrics.get_meter("cityhub_sdk.db").create_up_down_counter(
        "db.client.connections.usage", unit="connections", description="Connections by state"
    )
    EngineTracer(trace.get_tracer("cityhub_sdk.db"), engine.sync_engine, connections)  # type: ignore[no-untyped-call]
    return engine


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    url = normalize_database_url(url)
    if is_sqlite(url):
        _prepare_sqlite_file(url)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
        event.listen(engine.sync_engine, "checkout", _on_sqlite_checkout)
        return _trace_statements(engine)
    # A connection attempt gives up after 5 s (asyncpg's default is 60): a call fails within the
    # caller's deadline instead of outliving it.
    engine = create_async_engine(
        url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True, connect_args={"timeout": 5}
    )
    event.listen(engine.sync_engine, "do_connect", _raise_unreachable)
    return _trace_statements(engine)


class Database:
    """Owns the engine and hands out sessions; a unit of work commits or rolls back as a whole."""

    def __init__(self, url: str) -> None:
        self.url = normalize_database_url(url)
        self.engine = create_engine(self.url)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._after_commit: list[Callable[[], None]] = []

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` after every successful transaction (the outbox relay's wake-up call)."""
        self._after_commit.append(callback)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A read session; nothing it does is committed."""
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: everything in it, outbox rows included, commits together or not at all."""
        async with self._sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()  # on a lost connection SQLAlchemy only discards it: the server rolls back
                raise
        for callback in self._after_commit:
            callback()

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - readiness reports any failure as not ready
            return False

    async def dispose(self) -> None:
        await self.engine.dispose()
