"""When a non-urgent message may go out: quiet hours in the resident's time zone and a rate limit."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def parse_clock(value: str) -> time | None:
    if not value:
        return None
    hours, _, minutes = value.partition(":")
    try:
        return time(int(hours), int(minutes or 0))
    except ValueError:
        return None


def valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def quiet_until(now: datetime, start: str, end: str, zone: str) -> datetime | None:
    """The UTC end of the quiet period `now` falls in, or None when it is not quiet now."""
    begin, finish = parse_clock(start), parse_clock(end)
    if begin is None or finish is None or begin == finish:
        return None
    local = now.astimezone(ZoneInfo(zone))
    clock = local.time().replace(tzinfo=None)
    quiet = begin <= clock < finish if begin < finish else (clock >= begin or clock < finish)
    if not quiet:
        return None
    end_local = local.replace(hour=finish.hour, minute=finish.minute, second=0, microsecond=0)
    if end_local <= local:
        end_local += timedelta(days=1)
    return end_local.astimezone(UTC)
