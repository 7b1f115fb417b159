"""Waittimes use cases; each owns its transaction and goes through the one queue pipeline."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from cityhub.identity.v1 import events_pb2 as identity_events
from cityhub.waittimes.v1 import waittimes_pb2 as pb
from cityhub_sdk.auth import ROLE_DEPARTMENT, ROLE_OPERATOR, ROLE_SERVICE, ROLE_STAFF, Caller
from cityhub_sdk.db import Database
from cityhub_sdk.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from cityhub_sdk.logging import get_logger
from cityhub_sdk.outbox import add_event
from cityhub_sdk.subjects import WAITTIMES_ACCOUNT_ERASED
from cityhub_sdk.timestamps import now, to_timestamp
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_waittimes import repository as repo
from cityhub_waittimes.busy_hours import busy_hours
from cityhub_waittimes.centers import Center, CenterDirectory
from cityhub_waittimes.config import WaitTimesSettings
from cityhub_waittimes.estimator import APPOINTMENT, CALLED, CLOSED, ISSUED, NO_SHOW, OPENED, SERVED
from cityhub_waittimes.ingest import SOURCE, NewEvent, QueuePipeline, RecordResult
from cityhub_waittimes.messages import queue_state_message
from cityhub_waittimes.models import ACTIVE_CHECK_IN, CheckInRow, QueueHourRow

log = get_logger(__name__)

MAX_EVENTS = 500
MAX_HOURS = 2000
MAX_DAYS = 7
TICKET_KINDS = frozenset({ISSUED, CALLED, SERVED, NO_SHOW, APPOINTMENT})
COUNTER_KINDS = frozenset({OPENED, CLOSED})
PEOPLE = frozenset({"resident", ROLE_STAFF, ROLE_OPERATOR})


@dataclass(frozen=True)
class _Text:
    limit: int

    def check(self, field: str, value: str, *, required: bool) -> str:
        value = value.strip()
        if required and not value:
            raise InvalidArgument(f"{field} is required")
        if len(value) > self.limit:
            raise InvalidArgument(f"{field} is longer than {self.limit} characters")
        return value


EVENT_ID = _Text(100)
NAME = _Text(64)


def _may_feed(caller: Caller, center: Center, queues: set[str]) -> None:
    """Department systems and staff feed the queues of their department's services; operators and
    the platform itself any queue."""
    if caller.role in (ROLE_OPERATOR, ROLE_SERVICE):
        return
    if not caller.is_authenticated:
        raise Unauthenticated("sign-in or an API key required")
    if caller.role not in (ROLE_DEPARTMENT, ROLE_STAFF) or not caller.department:
        raise PermissionDenied("only the centre's departments feed its queues")
    for queue in sorted(queues):
        if caller.department not in center.queue_departments(queue):
            raise PermissionDenied(f"queue {queue} is not run by your department")


def _person(caller: Caller) -> str:
    if not caller.is_authenticated or caller.subject is None:
        raise Unauthenticated("sign-in required")
    if caller.role not in PEOPLE:
        raise PermissionDenied("check-ins are for people")
    return caller.subject


class WaitTimesService:
    def __init__(self, db: Database, centers: CenterDirectory, settings: WaitTimesSettings) -> None:
        self.db = db
        self.centers = centers
        self.settings = settings
        self.pipeline = QueuePipeline(
            db, reorder_window_s=settings.reorder_window_s, remind_ahead=settings.checkin_remind_ahead
        )

    # -- kiosk feed ---------------------------------------------------------------------------

    def _events(self, center: Center, events: Sequence[pb.QueueEvent]) -> list[NewEvent]:
        if not events:
            raise InvalidArgument("events must not be empty")
        if len(events) > MAX_EVENTS:
            raise InvalidArgument(f"at most {MAX_EVENTS} events per call")
        latest = now() + timedelta(seconds=self.settings.max_clock_skew_s)
        out = []
        for event in events:
            queue = NAME.check("queue", event.queue, required=True)
            center.queue_departments(queue)
            if event.kind in TICKET_KINDS:
                ticket, counter = (
                    NAME.check("ticket", event.ticket, required=True),
                    NAME.check("counter", event.counter, required=False),
                )
            elif event.kind in COUNTER_KINDS:
                ticket, counter = "", NAME.check("counter", event.counter, required=True)
            else:
                raise InvalidArgument("kind is not a queue event kind")
            if not event.HasField("occurred_at"):
                raise InvalidArgument("occurred_at is required")
            occurred = event.occurred_at.ToDatetime(tzinfo=UTC)
            if occurred > latest:
                raise InvalidArgument("occurred_at is in the future (check the kiosk clock)")
            out.append(
                NewEvent(
                    queue=queue,
                    event_id=EVENT_ID.check("event_id", event.event_id, required=True),
                    kind=event.kind,
                    occurred_at=occurred,
                    ticket=ticket,
                    counter=counter,
                )
            )
        return out

    async def record_events(self, caller: Caller, center_id: str, events: Sequence[pb.QueueEvent]) -> RecordResult:
        center = await self.centers.center(center_id)
        batch = self._events(center, events)
        _may_feed(caller, center, {e.queue for e in batch})
        tz = await self.centers.timezone()
        async with self.pipeline.turn(), self.db.transaction() as session:
            return await self.pipeline.record(session, center.id, batch, tz)

    async def import_history(self, caller: Caller, center_id: str, hours: Sequence[pb.HistoryHour]) -> int:
        center = await self.centers.center(center_id)
        if len(hours) > MAX_HOURS:
            raise InvalidArgument(f"at most {MAX_HOURS} hours per call")
        rows = []
        for hour in hours:
            center.queue_departments(hour.queue)
            start = hour.hour_start.ToDatetime(tzinfo=UTC)
            if start.minute or start.second or start.microsecond:
                raise InvalidArgument("hour_start must be on the hour")
            if start > now() or hour.arrivals < 0 or hour.waits < 0 or hour.mean_wait_s < 0:
                raise InvalidArgument("hours are past, with counts and waits that are not negative")
            rows.append(
                QueueHourRow(
                    center_id=center.id,
                    queue=hour.queue,
                    hour_start=start,
                    arrivals=hour.arrivals,
                    waits=hour.waits,
                    wait_sum_s=hour.waits * hour.mean_wait_s,
                )
            )
        _may_feed(caller, center, {r.queue for r in rows})
        async with self.db.transaction() as session:
            for row in rows:
                await repo.dao_put_hour(session, row)
        return len(rows)

    # -- reading ------------------------------------------------------------------------------

    async def states(self, center_id: str | None = None) -> list[pb.QueueState]:
        """Every catalog queue (of one centre, or all), with figures once it had events."""
        if center_id is not None:
            centers = [await self.centers.center(center_id)]
        else:
            centers = list((await self.centers.directory()).centers.values())
        async with self.db.session() as session:
            rows = {(r.center_id, r.queue): r for r in await repo.dao_states(session, center_id)}
        out = []
        for center in centers:
            for queue in center.queues:
                row = rows.get((center.id, queue))
                current = (row.published or {}).get("current") if row is not None else None
                out.append(queue_state_message(center.id, queue, current, row.version if row else 0))
        return out

    async def busy_hours(self, center_id: str, days: int) -> pb.GetBusyHoursResponse:
        if days < 0 or days > MAX_DAYS:
            raise InvalidArgument(f"days must be between 1 and {MAX_DAYS}")
        center = await self.centers.center(center_id)
        tz = await self.centers.timezone()
        moment = now()
        async with self.db.session() as session:
            rows = await repo.dao_hours_since(session, center.id, moment - timedelta(days=self.settings.history_days))
        return busy_hours(center, rows, tz, moment, days or 3)

    # -- remote check-in ----------------------------------------------------------------------

    async def create_check_in(
        self, caller: Caller, center_id: str, queue: str, *, appointment: bool, idempotency_key: str
    ) -> CheckInRow:
        account_id = _person(caller)
        center = await self.centers.center(center_id)
        center.queue_departments(queue)
        key = idempotency_key.strip()[:100]
        tz = await self.centers.timezone()
        async with self.pipeline.turn(), self.db.transaction() as session:
            if key and (replayed := await repo.dao_check_in_by_key(session, account_id, key)) is not None:
                return replayed
            for active in await repo.dao_check_ins_of(session, account_id, active_only=True):
                if active.center_id == center.id and active.queue == queue:
                    raise FailedPrecondition("you already hold a ticket in this queue")
            state = await repo.dao_get_state(session, center.id, queue)
            current = (state.published or {}).get("current") if state is not None else None
            if not current or not current["counters_open"]:
                raise FailedPrecondition("this queue is not serving now")
            check_in_id = uuid.uuid4().hex
            row = CheckInRow(
                id=check_in_id,
                account_id=account_id,
                center_id=center.id,
                queue=queue,
                ticket=f"R-{check_in_id[:6].upper()}",
                appointment=appointment,
                idempotency_key=key,
            )
            session.add(row)
            await session.flush()
            at = await self.pipeline.next_event_time(session, center.id, queue, now())
            kind = APPOINTMENT if appointment else ISSUED
            event = NewEvent(queue, f"checkin-{check_in_id}", kind, at, ticket=row.ticket)
            await self.pipeline.record(session, center.id, [event], tz)
            await session.flush()
            return row

    async def _end(self, session: AsyncSession, row: CheckInRow, status: str, tz: ZoneInfo) -> None:
        """Take a check-in's ticket out of the queue (cancel, no-show, erasure): the place is freed."""
        row.status = status
        row.ended_at = now()
        session.add(row)
        at = await self.pipeline.next_event_time(session, row.center_id, row.queue, now())
        event = NewEvent(row.queue, f"checkin-{row.id}-{status}", NO_SHOW, at, ticket=row.ticket)
        await self.pipeline.record(session, row.center_id, [event], tz)

    async def cancel_check_in(self, caller: Caller, check_in_id: str) -> CheckInRow:
        account_id = _person(caller)
        tz = await self.centers.timezone()
        async with self.pipeline.turn(), self.db.transaction() as session:
            row = await session.get(CheckInRow, check_in_id)
            if row is None or row.account_id != account_id:
                raise NotFound("check-in not found")
            if row.status not in ACTIVE_CHECK_IN:
                raise FailedPrecondition(f"the check-in is already {row.status}")
            await self._end(session, row, "cancelled", tz)
            return row

    async def list_check_ins(self, caller: Caller, *, active_only: bool) -> list[CheckInRow]:
        account_id = _person(caller)
        async with self.db.session() as session:
            return await repo.dao_check_ins_of(session, account_id, active_only=active_only)

    # -- background ---------------------------------------------------------------------------

    async def sweep_no_shows(self) -> int:
        """Called check-ins past the grace period without "served": no-show, and the counter is free."""
        cutoff = now() - timedelta(seconds=self.settings.checkin_grace_s)
        tz = await self.centers.timezone()
        async with self.db.session() as session:
            overdue = [row.id for row in await repo.dao_overdue_called(session, cutoff)]
        for check_in_id in overdue:
            async with self.pipeline.turn(), self.db.transaction() as session:
                row = await session.get(CheckInRow, check_in_id)
                if row is not None and row.status == "called":
                    await self._end(session, row, "no_show", tz)
        if overdue:
            log.info("waittimes.no_shows", count=len(overdue))
        retention = now() - timedelta(days=self.settings.event_retention_days)
        async with self.pipeline.turn(), self.db.transaction() as session:
            await repo.dao_prune_events(session, retention)
        return len(overdue)

    async def erase_account(self, session: AsyncSession, account_id: str) -> None:
        """On account deletion: free the places the person held, forget their check-ins, confirm."""
        tz = await self.centers.timezone()
        async with self.pipeline.turn():
            for row in await repo.dao_check_ins_of(session, account_id, active_only=True):
                await self._end(session, row, "cancelled", tz)
            await repo.dao_delete_check_ins_of(session, account_id)
        add_event(
            session,
            WAITTIMES_ACCOUNT_ERASED,
            identity_events.AccountErased(account_id=account_id, service=SOURCE, erased_at=to_timestamp(now())),
            source=SOURCE,
        )
