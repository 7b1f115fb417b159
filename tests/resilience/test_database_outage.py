"""A service's database goes away and comes back (issue 17, "database unavailable").

Real parts: identity on real gRPC with its own database, the gateway app over an ASGI transport.
PostgreSQL (CITYHUB_TEST_DATABASE_URL / a container) is reached through a TCP forwarder that the test
cuts and restores; a SQLite file is made unreachable by moving its directory away, as when a volume
goes. Meanwhile a write and a read answer 503 problem+json with Retry-After (gRPC UNAVAILABLE, not
INTERNAL), identity's readiness is NOT_SERVING while its liveness stays SERVING, the gateway's status
page shows it, and nothing of the refused calls is written; then it all recovers by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import grpc
import httpx
import pytest
from cityhub_gateway.app import create_app
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.config import GatewaySettings
from cityhub_identity.app import DEFINITION as IDENTITY
from cityhub_sdk.app import RunningService
from cityhub_sdk.db import Database, is_database_unavailable
from cityhub_sdk.errors import DATABASE_RETRY_AFTER_S
from cityhub_sdk.grpc_server import LIVENESS_SERVICE
from cityhub_sdk.testing import (
    FAST_AUTH_ENV,
    IDENTITY_TEST_ENV,
    TEST_PASSWORD,
    eventually,
    free_port,
    start_service,
)
from cityhub_sdk.testing.plugin import DatabaseFactory
from cityhub_sdk.testing.relay import TcpRelay
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import text
from sqlalchemy.engine import make_url


class Outage(Protocol):
    url: str  # what the service connects to
    direct_url: str  # what the test checks the data through

    async def cut(self) -> None: ...
    async def restore(self) -> None: ...


@dataclass
class PostgresOutage:
    forwarder: TcpRelay
    url: str
    direct_url: str

    async def cut(self) -> None:
        await self.forwarder.cut()

    async def restore(self) -> None:
        await self.forwarder.restore()


@dataclass
class SqliteOutage:
    folder: Path
    url: str
    direct_url: str

    async def cut(self) -> None:
        self.folder.rename(self.folder.with_name(self.folder.name + "-gone"))

    async def restore(self) -> None:
        self.folder.with_name(self.folder.name + "-gone").rename(self.folder)


@pytest.fixture
async def outage(database_factory: DatabaseFactory, tmp_path: Path) -> AsyncIterator[Outage]:
    """How this run's database is cut: a forwarder for PostgreSQL, a moved folder for SQLite."""
    if database_factory.postgres is None:
        folder = tmp_path / "volume"
        folder.mkdir()
        url = f"sqlite+aiosqlite:///{folder / 'identity.db'}"
        yield SqliteOutage(folder, url, url)
        return
    direct = database_factory.new("identity")
    parsed = make_url(direct)
    forwarder = TcpRelay(parsed.host or "127.0.0.1", parsed.port or 5432)
    await forwarder.start()
    via = parsed.set(host="127.0.0.1", port=forwarder.port).render_as_string(hide_password=False)
    try:
        yield PostgresOutage(forwarder, via, direct)
    finally:
        await forwarder.cut()


async def _health(address: str, service: str) -> str:
    async with grpc.aio.insecure_channel(address) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


async def _accounts(direct_url: str, email: str) -> int:
    db = Database(direct_url)
    try:
        async with db.engine.connect() as connection:
            found = await connection.execute(text("SELECT count(*) FROM accounts WHERE email = :e"), {"e": email})
            return int(found.scalar_one())
    finally:
        await db.dispose()


@contextlib.asynccontextmanager
async def _gateway(identity: RunningService[Any]) -> AsyncIterator[httpx.AsyncClient]:
    """The real gateway app in front of identity, over an ASGI transport."""
    unused = f"127.0.0.1:{free_port()}"  # peers this test does not need: their routes are not called
    settings = GatewaySettings(
        CATALOG_ADDR=unused,
        IDENTITY_ADDR=identity.address,
        INCIDENTS_ADDR=unused,
        INTERNAL_API_TOKEN=FAST_AUTH_ENV["INTERNAL_API_TOKEN"],
        LOG_JSON=False,
    )
    clients = ServiceClients.connect(settings)
    app: Any = create_app(settings, clients)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as api:
            yield api
    finally:
        await clients.close()


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "/problems/service-unavailable"
    assert response.headers["retry-after"] == str(DATABASE_RETRY_AFTER_S)  # the service's hint, not the default


