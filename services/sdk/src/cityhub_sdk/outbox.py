"""The transactional outbox and its relay.

A use case adds its event to the outbox in the same transaction as the state change, so an event
exists exactly when the change does. The relay publishes due rows oldest first (woken right after
each commit, and polling as a fallback) and marks them sent. If it dies between publishing and
marking, the row is published again with the same Nats-Msg-Id: JetStream drops the copy inside its
duplicate window, and consumers' processed-event records drop it after that.

Order is kept per row, not across the outbox: a row the bus refuses (say, a subject no stream
captures) records `attempts`, `last_error` and a `next_attempt_at` with exponential back-off, and the
rows after it still go out in the same round. After `max_attempts` the row is moved to
`dead_letters` (consumer "outbox"), counted by `outbox_dead_letters_total` and logged without its
payload. A failure of the connection itself (not connected, timeouts) is nobody's row's fault: the
round stops there and no attempt is charged, so an outage does not turn the outbox into dead letters.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import nats.errors
from google.protobuf.message import Message
from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_sdk import event_metrics
from cityhub_sdk.bus import EventBus
from cityhub_sdk.db import Database
from cityhub_sdk.events import Event, from_message, new_event, to_headers
from cityhub_sdk.logging import get_logger
from cityhub_sdk.tables import DeadLetter, OutboxEvent, utcnow
from cityhub_sdk.worker import CommitDrivenWorker

log = get_logger(__name__)

DEAD_LETTER_CONSUMER = "outbox"  # the `consumer` of an outbox row's entry in dead_letters
MAX_ERROR_CHARS = 300

# Failures of the connection, not of the row: retried next round without charging an attempt.
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    TimeoutError,  # nats.errors.TimeoutError derives from it too
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.NoServersError,
    nats.errors.OutboundBufferLimitError,
)


def add_event(session: AsyncSession, subject: str, message: Message, *, source: str) -> Event:
    """Stage an event in the caller's transaction; it is published only if that transaction commits."""
    event = new_event(subject, message, source=source)
    session.add(
        OutboxEvent(
            id=event.id,
            subject=event.subject,
            headers=json.dumps(event.headers),
            payload=event.data,
            created_at=event.time,
        )
    )
    return event


def _row_to_event(row: OutboxEvent) -> Event:
    return from_message(row.subject, row.payload, json.loads(row.headers))


