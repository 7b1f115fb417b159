"""Resident B, with B's own valid token, gets NOT_FOUND (never PERMISSION_DENIED) for every one of
A's objects by id, directly against the gRPC service; A's objects are untouched afterwards."""

from __future__ import annotations

import grpc
import pytest
from cityhub.incidents.v1 import events_pb2 as incidents
from cityhub.notifications.v1 import notifications_pb2 as pb
from cityhub_sdk import subjects
from cityhub_sdk.testing import eventually

from .conftest import Publish, ResidentFactory
from .test_inbox import inbox


async def test_another_residents_objects_are_not_found(residents: ResidentFactory, publish: Publish) -> None:
    ann = await residents("ann@example.org")
    bob = await residents("bob@example.org")
    await publish(
        subjects.INCIDENTS_REPORT_FOLLOWED, incidents.ReportFollowed(report_id="r-o", account_id=ann.account_id)
    )
    subscription = await ann.notifications.CreateSubscription(
        pb.CreateSubscriptionRequest(kind=pb.SUBSCRIPTION_KIND_TOPIC, topic_type="alert_kind", topic_value="water"),
        metadata=ann.metadata,
    )
    device = await ann.notifications.RegisterDevice(
        pb.RegisterDeviceRequest(endpoint="https://push.example.net/send/ann", p256dh="B" * 87, auth="A" * 22),
        metadata=ann.metadata,
    )

    async def following() -> bool:
        listed = await ann.notifications.ListSubscriptions(pb.ListSubscriptionsRequest(), metadata=ann.metadata)
        return len(listed.subscriptions) == 2

    await eventually(following, 10)
    change = incidents.ReportStatusChanged(report_id="r-o", category="pothole", old_status="open", new_status="fixed")
    await publish(subjects.INCIDENTS_REPORT_STATUS_CHANGED, change)
    await eventually(lambda: _inbox_size(ann, 1), 10)
    note_id = (await inbox(ann)).notifications[0].notification_id

    attempts = [
        bob.notifications.GetNotification(pb.GetNotificationRequest(notification_id=note_id), metadata=bob.metadata),
        bob.notifications.MarkNotificationRead(
            pb.MarkNotificationReadRequest(notification_id=note_id), metadata=bob.metadata
        ),
        bob.notifications.DeleteSubscription(
            pb.DeleteSubscriptionRequest(subscription_id=subscription.subscription.subscription_id),
            metadata=bob.metadata,
        ),
        bob.notifications.DeleteDevice(
            pb.DeleteDeviceRequest(device_id=device.device.device_id), metadata=bob.metadata
        ),
    ]
    for attempt in attempts:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await attempt
        assert error.value.code() == grpc.StatusCode.NOT_FOUND

    # Bob's own lists show nothing of Ann's, and read-all marks only his (none).
    assert (await inbox(bob)).notifications == []
    marked = await bob.notifications.MarkAllNotificationsRead(
        pb.MarkAllNotificationsReadRequest(), metadata=bob.metadata
    )
    assert marked.marked == 0
    assert (await bob.notifications.ListDevices(pb.ListDevicesRequest(), metadata=bob.metadata)).devices == []
    bobs = await bob.notifications.ListSubscriptions(pb.ListSubscriptionsRequest(), metadata=bob.metadata)
    assert bobs.subscriptions == []

    # Ann's objects are intact and still unread.
    page = await inbox(ann)
    assert page.unread_count == 1 and not page.notifications[0].read
    assert len((await ann.notifications.ListDevices(pb.ListDevicesRequest(), metadata=ann.metadata)).devices) == 1
    await eventually(following, 1)


async def _inbox_size(resident, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return len((await inbox(resident)).notifications) == expected
