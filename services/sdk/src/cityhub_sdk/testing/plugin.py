"""Pytest fixtures for every CityHub test suite (registered as the `cityhub` pytest plugin)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cityhub_sdk.db import is_sqlite
from cityhub_sdk.telemetry import configure_telemetry
from cityhub_sdk.testing.infra import NatsServerProcess, PostgresDatabases, docker_available


def pytest_report_header() -> list[str]:
    return [
        f"cityhub: database from {'env' if os.environ.get('CITYHUB_TEST_DATABASE_URL') else 'container/sqlite'}, "
        f"nats from {'env' if os.environ.get('CITYHUB_TEST_NATS_URL') else 'container/local nats-server'}"
    ]


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """A JetStream-enabled NATS server for the whole session."""
    from_env = os.environ.get("CITYHUB_TEST_NATS_URL")
    if from_env:
        yield from_env
        return
    if docker_available():
        from testcontainers.community.nats import NatsContainer

        with NatsContainer("nats:2.10", jetstream=True) as container:
            yield container.nats_uri()
        return
    server = NatsServerProcess()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def clean_nats(nats_url: str) -> str:
    """Delete CityHub's streams (and so their consumers) so each test starts from an empty bus."""
    import nats

    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        for stream in await js.streams_info():
            if stream.config.name and stream.config.name.isupper():
                await js.delete_stream(stream.config.name)
    finally:
        await connection.close()
    return nats_url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresDatabases | None]:
    """A PostgreSQL server to create test databases on, or None for SQLite."""
    from_env = os.environ.get("CITYHUB_TEST_DATABASE_URL")
    if from_env:
        yield None if is_sqlite(from_env) else PostgresDatabases(from_env)
        return
    if os.environ.get("CITYHUB_TEST_DATABASE", "").lower() == "sqlite" or not docker_available():
        yield None
        return
    from testcontainers.community.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver="asyncpg") as container:
        yield PostgresDatabases(container.get_connection_url())


class DatabaseFactory:
    """Hands out fresh, empty databases (PostgreSQL databases or SQLite files) and drops them."""

    def __init__(self, postgres: PostgresDatabases | None, folder: Path) -> None:
        self.postgres = postgres
        self.folder = folder
        self.urls: list[str] = []

    def new(self, name: str = "db") -> str:
        if self.postgres is None:
            path = self.folder / f"{name}-{len(self.urls)}.db"
            url = f"sqlite+aiosqlite:///{path}"
        else:
            url = self.postgres.create()
        self.urls.append(url)
        return url

    def drop_all(self) -> None:
        if self.postgres is not None:
            for url in self.urls:
                self.postgres.drop(url)
        self.urls.clear()


@pytest.fixture(scope="session")
def database_factory(
    postgres_server: PostgresDatabases | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseFactory]:
    """Fresh databases on demand, for fixtures that run several services at once."""
    factory = DatabaseFactory(postgres_server, tmp_path_factory.mktemp("databases"))
    yield factory
    factory.drop_all()


@pytest.fixture
def database_url(postgres_server: PostgresDatabases | None, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test."""
    if postgres_server is None:
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    url = postgres_server.create()
    try:
        yield url
    finally:
        postgres_server.drop(url)


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    """Finished spans of every process part running in this test process."""
    exporter = InMemorySpanExporter()
    configure_telemetry("cityhub-tests", extra_processor=SimpleSpanProcessor(exporter))
    return exporter


# Session-wide catalog, identity and people for suites on the session loop (a suite's own fixture of
# the same name wins). Defined in their own module; registered here, where pytest loads the plugin.
from cityhub_sdk.testing.platform import catalog, identity, people  # noqa: E402, F401