async def test_a_database_outage_answers_503_leaves_readiness_and_recovers(
    outage: Outage, nats_url: str, tmp_path: Path
) -> None:
    async with (
        start_service(
            IDENTITY,
            outage.url,
            nats_url,
            IDENTITY_SIGNING_KEYS_DIR=str(tmp_path / "keys"),
            **IDENTITY_TEST_ENV,
            **FAST_AUTH_ENV,
        ) as identity,
        _gateway(identity) as api,
    ):
        before = f"before-{uuid.uuid4().hex[:8]}@example.org"
        during = f"during-{uuid.uuid4().hex[:8]}@example.org"
        registered = await api.post("/v1/auth/register", json={"email": before, "password": TEST_PASSWORD})
        assert registered.status_code == 202, registered.text
        assert await _health(identity.address, "") == "SERVING"

        await outage.cut()
        try:
            # a write and a read, each within the gateway's own deadline (never a hang)
            write = await asyncio.wait_for(
                api.post("/v1/auth/register", json={"email": during, "password": TEST_PASSWORD}), 30
            )
            _assert_unavailable(write)
            read = await asyncio.wait_for(
                api.post("/v1/auth/token", json={"email": before, "password": TEST_PASSWORD}), 30
            )
            _assert_unavailable(read)
            # at once, not at the next probe: the failed call itself took the service out
            assert await _health(identity.address, "") == "NOT_SERVING"
            assert await _health(identity.address, identity.parts.service_names[0]) == "NOT_SERVING"  # type: ignore[union-attr]
            assert await _health(identity.address, LIVENESS_SERVICE) == "SERVING"
            status = await api.get("/health")
            assert status.status_code == 503 and status.json()["services"]["identity"] == "NOT_SERVING"
            await asyncio.sleep(identity.server.readiness_interval_s * 1.5)  # type: ignore[union-attr]
            # the background probe does not bring it back while the database is away
            assert await _health(identity.address, "") == "NOT_SERVING"
            # the gateway itself keeps taking traffic: only this backend's routes answer 503
            assert (await api.get("/health/ready")).status_code == 200
        finally:
            await outage.restore()

        async def ready() -> bool:
            return await _health(identity.address, "") == "SERVING"

        await eventually(ready, 30)
        assert (await api.get("/health")).json()["services"]["identity"] == "SERVING"
        assert await _accounts(outage.direct_url, during) == 0  # nothing of the refused write
        again = await api.post("/v1/auth/register", json={"email": during, "password": TEST_PASSWORD})
        assert again.status_code == 202, again.text
        token = await api.post("/v1/auth/token", json={"email": during, "password": TEST_PASSWORD})
        assert token.status_code == 200, token.text
        assert await _accounts(outage.direct_url, during) == 1


async def test_a_transaction_cut_midway_leaves_nothing_behind(outage: Outage) -> None:
    """PostgreSQL: the connection drops between two statements of one unit of work; the error is a
    database outage (not masked by the failed rollback) and neither statement is kept."""
    if isinstance(outage, SqliteOutage):
        pytest.skip("an open SQLite connection keeps its file: a cut inside a transaction needs a server")
    db = Database(outage.url)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE outage_probe (id text primary key)"))
        marker = uuid.uuid4().hex
        with pytest.raises(Exception) as raised:  # any class, as long as it reads as an outage
            async with db.transaction() as session:
                await session.execute(text("INSERT INTO outage_probe VALUES (:id)"), {"id": marker})
                await outage.cut()
                await session.execute(text("INSERT INTO outage_probe VALUES (:id)"), {"id": marker + "-2"})
        assert is_database_unavailable(raised.value), repr(raised.value)
        assert not await db.ping()
    finally:
        await outage.restore()
    await eventually(db.ping, 30)
    async with db.engine.connect() as connection:
        kept = await connection.execute(text("SELECT count(*) FROM outage_probe"))
        assert kept.scalar_one() == 0
    await db.dispose()
