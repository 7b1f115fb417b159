"""The delivery worker: walks each queued delivery down the resident's fallback chain.

State machine per delivery (models.TRANSITIONS): created -> sending -> delivered |
failed_temporary (retried with back-off) | failed_permanent (next channel in the chain, or the
end). Rows are claimed with a lease, so a crash mid-send is retried after the lease expires.
Quiet hours hold non-urgent messages until they end; a per-resident hourly limit holds the rest
(the held row says why in `last_error`). "Now" is the injected clock, so policy is testable at
any instant without sleeping.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from cityhub_sdk.db import Database
from cityhub_sdk.logging import get_logger
from cityhub_sdk.tables import utcnow
from cityhub_sdk.worker import CommitDrivenWorker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_notifications.channels import DELIVERED, FAILED_TEMPORARY, Channel, OutgoingMessage, PushTarget
from cityhub_notifications.config import NotificationsSettings
from cityhub_notifications.directory import AccountDirectory, IdentityUnavailable
from cityhub_notifications.metrics import DeliveryMetrics
from cityhub_notifications.models import (
    STATUS_CREATED,
    STATUS_DELIVERED,
    STATUS_FAILED_PERMANENT,
    STATUS_FAILED_TEMPORARY,
    STATUS_SENDING,
    TRANSITIONS,
    URGENCY_URGENT,
    Delivery,
    DeliveryAttempt,
    Device,
    Notification,
    Preferences,
)
from cityhub_notifications.policy import quiet_until
from cityhub_notifications.repository import dao_count_handed_since, dao_list_devices

log = get_logger(__name__)

HELD_QUIET_HOURS = "held: quiet hours"
HELD_RATE_LIMIT = "held: hourly limit reached"


def transition(delivery: Delivery, status: str, now: datetime | None = None) -> None:
    if status not in TRANSITIONS[delivery.status]:
        raise ValueError(f"delivery {delivery.id}: {delivery.status} -> {status} is not allowed")
    delivery.status = status
    delivery.updated_at = now or utcnow()


class Dispatcher(CommitDrivenWorker):
    def __init__(
        self,
        db: Database,
        settings: NotificationsSettings,
        channels: Mapping[str, Channel],
        directory: AccountDirectory,
        metrics: DeliveryMetrics,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(
            db,
            name="notifications-dispatcher",
            batch=settings.dispatch_batch,
            poll_interval_s=settings.dispatch_interval_s,
        )
        self.db = db
        self.clock = clock
        self.settings = settings
        self.channels = channels
        self.directory = directory
        self.metrics = metrics

    async def stop(self) -> None:
        await super().stop()
        for channel in self.channels.values():
            await channel.close()

    async def run_once(self) -> int:
        return await self.dispatch_once()

    async def dispatch_once(self) -> int:
        claimed = await self._claim()
        for delivery_id in claimed:
            try:
                await self._process(delivery_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one poisoned delivery must not stall the batch
                log.warning("dispatcher.delivery_failed", delivery_id=delivery_id, error=type(exc).__name__)
                await self._count_failure(delivery_id, f"internal error: {type(exc).__name__}")
        return len(claimed)

    async def _count_failure(self, delivery_id: int, error: str) -> None:
        """An unexpected error is a failed attempt (retried with back-off, then the next channel),
        instead of leaving the row in `sending` to be re-tried at every lease expiry forever."""
        async with self.db.transaction() as session:
            delivery = await session.get(Delivery, delivery_id)
            if delivery is None or delivery.status != STATUS_SENDING:
                return
            delivery.attempts += 1
            if delivery.attempts < self.settings.max_attempts:
                self._retry_later(delivery, error)
            else:
                chain = [name for name in json.loads(delivery.chain) if name in self.channels]
                self._fall_back(delivery, error, len(chain))
            session.add(delivery)

    async def _claim(self) -> list[int]:
        now = self.clock()
        lease_expired = now - timedelta(seconds=self.settings.sending_lease_s)
        async with self.db.transaction() as session:
            query = (
                select(Delivery)
                .where(
                    sa.or_(
                        sa.and_(
                            col(Delivery.status).in_([STATUS_CREATED, STATUS_FAILED_TEMPORARY]),
                            col(Delivery.next_attempt_at) <= now,
                        ),
                        sa.and_(col(Delivery.status) == STATUS_SENDING, col(Delivery.updated_at) < lease_expired),
                    )
                )
                .order_by(col(Delivery.next_attempt_at))
                .limit(self.settings.dispatch_batch)
            )
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            rows = list((await session.exec(query)).all())
            for row in rows:
                if row.status != STATUS_SENDING:
                    transition(row, STATUS_SENDING, self.clock())
                row.updated_at = now
                session.add(row)
            return [row.id for row in rows if row.id is not None]

    async def _process(self, delivery_id: int) -> None:
        async with self.db.transaction() as session:
            delivery = await session.get(Delivery, delivery_id)
            if delivery is None or delivery.status != STATUS_SENDING:
                return
            notification = await session.get(Notification, delivery.notification_id)
            preferences = await session.get(Preferences, delivery.account_id)
            if notification is None or preferences is None:
                transition(delivery, STATUS_FAILED_PERMANENT, self.clock())
                delivery.last_error = "gone"
                session.add(delivery)
                return
            chain = [name for name in json.loads(delivery.chain) if name in self.channels]
            if delivery.position >= len(chain):
                transition(delivery, STATUS_FAILED_PERMANENT, self.clock())
                delivery.last_error = delivery.last_error or "no channel available"
                session.add(delivery)
                return
            now = self.clock()
            if delivery.urgency != URGENCY_URGENT:
                held = await self._held_until(session, delivery, preferences, now)
                if held is not None:
                    transition(delivery, STATUS_CREATED, self.clock())
                    delivery.next_attempt_at, delivery.last_error = held
                    session.add(delivery)
                    return
            channel = self.channels[chain[delivery.position]]
            devices = await dao_list_devices(session, delivery.account_id, active_only=True)
            email = None
            if channel.needs_contact:
                try:
                    contact = await self.directory.contact(delivery.account_id)
                except IdentityUnavailable as exc:
                    self._retry_later(delivery, f"identity unavailable: {exc}")
                    session.add(delivery)
                    return
                if contact is None:
                    transition(delivery, STATUS_FAILED_PERMANENT, self.clock())
                    delivery.last_error = "account gone"
                    session.add(delivery)
                    return
                email = contact.email
                if contact.language != preferences.language:
                    preferences.language = contact.language
                    session.add(preferences)
            message = OutgoingMessage(
                delivery_id=delivery_id,
                notification_id=notification.id,
                account_id=delivery.account_id,
                urgency=delivery.urgency,
                lang=notification.lang,
                title=notification.title,
                body=notification.body,
                data=json.loads(notification.data),
                email=email,
                devices=[PushTarget(d.id, d.endpoint, d.p256dh, d.auth) for d in devices],
            )
            delivery.channel = channel.name
            delivery.attempts += 1
            started = self.clock()
            result = await channel.send(message)
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery_id,
                    account_id=delivery.account_id,
                    channel=channel.name,
                    status=result.status,
                    error=result.error,
                    started_at=started,
                )
            )
            await self._update_devices(session, devices, result.delivered_devices, result.dead_devices)
            if result.status == DELIVERED:
                transition(delivery, STATUS_DELIVERED, self.clock())
                delivery.handed_at = started
                delivery.last_error = None
                self.metrics.record(channel.name, delivery.event_time, started)
            elif result.status == FAILED_TEMPORARY and delivery.attempts < self.settings.max_attempts:
                self._retry_later(delivery, result.error)
            else:
                self._fall_back(delivery, result.error, len(chain))
            session.add(delivery)

    async def _held_until(
        self, session: AsyncSession, delivery: Delivery, preferences: Preferences, now: datetime
    ) -> tuple[datetime, str] | None:
        """When a non-urgent delivery may go out instead of now, and why; None to send now."""
        quiet = quiet_until(now, preferences.quiet_start, preferences.quiet_end, preferences.time_zone)
        if quiet is not None:
            return quiet, HELD_QUIET_HOURS
        if preferences.max_per_hour > 0:
            sent = await dao_count_handed_since(session, delivery.account_id, now - timedelta(hours=1))
            if sent >= preferences.max_per_hour:
                return now + timedelta(minutes=5), HELD_RATE_LIMIT
        return None

    def _retry_later(self, delivery: Delivery, error: str | None) -> None:
        backoff = self.settings.retry_backoff_s
        delay = backoff[min(max(delivery.attempts - 1, 0), len(backoff) - 1)]
        transition(delivery, STATUS_FAILED_TEMPORARY, self.clock())
        delivery.next_attempt_at = self.clock() + timedelta(seconds=delay)
        delivery.last_error = error

    def _fall_back(self, delivery: Delivery, error: str | None, chain_length: int) -> None:
        """This channel is done for: try the next one in the chain, or give up."""
        delivery.last_error = error
        if delivery.position + 1 < chain_length:
            delivery.position += 1
            delivery.attempts = 0
            transition(delivery, STATUS_CREATED, self.clock())
            delivery.next_attempt_at = self.clock()
        else:
            transition(delivery, STATUS_FAILED_PERMANENT, self.clock())

    async def _update_devices(
        self, session: AsyncSession, devices: Sequence[Device], delivered: list[str], dead: list[str]
    ) -> None:
        """A 404/410 from the push service ends a device; a success is remembered."""
        for device in devices:
            if device.id in dead:
                device.active = False
                device.failures += 1
                session.add(device)
            elif device.id in delivered:
                device.last_success_at = self.clock()
                session.add(device)


__all__ = ["HELD_QUIET_HOURS", "HELD_RATE_LIMIT", "Dispatcher", "transition"]
