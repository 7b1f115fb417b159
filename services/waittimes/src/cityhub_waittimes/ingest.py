"""Queue events in, estimates out: the one pipeline every writer goes through.

Kiosk batches, remote check-ins, cancellations, the no-show sweeper and erasures all record queue
events here, inside the caller's transaction:

1. events whose (centre, event id) is already stored are duplicates and change nothing;
2. events at or before the queue's checkpoint (its newest event time less the reorder window) are
   refused as too late, because the state up to there is settled;
3. the queue's events after the checkpoint are read back in (event time, event id) order and
   folded onto the checkpoint; the part older than the new window end becomes the new checkpoint
   (and adds to the hourly history exactly once), the rest gives the current state;
4. the current figures are stored; when they changed in a way a resident sees, a
   `queue.updated` event is staged in the outbox;
5. the queue's active check-ins follow: called, served, no-show, people ahead, one reminder.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cityhub.waittimes.v1 import events_pb2
from cityhub_sdk.db import Database
from cityhub_sdk.outbox import add_event
from cityhub_sdk.subjects import WAITTIMES_CHECKIN_CALLED, WAITTIMES_CHECKIN_REMINDED, WAITTIMES_QUEUE_UPDATED
from cityhub_sdk.timestamps import utc
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_waittimes import repository as repo
from cityhub_waittimes.estimator import Estimate, HourStats, Outcome, QueueEventIn, QueueFold
from cityhub_waittimes.messages import queue_state_message
from cityhub_waittimes.models import CheckInRow, QueueEventRow, QueueStateRow

SOURCE = "waittimes"


@dataclass(frozen=True)
class NewEvent:
    """An event to record: `QueueEventIn` plus its queue and aware timestamp."""

    queue: str
    event_id: str
    kind: int
    occurred_at: datetime
    ticket: str = ""
    counter: str = ""


@dataclass
class RecordResult:
    accepted: int = 0
    duplicates: int = 0
    too_late: int = 0


def epoch(value: datetime) -> float:
    return utc(value).timestamp()


def from_epoch(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def estimate_dict(estimate: Estimate) -> dict[str, Any]:
    return {
        "state": estimate.state,
        "low_s": estimate.low_s,
        "expected_s": estimate.expected_s,
        "high_s": estimate.high_s,
        "confidence": estimate.confidence,
        "samples": estimate.samples,
    }


def snapshot(fold: QueueFold) -> dict[str, Any]:
    """The figures a resident sees, as stored in `queue_states.published["current"]`."""
    return {
        "people_waiting": len(fold.waiting),
        "counters_open": len(fold.counters),
        "being_served": len(fold.serving),
        "estimate": estimate_dict(fold.estimate()),
        "updated_at": fold.last_at,
        "last_issued": fold.last_issued,
        "last_called": fold.last_called,
        "served_today": fold.served_today,
    }


def signature(current: dict[str, Any]) -> list[Any]:
    """What makes a change meaningful: any count, the state, the range, the expected minute."""
    estimate = current["estimate"]
    return [
        current["people_waiting"],
        current["counters_open"],
        current["being_served"],
        estimate["state"],
        estimate["low_s"],
        estimate["high_s"],
        round(estimate["expected_s"] / 60),
        current["last_called"],
    ]


class QueuePipeline:
    def __init__(self, db: Database, *, reorder_window_s: float, remind_ahead: int) -> None:
        self.db = db
        self.window = timedelta(seconds=reorder_window_s)
        self.remind_ahead = remind_ahead
        # SQLite has one writer and no row locks: writers of this process take turns, so a state
        # row is never read stale. PostgreSQL locks the queue's state row instead.
        self._lock = asyncio.Lock() if db.is_sqlite else None

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self._lock is None:
            yield
            return
        async with self._lock:
            yield

    async def record(
        self, session: AsyncSession, center_id: str, events: Sequence[NewEvent], tz: ZoneInfo
    ) -> RecordResult:
        """Record `events` for one centre in the caller's transaction (call inside `turn()`)."""
        result = RecordResult()
        unique: dict[str, NewEvent] = {}
        for event in events:
            if event.event_id in unique:
                result.duplicates += 1
            else:
                unique[event.event_id] = event
        seen = await repo.dao_existing_event_ids(session, center_id, list(unique))
        result.duplicates += len(seen)
        by_queue: dict[str, list[NewEvent]] = {}
        for event in unique.values():
            if event.event_id not in seen:
                by_queue.setdefault(event.queue, []).append(event)
        for queue in sorted(by_queue):
            state = await repo.dao_lock_state(session, center_id, queue, for_update=self._lock is None)
            fresh = []
            for event in by_queue[queue]:
                if state.watermark_at is not None and (utc(event.occurred_at), event.event_id) <= (
                    utc(state.watermark_at),
                    state.watermark_id,
                ):
                    result.too_late += 1
                else:
                    fresh.append(event)
            if not fresh:
                continue
            session.add_all(
                QueueEventRow(
                    center_id=center_id,
                    event_id=e.event_id,
                    queue=queue,
                    kind=e.kind,
                    ticket=e.ticket,
                    counter=e.counter,
                    occurred_at=utc(e.occurred_at),
                )
                for e in fresh
            )
            await session.flush()
            result.accepted += len(fresh)
            newest = max(utc(e.occurred_at) for e in fresh)
            state.latest_at = newest if state.latest_at is None else max(utc(state.latest_at), newest)
            await self._refold(session, state, tz)
        return result

    async def _refold(self, session: AsyncSession, state: QueueStateRow, tz: ZoneInfo) -> None:
        assert state.latest_at is not None
        rows = await repo.dao_events_after(
            session, state.center_id, state.queue, state.watermark_at, state.watermark_id
        )
        cutoff = epoch(state.latest_at) - self.window.total_seconds()
        settled = QueueFold.from_json(state.checkpoint)
        stats: dict[float, HourStats] = {}
        outcomes: dict[str, list[Outcome]] = {}
        events = [QueueEventIn(epoch(r.occurred_at), r.event_id, r.kind, r.ticket, r.counter) for r in rows]
        index = 0
        while index < len(events) and events[index].at <= cutoff:
            settled.apply(events[index], tz, outcomes, stats)
            index += 1
        if index:
            state.checkpoint = settled.to_json()
            state.watermark_at = from_epoch(events[index - 1].at)
            state.watermark_id = events[index - 1].event_id
            await repo.dao_add_hours(session, state.center_id, state.queue, stats)
        current_fold = settled.copy() if index < len(events) else settled
        for event in events[index:]:
            current_fold.apply(event, tz, outcomes)
        current = snapshot(current_fold)
        published = dict(state.published or {})
        if signature(current) != published.get("emitted"):
            state.version += 1
            published["emitted"] = signature(current)
            add_event(
                session,
                WAITTIMES_QUEUE_UPDATED,
                events_pb2.QueueUpdated(
                    state=queue_state_message(state.center_id, state.queue, current, state.version)
                ),
                source=SOURCE,
            )
        published["current"] = current
        state.published = published
        session.add(state)
        await self._follow_check_ins(session, state, current_fold, outcomes)

    async def _follow_check_ins(
        self, session: AsyncSession, state: QueueStateRow, fold: QueueFold, outcomes: dict[str, list[Outcome]]
    ) -> None:
        for check_in in await repo.dao_active_check_ins(session, state.center_id, state.queue):
            for outcome in outcomes.get(check_in.ticket, ()):
                self._advance(session, check_in, outcome)
            if check_in.status == "waiting" and check_in.ticket in fold.waiting:
                ahead = fold.people_ahead(check_in.ticket) or 0
                check_in.people_ahead = ahead
                check_in.estimate = estimate_dict(fold.estimate(ahead))
                if ahead <= self.remind_ahead and not check_in.reminded:
                    check_in.reminded = True
                    add_event(
                        session,
                        WAITTIMES_CHECKIN_REMINDED,
                        events_pb2.CheckInReminded(
                            check_in_id=check_in.id,
                            account_id=check_in.account_id,
                            center_id=check_in.center_id,
                            queue=check_in.queue,
                            ticket=check_in.ticket,
                            people_ahead=ahead,
                            expected_wait_s=int(check_in.estimate["expected_s"]),
                        ),
                        source=SOURCE,
                    )
            session.add(check_in)

    def _advance(self, session: AsyncSession, check_in: CheckInRow, outcome: Outcome) -> None:
        """Forward only: waiting -> called -> served | no_show (a replayed outcome changes nothing)."""
        if outcome.status == "called" and check_in.status == "waiting":
            check_in.status = "called"
            check_in.called_at = from_epoch(outcome.at)
            check_in.counter = outcome.counter
            check_in.people_ahead = 0
            add_event(
                session,
                WAITTIMES_CHECKIN_CALLED,
                events_pb2.CheckInCalled(
                    check_in_id=check_in.id,
                    account_id=check_in.account_id,
                    center_id=check_in.center_id,
                    queue=check_in.queue,
                    ticket=check_in.ticket,
                    counter=outcome.counter,
                ),
                source=SOURCE,
            )
        elif outcome.status in ("served", "no_show") and check_in.status in ("waiting", "called"):
            check_in.status = outcome.status
            check_in.ended_at = from_epoch(outcome.at)
            check_in.people_ahead = 0

    async def next_event_time(self, session: AsyncSession, center_id: str, queue: str, now: datetime) -> datetime:
        """A time for an event the service makes itself (check-in, cancel, no-show): now, or just
        after the queue's checkpoint when kiosk clocks run ahead of ours."""
        state = await repo.dao_get_state(session, center_id, queue)
        if state is None or state.watermark_at is None:
            return now
        return max(now, utc(state.watermark_at) + timedelta(milliseconds=1))
