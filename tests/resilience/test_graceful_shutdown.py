"""SIGTERM under load (issue 17): a real catalog process, then a real gateway process, stopped while
clients keep sending requests.

To have calls truly in flight when the signal lands, the test holds what they wait on: the catalog's
database (a PostgreSQL connection relayed through a forwarder the test pauses, or the SQLite write
lock taken by another connection), or the catalog behind the gateway (a paused forwarder). It sends
SIGTERM while they hang, then lets go. Every call sent before the signal completes; the calls after
it are refused cleanly (gRPC UNAVAILABLE, or a connection the gateway no longer accepts), never
answered with an error half-way; and every change that was committed is on the bus before the
process has exited.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import nats
import pytest
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc, events_pb2
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub_catalog.app import DEFINITION as CATALOG
from cityhub_catalog.seed import seed_catalog
from cityhub_identity.app import DEFINITION as IDENTITY
from cityhub_sdk.auth import internal_metadata
from cityhub_sdk.db import Database
from cityhub_sdk.migrations import upgrade_async
from cityhub_sdk.subjects import CATALOG_SERVICE_UPDATED
from cityhub_sdk.testing import (
    FAST_AUTH_ENV,
    IDENTITY_TEST_ENV,
    TEST_INTERNAL_TOKEN,
    TEST_PASSWORD,
    eventually,
    free_port,
    start_service,
)
from cityhub_sdk.testing.plugin import DatabaseFactory
from cityhub_sdk.testing.relay import TcpRelay
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.engine import make_url

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]  # start-up of two processes on a busy machine
SLUGS = ("pothole", "streetlight-out", "sidewalk-damage", "graffiti")  # one per client: no lock between them
HOLD_S = 1.0  # how long the test lets calls pile up before SIGTERM (generous: they only need to arrive)


@dataclass
class Call:
    started: float
    outcome: str = ""  # "OK", a gRPC code name, an HTTP status, or the client error's class
    version: str = ""  # the service's new version, for a committed edit
    finished: float = 0.0


@dataclass
class Load:
    """Clients sending one call after another until stopped; every call is recorded."""

    calls: list[Call] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, clients: int, send: Callable[[int, Call], Awaitable[None]]) -> None:
        async def client(index: int) -> None:
            while not self.stopping.is_set():
                call = Call(started=time.monotonic())
                self.calls.append(call)
                await send(index, call)
                call.finished = time.monotonic()
                if not call.outcome.isdigit() and call.outcome != "OK":
                    await asyncio.sleep(0.05)  # refused: a client backs off a little

        self.tasks = [asyncio.create_task(client(index)) for index in range(clients)]

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.gather(*self.tasks)


async def _spawn(module: str, env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, env={**os.environ, **env}, stdout=out, stderr=out
        )


async def _exit_code(process: asyncio.subprocess.Process, log: Path) -> int:
    try:
        return await asyncio.wait_for(process.wait(), 60)
    except TimeoutError:
        process.kill()
        raise AssertionError(f"still running a minute after SIGTERM:\n{log.read_text()[-3000:]}") from None  # noqa: ASYNC240


async def _serving(address: str) -> bool:
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.aio.AioRpcError:
        return False


async def _published_versions(nats_url: str) -> set[str]:
    """Versions in the `service.updated` events of the edited services on the CATALOG stream."""
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        info = await js.stream_info("CATALOG")
        versions = set()
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                message = await js.get_msg("CATALOG", seq)
                if message.subject == CATALOG_SERVICE_UPDATED:
                    event = events_pb2.ServiceUpdated.FromString(message.data or b"")
                    if event.slug in SLUGS:
                        versions.add(event.version)
        return versions
    finally:
        await connection.close()


class DatabaseHold:
    """Makes the catalog's database calls wait: a paused forwarder (PostgreSQL) or the SQLite write lock."""

    def __init__(self, url: str) -> None:
        self.direct_url = url
        self.url = url
        self.forwarder: TcpRelay | None = None
        self.lock: sqlite3.Connection | None = None

    async def __aenter__(self) -> DatabaseHold:
        parsed = make_url(self.direct_url)
        if parsed.get_backend_name() != "sqlite":
            self.forwarder = TcpRelay(parsed.host or "127.0.0.1", parsed.port or 5432)
            await self.forwarder.start()
            self.url = parsed.set(port=self.forwarder.port, host="127.0.0.1").render_as_string(hide_password=False)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.release()
        if self.forwarder is not None:
            await self.forwarder.close()

    def hold(self) -> None:
        if self.forwarder is not None:
            self.forwarder.pause()
            return
        self.lock = sqlite3.connect(make_url(self.direct_url).database or "", isolation_level=None)
        self.lock.execute("BEGIN IMMEDIATE")  # writers wait (busy_timeout) until it ends

    def release(self) -> None:
        if self.forwarder is not None:
            self.forwarder.resume()
        if self.lock is not None:
            self.lock.execute("ROLLBACK")
            self.lock.close()
            self.lock = None


