"""Quiet hours and the hourly limit, through the running service's dispatcher with a pinned clock:
the inbox gets everything at once; push/email of non-urgent messages are held (and say why);
urgent alerts go through. The clock is injected, so nothing depends on the wall clock's hour."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import h3
import pytest
from cityhub.incidents.v1 import events_pb2 as incidents
from cityhub.notifications.v1 import notifications_pb2 as pb
from cityhub_notifications.app import DEFINITION as NOTIFICATIONS
from cityhub_notifications.app import make_setup
from cityhub_notifications.dispatcher import HELD_QUIET_HOURS, HELD_RATE_LIMIT
from cityhub_sdk import subjects
from cityhub_sdk.app import RunningService
from cityhub_sdk.tables import utcnow
from cityhub_sdk.testing import eventually, start_service
from sqlalchemy import text

from .conftest import Publish, Resident, ResidentFactory
from .test_inbox import HOME, count, inbox, north_of, report_created, subscribe_home

LA = ZoneInfo("America/Los_Angeles")


class Clock:
    """The dispatcher's "now": the real time unless pinned."""

    def __init__(self) -> None:
        self.pinned: datetime | None = None

    def __call__(self) -> datetime:
        return self.pinned or utcnow()


def next_local(hour: int, minute: int) -> datetime:
    """The next instant (after the real now, so rows created now are already due) at this LA wall time."""
    local = utcnow().astimezone(LA)
    candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def notifications_service(  # overrides conftest: the same service with the test's clock
    database_url: str, clean_nats: str, notifications_env: dict[str, Any], clock: Clock
) -> AsyncIterator[RunningService]:  # type: ignore[type-arg]
    definition = dataclasses.replace(NOTIFICATIONS, setup=make_setup(clock))
    async with start_service(definition, database_url, clean_nats, **notifications_env) as service:
        yield service


async def set_preferences(resident: Resident, **fields: Any) -> None:
    await resident.notifications.UpdateNotificationPreferences(
        pb.UpdateNotificationPreferencesRequest(
            preferences=pb.NotificationPreferences(channels=["push", "email"], **fields)
        ),
        metadata=resident.metadata,
    )


def urgent_water_alert(alert_id: str) -> incidents.AlertPublished:
    alert = incidents.Alert(
        alert_id=alert_id,
        department="utilities",
        kind="water",
        severity="urgent",
        center_lat=HOME[0],
        center_lon=HOME[1],
        radius_m=1000,
        h3_cells_r7=[h3.latlng_to_cell(HOME[0], HOME[1], 7)],
        title={"en": "Boil water"},
        body={"en": "Boil tap water before drinking."},
    )
    return incidents.AlertPublished(alert=alert)


async def deliveries(service: RunningService) -> list[tuple[str, int, str | None, datetime]]:  # type: ignore[type-arg]
    async with service.db.session() as session:
        connection = await session.connection()
        rows = await connection.execute(
            text("SELECT status, urgency, last_error, next_attempt_at FROM deliveries ORDER BY id")
        )
        return [(str(s), int(u), e, n if isinstance(n, datetime) else datetime.fromisoformat(n)) for s, u, e, n in rows]


async def test_quiet_hours_hold_normal_mail_until_they_end_but_not_urgent_alerts(
    residents: ResidentFactory,
    publish: Publish,
    smtp_server: Any,
    clock: Clock,
    notifications_service: RunningService,  # type: ignore[type-arg]
) -> None:
    _, sink = smtp_server
    ann = await residents("ann@example.org")
    await subscribe_home(ann)
    await ann.notifications.CreateSubscription(
        pb.CreateSubscriptionRequest(kind=pb.SUBSCRIPTION_KIND_TOPIC, topic_type="alert_kind", topic_value="water"),
        metadata=ann.metadata,
    )
    await set_preferences(ann, quiet_hours_start="22:00", quiet_hours_end="07:00", time_zone="America/Los_Angeles")
    night = next_local(23, 30)
    clock.pinned = night.astimezone(ZoneInfo("UTC"))

    await publish(subjects.INCIDENTS_REPORT_CREATED, report_created("r-night", north_of(HOME, 100)))
    await eventually(lambda: _inbox_size(ann, 1), 10)  # the inbox is never held

    async def held() -> bool:
        rows = await deliveries(notifications_service)
        return len(rows) == 1 and rows[0][0] == "created" and rows[0][2] == HELD_QUIET_HOURS

    await eventually(held, 10)
    (_, _, _, release_at) = (await deliveries(notifications_service))[0]
    release_local = release_at.replace(tzinfo=release_at.tzinfo or ZoneInfo("UTC")).astimezone(LA)
    assert (release_local.hour, release_local.minute) == (7, 0) and release_local.date() == night.date() + timedelta(1)
    assert sink.messages == []  # held before any channel was tried

    # An urgent alert in the same quiet hours goes out at once.
    await publish(subjects.INCIDENTS_ALERT_PUBLISHED, urgent_water_alert("a-night"))
    await eventually(lambda: len(sink.messages) == 1, 15)
    assert sink.messages[0]["Subject"] == "Alert: Boil water"
    assert (await deliveries(notifications_service))[0][0] == "created"  # the report's mail still waits

    # Morning comes (07:01 local): the held mail is sent without any new event.
    clock.pinned = (night + timedelta(hours=7, minutes=31)).astimezone(ZoneInfo("UTC"))
    await eventually(lambda: len(sink.messages) == 2, 15)
    assert "pothole" in str(sink.messages[1]["Subject"])


async def test_hourly_limit_holds_the_extra_mail_keeps_the_inbox_and_lets_urgent_through(
    residents: ResidentFactory,
    publish: Publish,
    smtp_server: Any,
    notifications_service: RunningService,  # type: ignore[type-arg]
) -> None:
    _, sink = smtp_server
    limit = 2
    bob = await residents("bob@example.org")
    await subscribe_home(bob)
    await bob.notifications.CreateSubscription(
        pb.CreateSubscriptionRequest(kind=pb.SUBSCRIPTION_KIND_TOPIC, topic_type="alert_kind", topic_value="water"),
        metadata=bob.metadata,
    )
    await set_preferences(bob, max_per_hour=limit)  # no quiet hours

    for index in range(limit + 1):
        await publish(subjects.INCIDENTS_REPORT_CREATED, report_created(f"r-{index}", north_of(HOME, 100 + index)))
    await eventually(lambda: _inbox_size(bob, limit + 1), 10)
    await eventually(lambda: len(sink.messages) == limit, 15)

    async def one_held() -> bool:
        rows = await deliveries(notifications_service)
        return [r[2] for r in rows if r[0] == "created"] == [HELD_RATE_LIMIT]

    await eventually(one_held, 10)
    assert len(sink.messages) == limit  # the held one was never handed to a channel
    sql = "SELECT count(*) FROM deliveries WHERE status = 'delivered'"
    assert await count(notifications_service, sql) == limit

    await publish(subjects.INCIDENTS_ALERT_PUBLISHED, urgent_water_alert("a-limit"))
    await eventually(lambda: len(sink.messages) == limit + 1, 15)
    assert sink.messages[-1]["Subject"] == "Alert: Boil water"
    assert len((await inbox(bob)).notifications) == limit + 2


async def _inbox_size(resident: Resident, expected: int) -> bool:
    return len((await inbox(resident)).notifications) == expected
