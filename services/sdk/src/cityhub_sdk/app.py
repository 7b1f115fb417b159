"""The service runtime: one start-up order and one shutdown for every CityHub service.

settings -> logging -> telemetry -> database -> NATS (streams) -> outbox relay -> gRPC server with
health -> consumers. SIGTERM flips health to NOT_SERVING, stops consumers, drains the server,
flushes the outbox relay, closes NATS and the database.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import grpc

from cityhub_sdk.auth import AuthInterceptor, IdentityClient
from cityhub_sdk.bus import EventBus
from cityhub_sdk.consumer import ConsumerSpec, EventConsumer, Handler
from cityhub_sdk.consumer_lag import ConsumerLagMonitor
from cityhub_sdk.db import Database
from cityhub_sdk.grpc_server import GrpcServer, Registration
from cityhub_sdk.logging import configure_logging, get_logger
from cityhub_sdk.metrics import MetricsServer, serve_metrics
from cityhub_sdk.migrations import upgrade, upgrade_async
from cityhub_sdk.outbox import OutboxRelay
from cityhub_sdk.settings import ServiceSettings
from cityhub_sdk.telemetry import configure_telemetry, shutdown_telemetry

log = get_logger(__name__)
S = TypeVar("S", bound=ServiceSettings)


@dataclass
class ServiceContext(Generic[S]):
    """What a service's `setup` receives: its settings and the platform's shared parts."""

    settings: S
    db: Database
    bus: EventBus
    relay: OutboxRelay


@dataclass
class ServiceParts:
    """What a service's `setup` returns: its gRPC servicers, consumers and lifecycle hooks."""

    service_names: Sequence[str]
    registrations: Sequence[Registration]
    consumers: Sequence[tuple[ConsumerSpec, Handler]] = ()
    interceptors: Sequence[grpc.aio.ServerInterceptor] = ()
    on_start: Sequence[Callable[[], Awaitable[None]]] = ()
    on_stop: Sequence[Callable[[], Awaitable[None]]] = ()
    # Who-is-calling for every RPC; None = verify through identity at IDENTITY_ADDR (identity itself
    # supplies one backed by its own key store).
    auth: AuthInterceptor | None = None


Setup = Callable[[ServiceContext[S]], Awaitable[ServiceParts]]


@dataclass
class ServiceDefinition(Generic[S]):
    """Everything the runtime needs to know about one service."""

    name: str
    settings_type: type[S]
    migrations: Path
    setup: Setup[S]
    commands: dict[str, Callable[[S], Coroutine[Any, Any, None]]] = field(default_factory=dict)


