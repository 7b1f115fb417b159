"""Async database access: SQLite (WAL) by default, PostgreSQL by URL, one database per service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from sqlalchemy import event, text
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


def _on_sqlite_connect(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


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
        return _trace_statements(engine)
    return _trace_statements(create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True))


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
                await session.rollback()
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
