"""The transactional outbox and its relay.

A use case adds its event to the outbox in the same transaction as the state change, so an event
exists exactly when the change does. The relay publishes pending rows (woken right after each
commit, and polling as a fallback) and marks them sent. If it dies between publishing and marking,
the row is published again with the same Nats-Msg-Id: JetStream drops the copy inside its
duplicate window, and consumers' processed-event records drop it after that.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from google.protobuf.message import Message
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_sdk.bus import EventBus
from cityhub_sdk.db import Database
from cityhub_sdk.events import Event, new_event, to_headers
from cityhub_sdk.logging import get_logger
from cityhub_sdk.tables import OutboxEvent, utcnow
from cityhub_sdk.worker import CommitDrivenWorker

log = get_logger(__name__)


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
    from cityhub_sdk.events import from_message

    return from_message(row.subject, row.payload, json.loads(row.headers))


class OutboxRelay(CommitDrivenWorker):
    """Publishes outbox rows in order; one per process, safe to run in several replicas."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        batch: int = 200,
        poll_interval_s: float = 1.0,
        after_publish: Callable[[OutboxEvent], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(db, name="outbox-relay", batch=batch, poll_interval_s=poll_interval_s)
        self.db = db
        self.bus = bus
        self._after_publish = after_publish  # a seam for crash tests, not for business logic

    async def run_once(self) -> int:
        return await self.relay_once()

    async def relay_once(self) -> int:
        """Publish up to one batch of pending rows; returns how many were published."""
        async with self.db.session() as session:
            query = (
                select(OutboxEvent)
                .where(col(OutboxEvent.published_at).is_(None))
                .order_by(col(OutboxEvent.created_at), col(OutboxEvent.id))
                .limit(self.batch)
            )
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.exec(query)).all())
            for row in rows:
                await self.bus.publish(_row_to_event(row))
                if self._after_publish is not None:
                    await self._after_publish(row)
                row.published_at = utcnow()
                row.attempts += 1
                session.add(row)
            await session.commit()
        return len(rows)


__all__ = ["OutboxRelay", "add_event", "to_headers"]
