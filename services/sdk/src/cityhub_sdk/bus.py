"""The event bus on NATS JetStream: connection, stream declarations and traced publishing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats
import yaml
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck, StorageType, StreamConfig
from nats.js.errors import BadRequestError
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from cityhub_sdk.events import Event, to_headers
from cityhub_sdk.logging import get_logger

log = get_logger(__name__)
tracer = trace.get_tracer("cityhub_sdk.bus")


def find_streams_file(explicit: Path | None = None) -> Path:
    """deploy/nats/streams.yaml: from the setting, else the nearest repository root above us."""
    if explicit is not None:
        return explicit
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            candidate = folder / "deploy" / "nats" / "streams.yaml"
            if candidate.is_file():
                return candidate
    raise FileNotFoundError("deploy/nats/streams.yaml not found; set NATS_STREAMS_FILE")


def load_stream_configs(path: Path, replicas: int) -> list[StreamConfig]:
    spec = yaml.safe_load(path.read_text())
    defaults = spec.get("defaults", {})
    configs = []
    for stream in spec["streams"]:
        merged = {**defaults, **stream}
        configs.append(
            StreamConfig(
                name=merged["name"],
                subjects=list(merged["subjects"]),
                storage=StorageType(merged.get("storage", "file")),
                max_age=float(merged.get("max_age_s", 0)),
                duplicate_window=float(merged.get("duplicate_window_s", 120)),
                num_replicas=replicas,
            )
        )
    return configs


class EventBus:
    """One NATS connection per process; publishes retry with the same Nats-Msg-Id."""

    def __init__(
        self,
        url: str,
        *,
        service_name: str,
        streams_file: Path | None = None,
        stream_replicas: int = 1,
        publish_attempts: int = 5,
    ) -> None:
        self.servers = [part.strip() for part in url.split(",") if part.strip()]
        self.service_name = service_name
        self.streams_file = streams_file
        self.stream_replicas = stream_replicas
        self.publish_attempts = publish_attempts
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._reconnect_listeners: list[Callable[[], Awaitable[None] | None]] = []

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("EventBus is not connected")
        return self._js

    @property
    def nc(self) -> NatsClient:
        if self._nc is None:
            raise RuntimeError("EventBus is not connected")
        return self._nc

    @property
    def is_connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def on_reconnect(self, listener: Callable[[], Awaitable[None] | None]) -> None:
        """Consumers re-create their pull subscriptions here (nats.py #504)."""
        self._reconnect_listeners.append(listener)

    async def connect(self, *, timeout_s: float = 30.0) -> None:
        """Connect, waiting up to `timeout_s` for the server so services may start before NATS."""

        async def reconnected() -> None:
            log.info("nats.reconnected")
            for listener in self._reconnect_listeners:
                result = listener()
                if asyncio.iscoroutine(result):
                    await result

        async def disconnected() -> None:
            log.warning("nats.disconnected")

        async def error(exc: Exception) -> None:
            log.warning("nats.error", error=type(exc).__name__)

        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            try:
                self._nc = await nats.connect(
                    servers=self.servers,
                    name=self.service_name,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    connect_timeout=2,
                    drain_timeout=2,
                    ping_interval=5,
                    max_outstanding_pings=2,
                    reconnected_cb=reconnected,
                    disconnected_cb=disconnected,
                    error_cb=error,
                )
                break
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.5)
        self._js = self._nc.jetstream()
        await self.ensure_streams()

    async def ensure_streams(self) -> None:
        for config in load_stream_configs(find_streams_file(self.streams_file), self.stream_replicas):
            try:
                await self.js.add_stream(config)
            except BadRequestError:
                await self.js.update_stream(config)

    async def publish(self, event: Event) -> PubAck:
        """Publish once in effect: the server drops a retry with the same id inside its window."""
        parent = propagate.extract(event.headers)
        with tracer.start_as_current_span(f"{event.subject} publish", context=parent, kind=SpanKind.PRODUCER) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            headers = to_headers(event, carrier)
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.destination.name", event.subject)
            span.set_attribute("messaging.message.id", event.id)
            delay = 0.1
            for attempt in range(1, self.publish_attempts + 1):
                try:
                    return await self.js.publish(event.subject, event.data, timeout=5.0, headers=headers)
                except Exception:
                    if attempt == self.publish_attempts:
                        raise
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            try:
                await self._nc.drain()
            except Exception:  # noqa: BLE001 - closing a broken connection must not fail shutdown
                await self._nc.close()
        self._nc = None
        self._js = None

    async def stream_info(self, name: str) -> Any:
        return await self.js.stream_info(name)