class RunningService(Generic[S]):
    def __init__(self, definition: ServiceDefinition[S], settings: S) -> None:
        self.definition = definition
        self.settings = settings
        self.db = Database(settings.database_url)
        self.bus = EventBus(
            settings.nats_url,
            service_name=settings.service_name,
            streams_file=settings.nats_streams_file,
            stream_replicas=settings.nats_stream_replicas,
        )
        self.relay = OutboxRelay(self.db, self.bus, max_attempts=settings.outbox_max_attempts)
        self.context = ServiceContext(settings=settings, db=self.db, bus=self.bus, relay=self.relay)
        self.server: GrpcServer | None = None
        self.consumers: list[EventConsumer] = []
        self.parts: ServiceParts | None = None
        self.identity: IdentityClient | None = None
        self.metrics: MetricsServer | None = None
        self.lag: ConsumerLagMonitor | None = None

    def _auth(self, parts: ServiceParts) -> AuthInterceptor:
        """Every service verifies its callers: tokens against identity's JWKS, API keys through identity."""
        if parts.auth is not None:
            return parts.auth
        if self.settings.identity_addr:
            self.identity = IdentityClient(self.settings.identity_addr, internal_token=self.settings.internal_api_token)
            return self.identity.interceptor(
                revocation_ttl_s=self.settings.auth_revocation_ttl_s, api_key_ttl_s=self.settings.auth_api_key_ttl_s
            )
        # No identity configured: internal calls and anonymous calls only; any bearer token is refused.
        return AuthInterceptor(None, internal_token=self.settings.internal_api_token)

    @property
    def address(self) -> str:
        assert self.server is not None
        return self.server.address

    async def _bus_ready(self) -> bool:
        return self.bus.is_connected

    async def start(self) -> None:
        if self.settings.metrics_port is not None:  # first: the admin port answers while the rest starts
            self.metrics = serve_metrics(
                self.settings.service_name, host=self.settings.metrics_host, port=self.settings.metrics_port
            )
        await self.bus.connect()
        self.parts = await self.definition.setup(self.context)
        await self.relay.start()
        self.server = GrpcServer(
            host=self.settings.grpc_host,
            port=self.settings.grpc_port,
            service_names=self.parts.service_names,
            registrations=self.parts.registrations,
            readiness_checks=[self.db.ping, self._bus_ready],
            interceptors=[self._auth(self.parts), *self.parts.interceptors],
            max_message_bytes=self.settings.grpc_max_message_bytes,
        )
        await self.server.start()
        for spec, handler in self.parts.consumers:
            consumer = EventConsumer(spec, handler, bus=self.bus, db=self.db)
            consumer.start()
            self.consumers.append(consumer)
        if self.consumers:
            self.lag = ConsumerLagMonitor(
                self.bus,
                [consumer.spec for consumer in self.consumers],
                interval_s=self.settings.consumer_lag_interval_s,
            )
            await self.lag.start()
        for hook in self.parts.on_start:
            await hook()
        log.info("service.started", service=self.settings.service_name, address=self.address)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(self.settings.grpc_shutdown_grace_s)
        if self.lag is not None:
            await self.lag.stop()
        await asyncio.gather(*(consumer.stop() for consumer in self.consumers))
        if self.parts is not None:
            for hook in self.parts.on_stop:
                await hook()
        await self.relay.stop()
        # The calls drained above may have committed after the relay's last round: publish what they
        # committed now, not at the next start (a bus that is down leaves it for then, as before).
        try:
            async with asyncio.timeout(10):
                while self.bus.is_connected and await self.relay.relay_once() >= self.relay.batch:
                    pass
        except Exception as exc:  # noqa: BLE001 - whatever is left goes out at the next start
            log.warning("service.outbox_flush_failed", error=type(exc).__name__)
        if self.identity is not None:
            await self.identity.close()
        await self.bus.close()
        await self.db.dispose()
        if self.metrics is not None:
            self.metrics.close()
        log.info("service.stopped", service=self.settings.service_name)


@asynccontextmanager
async def running(definition: ServiceDefinition[S], settings: S) -> AsyncIterator[RunningService[S]]:
    """Start a service in this process (tests use it with port 0) and stop it on exit."""
    service = RunningService(definition, settings)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def serve(definition: ServiceDefinition[S], settings: S) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with running(definition, settings):
        await stop.wait()
        log.info("service.stopping", service=settings.service_name)


async def _migrate_seed_serve(definition: ServiceDefinition[S], settings: S) -> None:
    """`serve` for `make run`: migrations (MIGRATE_ON_START) and seed (SEED_ON_START) in this process
    before the port opens, so no process is started only to migrate or seed and exit."""
    if settings.migrate_on_start:
        await upgrade_async(definition.migrations, settings.database_url)
        log.info("service.migrated", service=settings.service_name)
    seed = definition.commands.get("seed")
    if settings.seed_on_start and seed is not None:
        await seed(settings)
        log.info("service.seeded", service=settings.service_name)
    await serve(definition, settings)


def main(definition: ServiceDefinition[S], argv: Sequence[str] | None = None) -> None:
    """`python -m cityhub_<name> [serve|migrate|<command>]`.

    `serve` migrates first when MIGRATE_ON_START is set and then runs the `seed` command (if the
    service has one) when SEED_ON_START is set, both before its port opens; `make run` sets both.
    Kubernetes and compose leave them off and run `migrate` as a step of its own before `serve`.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "serve"
    settings = definition.settings_type()
    configure_logging(settings.service_name, settings.log_level, json=settings.log_json)
    if command == "migrate":
        upgrade(definition.migrations, settings.database_url)
        log.info("service.migrated", service=settings.service_name)
        return
    configure_telemetry(settings.service_name)
    try:
        if command == "serve":
            asyncio.run(_migrate_seed_serve(definition, settings))
        elif command in definition.commands:
            asyncio.run(definition.commands[command](settings))
        else:
            known = ", ".join(["serve", "migrate", *definition.commands])
            raise SystemExit(f"unknown command {command!r}; use one of: {known}")
    finally:
        shutdown_telemetry()