def describe_error(exc: BaseException) -> str:
    """Error class and a short message for `last_error` and logs; a payload never gets here."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


def _count_published(subject: str) -> Callable[[], None]:
    return lambda: event_metrics.outbox_published.add(1, {"subject": subject})


class OutboxRelay(CommitDrivenWorker):
    """Publishes due outbox rows oldest first; one per process, safe to run in several replicas."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        batch: int = 200,
        poll_interval_s: float = 1.0,
        max_attempts: int = 10,
        backoff_base_s: float = 2.0,
        backoff_max_s: float = 600.0,
        backlog_interval_s: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
        after_publish: Callable[[OutboxEvent], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(db, name="outbox-relay", batch=batch, poll_interval_s=poll_interval_s)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.db = db
        self.bus = bus
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.backlog_interval_s = backlog_interval_s  # how often the backlog gauge is refreshed (one COUNT)
        self._clock = clock  # a seam for back-off tests
        self._after_publish = after_publish  # a seam for crash tests, not for business logic
        self._backlog_measured_at: float | None = None

    async def run_once(self) -> int:
        return await self.relay_once()

    def backoff(self, attempts: int) -> timedelta:
        """Wait before attempt `attempts + 1`: base, 2x base, 4x base ... capped at `backoff_max_s`."""
        return timedelta(seconds=min(self.backoff_base_s * 2 ** max(attempts - 1, 0), self.backoff_max_s))

    async def relay_once(self) -> int:
        """Handle up to one batch of due rows; returns how many were published, rescheduled or dead-lettered."""
        now = self._clock()
        handled = 0
        measures: list[Callable[[], None]] = []  # metrics count what was committed, so after the commit
        async with self.db.session() as session:
            query = (
                select(OutboxEvent)
                .where(
                    col(OutboxEvent.published_at).is_(None),
                    or_(col(OutboxEvent.next_attempt_at).is_(None), col(OutboxEvent.next_attempt_at) <= now),
                )
                .order_by(col(OutboxEvent.created_at), col(OutboxEvent.id))
                .limit(self.batch)
            )
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.exec(query)).all())
            for row in rows:
                try:
                    event = _row_to_event(row)
                except (ValueError, TypeError) as exc:  # broken headers (EventDecodeError too): it can never be sent
                    row.attempts += 1
                    measures.append(await self._dead_letter(session, row, exc))
                    handled += 1
                    continue
                try:
                    await self.bus.publish(event)
                except Exception as exc:  # noqa: BLE001 - a row's failure must not stop the rows after it
                    if isinstance(exc, _TRANSPORT_ERRORS) or not self.bus.is_connected:
                        log.warning("outbox.bus_unavailable", error=type(exc).__name__, subject=row.subject)
                        break
                    measures.append(await self._failed(session, row, exc))
                    handled += 1
                    continue
                if self._after_publish is not None:
                    await self._after_publish(row)
                row.published_at = utcnow()
                row.next_attempt_at = None
                row.attempts += 1
                session.add(row)
                handled += 1
                measures.append(_count_published(row.subject))
            await session.commit()
        for measure in measures:
            measure()
        await self._measure_backlog()
        return handled

    async def _failed(self, session: AsyncSession, row: OutboxEvent, exc: Exception) -> Callable[[], None]:
        """Schedule the row's next attempt, or dead-letter it after the last; returns its metric update."""
        row.attempts += 1
        if row.attempts >= self.max_attempts:
            return await self._dead_letter(session, row, exc)
        row.last_error = describe_error(exc)
        row.next_attempt_at = self._clock() + self.backoff(row.attempts)  # from the failure: publish retries take time
        session.add(row)
        log.warning(
            "outbox.publish_failed",
            event_id=row.id,
            subject=row.subject,
            attempts=row.attempts,
            retry_in_s=self.backoff(row.attempts).total_seconds(),
            error=row.last_error,
        )
        attributes = {"subject": row.subject, "error": type(exc).__name__}
        return lambda: event_metrics.outbox_publish_failures.add(1, attributes)

    async def _dead_letter(self, session: AsyncSession, row: OutboxEvent, exc: Exception) -> Callable[[], None]:
        """Move the row to dead_letters: an operator can inspect it and stage it again."""
        row.last_error = describe_error(exc)
        session.add(
            DeadLetter(
                consumer=DEAD_LETTER_CONSUMER,
                event_id=row.id,
                subject=row.subject,
                headers=row.headers,
                payload=row.payload,
                error=row.last_error,
                deliveries=row.attempts,
            )
        )
        await session.delete(row)
        log.warning(
            "outbox.dead_letter", event_id=row.id, subject=row.subject, attempts=row.attempts, error=row.last_error
        )
        attributes = {"subject": row.subject}
        return lambda: event_metrics.outbox_dead_letters.add(1, attributes)

    async def _measure_backlog(self) -> None:
        """Refresh the backlog gauge on the first round, then at most every few seconds (one COUNT)."""
        moment = time.monotonic()
        if self._backlog_measured_at is not None and moment - self._backlog_measured_at < self.backlog_interval_s:
            return
        self._backlog_measured_at = moment
        async with self.db.session() as session:
            pending = (
                await session.exec(
                    select(func.count()).select_from(OutboxEvent).where(col(OutboxEvent.published_at).is_(None))
                )
            ).one()
        event_metrics.outbox_backlog.set(int(pending), {"service": self.bus.service_name})


__all__ = ["DEAD_LETTER_CONSUMER", "OutboxRelay", "add_event", "describe_error", "to_headers"]
