"""Busy hours: an hour-of-week profile per queue from its past hours, laid over the centre's
opening hours in the coming days.

Each queue's past hours (live, settled events plus imported kiosk reports) are grouped by local
weekday and hour. The expected wait of an hour is the mean wait of the tickets taken in it; the
arrivals per hour are averaged over the days that hour had figures. Only open hours are offered:
slots start at each opening time and run an hour at a time until closing; a slot already over is
left out. The best times are the open slots with history and the shortest expected wait (then the
fewest arrivals, then the soonest).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cityhub.waittimes.v1 import waittimes_pb2 as pb
from cityhub_sdk.timestamps import to_timestamp, utc

from cityhub_waittimes.centers import WEEKDAYS, Center
from cityhub_waittimes.models import QueueHourRow

BEST_PER_QUEUE = 3
BEST_OVERALL = 5


@dataclass
class _Profile:
    days: set[date]
    arrivals: int = 0
    waits: int = 0
    wait_sum_s: float = 0.0

    @property
    def mean_wait_s(self) -> float:
        return self.wait_sum_s / self.waits if self.waits else 0.0

    @property
    def arrivals_per_hour(self) -> float:
        return self.arrivals / len(self.days) if self.days else 0.0


def _profiles(
    rows: Iterable[QueueHourRow], tz: ZoneInfo
) -> tuple[dict[str, dict[tuple[int, int], _Profile]], dict[str, set[date]]]:
    profiles: dict[str, dict[tuple[int, int], _Profile]] = {}
    days: dict[str, set[date]] = {}
    for row in rows:
        local = utc(row.hour_start).astimezone(tz)
        slot = profiles.setdefault(row.queue, {}).setdefault((local.weekday(), local.hour), _Profile(set()))
        slot.days.add(local.date())
        slot.arrivals += row.arrivals
        slot.waits += row.waits
        slot.wait_sum_s += row.wait_sum_s
        days.setdefault(row.queue, set()).add(local.date())
    return profiles, days


def _open_slots(center: Center, tz: ZoneInfo, now: datetime, days: int) -> list[tuple[datetime, datetime]]:
    today = now.astimezone(tz).date()
    slots = []
    for offset in range(days):
        day = today + timedelta(days=offset)
        for opens, closes in center.hours.get(WEEKDAYS[day.weekday()], ()):
            start = datetime.combine(day, time.fromisoformat(opens), tz)
            end_of_day = datetime.combine(day, time.fromisoformat(closes), tz)
            while start < end_of_day:
                end = min(start + timedelta(hours=1), end_of_day)
                if end > now:
                    slots.append((start, end))
                start = end
    return slots


def _slot(queue: str, start: datetime, end: datetime, profile: _Profile | None, busiest: float) -> pb.BusySlot:
    slot = pb.BusySlot(queue=queue, starts_at=to_timestamp(start), ends_at=to_timestamp(end))
    if profile is not None and profile.waits:
        slot.has_history = True
        slot.expected_wait_s = round(profile.mean_wait_s)
        slot.arrivals_per_hour = round(profile.arrivals_per_hour, 2)
        slot.level = round(profile.mean_wait_s / busiest, 3) if busiest > 0 else 0.0
    return slot


def _rank(slot: pb.BusySlot) -> tuple[int, float, int]:
    return (slot.expected_wait_s, slot.arrivals_per_hour, slot.starts_at.seconds)


def busy_hours(
    center: Center, rows: Iterable[QueueHourRow], tz: ZoneInfo, now: datetime, days: int
) -> pb.GetBusyHoursResponse:
    profiles, history_days = _profiles(rows, tz)
    slots = _open_slots(center, tz, now, days)
    response = pb.GetBusyHoursResponse(center_id=center.id, timezone=str(tz))
    for queue in center.queues:
        profile = profiles.get(queue, {})
        busiest = max((p.mean_wait_s for p in profile.values()), default=0.0)
        queue_slots = [_slot(queue, s, e, profile.get((s.weekday(), s.hour)), busiest) for s, e in slots]
        known = sorted((s for s in queue_slots if s.has_history), key=_rank)
        response.queues.append(
            pb.QueueBusyHours(
                queue=queue,
                slots=queue_slots,
                best=known[:BEST_PER_QUEUE],
                days_of_history=len(history_days.get(queue, ())),
            )
        )
    every = sorted((s for q in response.queues for s in q.slots if s.has_history), key=_rank)
    response.best.extend(every[:BEST_OVERALL])
    return response