@pytest.fixture
async def identity(database_factory: DatabaseFactory, clean_nats: str, tmp_path: Path) -> AsyncIterator[Any]:
    async with start_service(
        IDENTITY,
        database_factory,
        clean_nats,
        IDENTITY_SIGNING_KEYS_DIR=str(tmp_path / "keys"),
        **IDENTITY_TEST_ENV,
        **FAST_AUTH_ENV,
    ) as service:
        yield service


async def _operator_token(identity_address: str) -> str:
    email = f"op-{uuid.uuid4().hex[:8]}@lakeview.example"
    async with grpc.aio.insecure_channel(identity_address) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        await stub.CreateAccount(
            identity_pb2.CreateAccountRequest(email=email, password=TEST_PASSWORD, role=identity_pb2.ROLE_OPERATOR),
            metadata=internal_metadata(TEST_INTERNAL_TOKEN),
        )
        response = await stub.CreateToken(identity_pb2.CreateTokenRequest(email=email, password=TEST_PASSWORD))
    return str(response.tokens.access_token)


async def test_a_service_stopped_under_load_finishes_its_calls_and_publishes_every_change(
    database_factory: DatabaseFactory, clean_nats: str, identity: Any, tmp_path: Path
) -> None:
    direct = database_factory.new("catalog")
    await upgrade_async(CATALOG.migrations, direct)
    seeded = Database(direct)
    await seed_catalog(seeded)
    await seeded.dispose()
    token = await _operator_token(identity.address)
    port = free_port()
    address = f"127.0.0.1:{port}"
    log = tmp_path / "catalog.log"
    async with DatabaseHold(direct) as database:
        process = await _spawn(
            "cityhub_catalog",
            {
                "DATABASE_URL": database.url,
                "NATS_URL": clean_nats,
                "GRPC_HOST": "127.0.0.1",
                "GRPC_PORT": str(port),
                "IDENTITY_ADDR": identity.address,
                "INTERNAL_API_TOKEN": TEST_INTERNAL_TOKEN,
                "LOG_JSON": "false",
            },
            log,
        )
        try:
            await eventually(lambda: _serving(address), 180)
            channel = grpc.aio.insecure_channel(address)
            stub = catalog_pb2_grpc.CatalogServiceStub(channel)

            async def edit(index: int, call: Call) -> None:
                request = catalog_pb2.UpdateServiceRequest(slug=SLUGS[index], name={"en": f"Edit {uuid.uuid4().hex}"})
                try:
                    response = await stub.UpdateService(
                        request, metadata=(("authorization", f"Bearer {token}"),), timeout=30
                    )
                    call.outcome, call.version = "OK", response.service.version
                except grpc.aio.AioRpcError as exc:
                    call.outcome = exc.code().name

            seeded_versions = {
                (await stub.GetService(catalog_pb2.GetServiceRequest(slug=slug), timeout=30)).service.version
                for slug in SLUGS
            }  # the seed's own events may carry these
            load = Load()
            load.start(len(SLUGS), edit)
            await eventually(lambda: sum(c.outcome == "OK" for c in load.calls) >= 20, 120)
            database.hold()
            await asyncio.sleep(HOLD_S)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(HOLD_S)
            database.release()
            code = await _exit_code(process, log)
            await asyncio.sleep(0.3)  # the stream of calls goes on against a stopped service
            await load.stop()
            await channel.close()
        finally:
            if process.returncode is None:
                process.kill()
    assert code == 0, log.read_text()[-3000:]
    before = [c for c in load.calls if c.started < signalled]
    assert [c for c in before if c.finished > signalled], "no call was in flight when SIGTERM came"
    assert {c.outcome for c in before} == {"OK"}, [c.outcome for c in before if c.outcome != "OK"]
    assert {c.outcome for c in load.calls} <= {"OK", "UNAVAILABLE"}, {c.outcome for c in load.calls}
    committed = {c.version for c in load.calls if c.outcome == "OK"}
    # published before exit: read right after the process ended, nothing restarted
    assert await _published_versions(clean_nats) - seeded_versions == committed


