"""Acceptance 4: the email reaches a real SMTP server (aiosmtpd) in the resident's language, after
push falls back because the resident has no device; attempts are recorded per channel."""

from __future__ import annotations

from typing import Any

from cityhub.notifications.v1 import notifications_pb2 as pb
from cityhub_sdk import subjects
from cityhub_sdk.app import RunningService
from cityhub_sdk.testing import eventually

from .conftest import Publish, ResidentFactory
from .test_inbox import HOME, count, north_of, report_created, subscribe_home


async def test_email_in_vietnamese_after_push_falls_back(
    residents: ResidentFactory,
    publish: Publish,
    smtp_server: Any,
    notifications_service: RunningService,  # type: ignore[type-arg]
) -> None:
    _, sink = smtp_server
    vy = await residents("vy@example.org", language="vi")
    await subscribe_home(vy)
    preferences = await vy.notifications.GetNotificationPreferences(
        pb.GetNotificationPreferencesRequest(), metadata=vy.metadata
    )
    assert list(preferences.preferences.channels) == ["push", "email"]
    assert preferences.preferences.language == "vi"

    await publish(subjects.INCIDENTS_REPORT_CREATED, report_created("r-vi", north_of(HOME, 200)))
    await eventually(lambda: len(sink.messages) == 1, 15)
    mail = sink.messages[0]
    assert mail["To"] == "vy@example.org"
    assert mail["Subject"] == "Báo cáo mới gần bạn: pothole"
    assert mail["Content-Language"] == "vi"
    body = mail.get_content()
    assert "Một cư dân đã báo cáo pothole gần địa điểm bạn đã lưu" in body
    assert "ứng dụng Lakeview" in body  # the footer too

    attempts = "SELECT count(*) FROM delivery_attempts WHERE channel = :c AND status = :s"
    assert await count(notifications_service, attempts, c="push", s="failed_permanent") == 1
    assert await count(notifications_service, attempts, c="email", s="delivered") == 1
    assert await count(notifications_service, "SELECT count(*) FROM deliveries WHERE status = 'delivered'") == 1


async def test_preferences_validate_and_inbox_only_sends_no_email(
    residents: ResidentFactory, publish: Publish, smtp_server: Any
) -> None:
    _, sink = smtp_server
    ann = await residents("ann@example.org")
    await subscribe_home(ann)
    updated = await ann.notifications.UpdateNotificationPreferences(
        pb.UpdateNotificationPreferencesRequest(
            preferences=pb.NotificationPreferences(
                channels=[], quiet_hours_start="22:00", quiet_hours_end="07:00", max_per_hour=5
            )
        ),
        metadata=ann.metadata,
    )
    assert updated.preferences.time_zone == "America/Los_Angeles" and list(updated.preferences.channels) == []
    await publish(subjects.INCIDENTS_REPORT_CREATED, report_created("r-x", north_of(HOME, 100)))

    async def in_inbox() -> bool:
        page = await ann.notifications.ListNotifications(pb.ListNotificationsRequest(), metadata=ann.metadata)
        return len(page.notifications) == 1

    await eventually(in_inbox, 10)
    assert sink.messages == []
