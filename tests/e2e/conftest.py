"""A platform served over real HTTP for clients that cannot use an ASGI transport (e.g. `requests`).

`serve_platform` starts the given services in-process (real gRPC on free ports, a fresh database
each, the test's NATS), in order, giving each the addresses of those before it (`<NAME>_ADDR`) and
the test internal token; then it serves the gateway with uvicorn on a free loopback port in a
background thread (its own event loop, its own gRPC channels, like `make run`'s gateway).

The services run on the test's event loop, so a test must not block that loop while the gateway
calls them: run synchronous HTTP clients through `await asyncio.to_thread(...)`.

    platform = await serve_platform({"identity": ServiceSpec(IDENTITY), "catalog": ServiceSpec(CATALOG, seed=...)})
    GeoReport(platform.gateway_url + "/open311/v2").get_service_list()  # inside asyncio.to_thread

`start_make_run` / the session fixture `make_run` start the platform the way a newcomer does:
scripts/run.py (what `make run` calls) from a shell environment without any CityHub setting,
given only what the README documents (its ports, on free ones here) and a scratch run directory.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cityhub_gateway.app import create_app
from cityhub_gateway.config import GatewaySettings
from cityhub_sdk.app import RunningService, ServiceDefinition
from cityhub_sdk.testing import FAST_AUTH_ENV, TEST_INTERNAL_TOKEN, free_port, start_service
from cityhub_sdk.testing.plugin import DatabaseFactory

ROOT = Path(__file__).resolve().parents[2]
UNSTARTED_PEER = "127.0.0.1:9"  # the discard port: calls fail fast with UNAVAILABLE


@dataclass(frozen=True)
class ServiceSpec:
    """One service to start: its definition, an optional seed step and extra settings."""

    definition: ServiceDefinition[Any]
    seed: Callable[[RunningService[Any]], Awaitable[Any]] | None = None
    env: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Platform:
    services: Mapping[str, RunningService[Any]]
    gateway_url: str


class GatewayServer:
    """uvicorn serving the gateway app in a thread, started and stopped synchronously."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=settings.http_port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="e2e-gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    def start(self, timeout_s: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the gateway did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


StartPlatform = Callable[..., Awaitable[Platform]]


def required_peers() -> list[str]:
    """Peer names whose `<NAME>_ADDR` the gateway cannot start without."""
    names = []
    for info in GatewaySettings.model_fields.values():
        alias = info.validation_alias
        if isinstance(alias, str) and alias.endswith("_ADDR") and info.is_required():
            names.append(alias.removesuffix("_ADDR").lower())
    return names


def with_required_peers(specs: Mapping[str, ServiceSpec]) -> dict[str, ServiceSpec]:
    """`specs` plus a default spec for every missing required peer; identity goes first."""
    missing = [name for name in required_peers() if name not in specs]
    ordered: dict[str, ServiceSpec] = {}
    for name in ["identity", *specs, *missing]:
        if name in ordered or (name not in specs and name not in missing):
            continue
        if name in specs:
            ordered[name] = specs[name]
        else:
            module = importlib.import_module(f"cityhub_{name}.app")
            ordered[name] = ServiceSpec(module.DEFINITION)
    return ordered


@pytest.fixture
async def serve_platform(database_factory: DatabaseFactory, clean_nats: str) -> AsyncIterator[StartPlatform]:
    """`await serve_platform({name: ServiceSpec, ...}, **gateway_env)` -> Platform; all stopped afterwards."""
    stack = AsyncExitStack()
    gateways: list[GatewayServer] = []

    async def start(specs: Mapping[str, ServiceSpec], **gateway_env: Any) -> Platform:
        addresses: dict[str, str] = {}
        services: dict[str, RunningService[Any]] = {}
        for name, spec in with_required_peers(specs).items():
            peers = {f"{peer.upper()}_ADDR": address for peer, address in addresses.items()}
            service = await stack.enter_async_context(
                start_service(
                    spec.definition,
                    database_factory,
                    clean_nats,
                    name=name,
                    seed=spec.seed,
                    **FAST_AUTH_ENV,
                    **peers,
                    **spec.env,
                )
            )
            services[name] = service
            addresses[name] = service.address
        values: dict[str, Any] = {
            **{f"{name.upper()}_ADDR": address for name, address in addresses.items()},
            "INTERNAL_API_TOKEN": TEST_INTERNAL_TOKEN,
            "HTTP_PORT": free_port(),
            "LOG_JSON": False,
            **gateway_env,
        }
        # Peers the test did not start get an address nobody listens on: their routes answer 503.
        for peer in (name for name in GatewaySettings.model_fields if name.endswith("_addr")):
            values.setdefault(peer.upper(), UNSTARTED_PEER)
        gateway = GatewayServer(GatewaySettings(**values))
        await asyncio.to_thread(gateway.start)
        gateways.append(gateway)
        return Platform(services=services, gateway_url=gateway.url)

    try:
        yield start
    finally:
        for gateway in gateways:
            await asyncio.to_thread(gateway.stop)
        await stack.aclose()


# --- `make run` as a newcomer starts it -------------------------------------------------------

MAKE_RUN_SERVICES = ("IDENTITY", "CATALOG", "WAITTIMES", "INCIDENTS", "NOTIFICATIONS")
START_TIMEOUT_S = 150.0


def health(url: str) -> tuple[int, dict[str, Any]]:
    """(status, body) of GET /health; (0, {}) while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError:
        return 0, {}


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, read from /proc (works without psutil)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def newcomer_env(run_dir: Path, http_port: int, nats_port: int, service_ports: list[int]) -> dict[str, str]:
    """This shell's environment less every CityHub setting, plus the ports the README documents."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITYHUB_", "NATS_URL", "DATABASE_URL"))}
    return {
        **env,
        "CITYHUB_RUN_DIR": str(run_dir),
        "CITYHUB_HTTP_PORT": str(http_port),
        "CITYHUB_NATS_PORT": str(nats_port),
        **{f"CITYHUB_{name}_PORT": str(port) for name, port in zip(MAKE_RUN_SERVICES, service_ports, strict=True)},
    }


@dataclass
class MakeRun:
    """A running scripts/run.py in its own process group (as a terminal gives it)."""

    process: subprocess.Popen[bytes]
    run_dir: Path
    log_path: Path
    base_url: str

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def credentials(self) -> dict[str, Any] | None:
        """.run/demo-credentials.json once the demo seeding wrote it whole, else None."""
        try:
            data: dict[str, Any] = json.loads((self.run_dir / "demo-credentials.json").read_text())
        except (OSError, ValueError):
            return None
        return data if data.get("residents") else None

    def wait_healthy(self, timeout_s: float = START_TIMEOUT_S) -> dict[str, Any]:
        """The /health body once it answers 200; fails with the log if run.py exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        status, body = 0, {}
        while time.monotonic() < deadline:
            status, body = health(f"{self.base_url}/health")
            if status == 200:
                return body
            if self.process.poll() is not None:
                raise AssertionError(f"make run exited during start-up:\n{self.log_tail()}")
            time.sleep(0.5)
        raise AssertionError(f"make run was not healthy in time ({status} {body}):\n{self.log_tail()}")

    def wait_seeded(self, timeout_s: float = START_TIMEOUT_S) -> dict[str, Any]:
        """The demo credentials, written after the platform is healthy (run.py prints its URLs then)."""
        deadline = time.monotonic() + timeout_s
        while (data := self.credentials()) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"make run did not seed the demo city:\n{self.log_tail()}")
            time.sleep(0.5)
        return data

    def internal_token(self) -> str:
        return (self.run_dir / "internal-token").read_text().strip()

    def interrupt(self) -> None:
        """What Ctrl-C does in a terminal: SIGINT to the whole process group."""
        os.killpg(self.process.pid, signal.SIGINT)

    def stop(self) -> None:
        """Ctrl-C, then SIGKILL to the group if it has not stopped in time."""
        if self.process.poll() is None:
            self.interrupt()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_make_run(workdir: Path, extra_env: Mapping[str, str] | None = None) -> MakeRun:
    """Starts scripts/run.py on free ports with `workdir/run` as its run directory (not yet up);
    `extra_env` may only hold variables the README documents (e.g. OTEL_EXPORTER_OTLP_ENDPOINT)."""
    ports: set[int] = set()
    while len(ports) < 2 + len(MAKE_RUN_SERVICES):  # distinct: a repeat would make run.py refuse to start
        ports.add(free_port())
    http_port, nats_port, *service_ports = sorted(ports)
    run_dir = workdir / "run"
    log_path = workdir / "make-run.log"
    with log_path.open("wb") as log:  # a file, not a pipe: nobody reads a pipe while it runs
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "run.py")],
            env={**newcomer_env(run_dir, http_port, nats_port, service_ports), **(extra_env or {})},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return MakeRun(process=process, run_dir=run_dir, log_path=log_path, base_url=f"http://127.0.0.1:{http_port}")