async def test_the_gateway_stopped_under_load_finishes_its_requests(
    database_factory: DatabaseFactory, clean_nats: str, tmp_path: Path
) -> None:
    async with start_service(CATALOG, database_factory, clean_nats, seed=lambda s: seed_catalog(s.db)) as catalog:
        host, catalog_port = catalog.address.rsplit(":", 1)
        forwarder = TcpRelay(host, int(catalog_port))
        await forwarder.start()
        port = free_port()
        log = tmp_path / "gateway.log"
        unused = f"127.0.0.1:{free_port()}"
        process = await _spawn(
            "cityhub_gateway",
            {
                "HTTP_HOST": "127.0.0.1",
                "HTTP_PORT": str(port),
                "CATALOG_ADDR": f"127.0.0.1:{forwarder.port}",
                "IDENTITY_ADDR": unused,
                "INCIDENTS_ADDR": unused,
                "CATALOG_CACHE_TTL_S": "0",  # every request reaches the catalog
                "CATALOG_CACHE_FALLBACK_TTL_S": "0",
                "LOG_JSON": "false",
            },
            log,
        )
        # A connection per request: a request is either accepted by the gateway or refused at
        # connect, never sent down a kept-alive connection the gateway is closing.
        api = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=httpx.Limits(max_keepalive_connections=0), timeout=30
        )
        try:

            async def up() -> bool:
                with contextlib.suppress(httpx.HTTPError):
                    return (await api.get("/health/live")).status_code == 200
                return False

            await eventually(up, 180)

            async def read(index: int, call: Call) -> None:
                try:
                    response = await api.get(f"/v1/services/{SLUGS[index]}")
                    call.outcome = "OK" if response.status_code == 200 else str(response.status_code)
                except httpx.HTTPError as exc:
                    call.outcome = type(exc).__name__

            load = Load()
            load.start(len(SLUGS), read)
            await eventually(lambda: sum(c.outcome == "OK" for c in load.calls) >= 20, 120)
            forwarder.pause()
            await asyncio.sleep(HOLD_S)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(HOLD_S)
            forwarder.resume()
            code = await _exit_code(process, log)
            await asyncio.sleep(0.3)
            await load.stop()
        finally:
            if process.returncode is None:
                process.kill()
            await api.aclose()
            await forwarder.close()
    assert code == 0, log.read_text()[-3000:]
    before = [c for c in load.calls if c.started < signalled]
    assert [c for c in before if c.finished > signalled], "no request was in flight when SIGTERM came"
    assert {c.outcome for c in before} == {"OK"}, [c.outcome for c in before if c.outcome != "OK"]
    # after the signal: answered, or refused at connect; nothing accepted and then dropped
    assert {c.outcome for c in load.calls} <= {"OK", "ConnectError"}, {c.outcome for c in load.calls}
