"""Durable pull consumers: at-least-once on the wire, exactly-once in effect.

Each message is handled inside one database transaction that also records its event id, so a
redelivered event is acknowledged without running the handler twice. A handler that raises is
nak'ed with back-off; after `max_deliver` attempts the event goes to the dead-letter table and is
terminated. A message that cannot be decoded (`EventDecodeError`: broken CloudEvents headers, or a
handler finding a body that is not the event its subject promises) never gets better by waiting, so
it is dead-lettered and terminated on its first delivery. Both count in
`consumer_dead_letters_total` (reason `undecodable` or `max_deliver`); every message's handling is
timed in `consumer_process_duration_seconds{consumer, subject, outcome}` and every redelivery counted
in `consumer_redeliveries_total` (lag itself is JetStream's figure, polled by `consumer_lag`). A watchdog re-creates the
subscription after a reconnect or a stalled fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_sdk import event_metrics
from cityhub_sdk.bus import EventBus
from cityhub_sdk.db import Database
from cityhub_sdk.events import Event, EventDecodeError, from_message
from cityhub_sdk.logging import get_logger
from cityhub_sdk.tables import DeadLetter, ProcessedEvent

log = get_logger(__name__)
tracer = trace.get_tracer("cityhub_sdk.consumer")

Handler = Callable[[AsyncSession, Event], Awaitable[None]]
STALL_MARGIN_S = 10.0  # how far past its own timeout a fetch may run before it counts as stalled


async def _unsubscribe_quietly(subscription: Any) -> None:
    """Drop a pull subscription's local inbox; the durable consumer itself stays on the server."""
    if subscription is None:
        return
    with contextlib.suppress(Exception):  # the connection may already be gone
        await subscription.unsubscribe()


@dataclass(frozen=True)
class ConsumerSpec:
    """Where a consumer reads from and how hard it tries before giving up on an event."""

    durable: str
    stream: str
    subjects: Sequence[str]
    max_deliver: int = 6
    backoff_s: Sequence[float] = field(default=(1.0, 5.0, 15.0, 60.0, 300.0))
    ack_wait_s: float = 60.0
    batch: int = 64
    fetch_timeout_s: float = 1.0
    deliver_all: bool = True


class EventConsumer:
    """Runs one durable pull consumer until stopped."""

    def __init__(self, spec: ConsumerSpec, handler: Handler, *, bus: EventBus, db: Database) -> None:
        self.spec = spec
        self.handler = handler
        self.bus = bus
        self.db = db
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._resubscribe = True
        self._busy = False
        self.last_fetch_at = 0.0
        bus.on_reconnect(self.request_resubscribe)

    def request_resubscribe(self) -> None:
        self._resubscribe = True

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.spec.durable}")

    async def stop(self) -> None:
        """Stop at once when idle (waiting on a fetch); let a message being handled finish first."""
        self._stopping.set()
        if self._task is None:
            return
        if not self._busy:
            self._task.cancel()
        try:
            await asyncio.wait_for(self._task, timeout=self.spec.fetch_timeout_s + 5)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()
        self._task = None

    def _config(self) -> ConsumerConfig:
        subjects = list(self.spec.subjects)
        return ConsumerConfig(
            durable_name=self.spec.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL if self.spec.deliver_all else DeliverPolicy.NEW,
            ack_wait=self.spec.ack_wait_s,
            max_deliver=self.spec.max_deliver,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
            max_ack_pending=max(1000, self.spec.batch * 4),
        )

    async def _subscribe(self) -> object:
        return await self.bus.js.pull_subscribe(
            self.spec.subjects[0], durable=self.spec.durable, stream=self.spec.stream, config=self._config()
        )

    async def _run(self) -> None:
        subscription: Any = None
        failures = 0
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            try:
                if subscription is None or self._resubscribe:
                    self._resubscribe = False
                    await _unsubscribe_quietly(subscription)
                    subscription = await self._subscribe()
                # The watchdog: a fetch that outlives its own timeout by far is a stalled one (nats.py #986).
                started = loop.time()
                try:
                    messages = await asyncio.wait_for(
                        subscription.fetch(self.spec.batch, timeout=self.spec.fetch_timeout_s),
                        timeout=self.spec.fetch_timeout_s + STALL_MARGIN_S,
                    )
                except TimeoutError:  # nats' own timeouts derive from it too: "no messages yet"
                    if loop.time() - started >= self.spec.fetch_timeout_s + STALL_MARGIN_S:
                        log.warning("consumer.fetch_stalled", consumer=self.spec.durable)
                        self._resubscribe = True
                    self.last_fetch_at = loop.time()
                    continue
                self.last_fetch_at = loop.time()
                failures = 0
                self._busy = True
                try:
                    for message in messages:
                        await self.process(message)
                finally:
                    self._busy = False
            except asyncio.CancelledError:
                await _unsubscribe_quietly(subscription)
                raise
            except Exception as exc:  # noqa: BLE001 - the loop must survive server restarts
                failures += 1
                log.warning("consumer.fetch_failed", consumer=self.spec.durable, error=type(exc).__name__)
                self._resubscribe = True
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))

        await _unsubscribe_quietly(subscription)

    async def process(self, message: Msg) -> None:
        headers = dict(message.headers or {})
        parent = propagate.extract(headers)
        with tracer.start_as_current_span(f"{message.subject} process", context=parent, kind=SpanKind.CONSUMER) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.destination.name", message.subject)
            span.set_attribute("messaging.consumer.group.name", self.spec.durable)
            deliveries = message.metadata.num_delivered or 1
            labels = {"consumer": self.spec.durable, "subject": message.subject}
            if deliveries > 1:
                event_metrics.consumer_redeliveries.add(1, labels)
            started = time.perf_counter()
            try:
                event = from_message(message.subject, message.data, headers)
                span.set_attribute("messaging.message.id", event.id)
                await self._handle_once(event)
            except Exception as exc:  # noqa: BLE001 - any failure is retried or dead-lettered
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                if isinstance(exc, EventDecodeError):  # a poison message: redelivering cannot help
                    await self._dead_letter(message, headers, exc, deliveries, reason="undecodable")
                    outcome = "dead_letter"
                else:
                    outcome = await self._on_failure(message, headers, exc, deliveries)
                event_metrics.consumer_process_duration.record(
                    time.perf_counter() - started, {**labels, "outcome": outcome}
                )
                return
            await message.ack()
            event_metrics.consumer_process_duration.record(time.perf_counter() - started, {**labels, "outcome": "ack"})

    async def _handle_once(self, event: Event) -> None:
        async with self.db.transaction() as session:
            seen = await session.exec(
                select(ProcessedEvent).where(
                    ProcessedEvent.consumer == self.spec.durable, ProcessedEvent.event_id == event.id
                )
            )
            if seen.first() is not None:
                return
            await self.handler(session, event)
            session.add(ProcessedEvent(consumer=self.spec.durable, event_id=event.id))

    async def _on_failure(self, message: Msg, headers: dict[str, str], exc: Exception, deliveries: int) -> str:
        """Retry later or give up; returns the outcome for the metrics ("retry" or "dead_letter")."""
        if deliveries >= self.spec.max_deliver:
            await self._dead_letter(message, headers, exc, deliveries, reason="max_deliver")
            return "dead_letter"
        delay = self.spec.backoff_s[min(deliveries - 1, len(self.spec.backoff_s) - 1)]
        log.warning(
            "consumer.retry",
            consumer=self.spec.durable,
            subject=message.subject,
            delivery=deliveries,
            delay_s=delay,
            error=type(exc).__name__,
        )
        await message.nak(delay=delay)
        return "retry"

    async def _dead_letter(
        self, message: Msg, headers: dict[str, str], exc: Exception, deliveries: int, *, reason: str
    ) -> None:
        """Keep the message in dead_letters for an operator, then tell the server never to deliver it again."""
        log.error(
            "consumer.dead_letter",
            consumer=self.spec.durable,
            subject=message.subject,
            reason=reason,
            delivery=deliveries,
            error=type(exc).__name__,
        )
        async with self.db.transaction() as session:
            session.add(
                DeadLetter(
                    consumer=self.spec.durable,
                    event_id=headers.get("ce-id", ""),
                    subject=message.subject,
                    headers=json.dumps(headers),
                    payload=message.data,
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                    deliveries=deliveries,
                )
            )
        await message.term()
        event_metrics.consumer_dead_letters.add(
            1, {"consumer": self.spec.durable, "subject": message.subject, "reason": reason}
        )
