"""Subscriptions, fan-out into the inbox and the inbox RPCs, against real identity, NATS and a database."""

from __future__ import annotations

import json

import grpc
import h3
import pytest
from cityhub.identity.v1 import events_pb2 as identity_events
from cityhub.incidents.v1 import events_pb2 as incidents
from cityhub.notifications.v1 import events_pb2 as notification_events
from cityhub.notifications.v1 import notifications_pb2 as pb
from cityhub_sdk import subjects
from cityhub_sdk.app import RunningService
from cityhub_sdk.testing import eventually
from sqlalchemy import text

from .conftest import Publish, ResidentFactory, settle

HOME = (47.6062, -122.3321)
METRES_PER_DEGREE = 111_320.0


def north_of(origin: tuple[float, float], metres: float) -> tuple[float, float]:
    return origin[0] + metres / METRES_PER_DEGREE, origin[1]


def report_created(report_id: str, at: tuple[float, float], category: str = "pothole") -> incidents.ReportCreated:
    return incidents.ReportCreated(
        report_id=report_id,
        category=category,
        department="transportation",
        lat=at[0],
        lon=at[1],
        h3_cell_r9=h3.latlng_to_cell(at[0], at[1], 9),
        status="open",
    )


async def count(service: RunningService, sql: str, **params: object) -> int:  # type: ignore[type-arg]
    async with service.db.session() as session:
        connection = await session.connection()
        return int((await connection.execute(text(sql), params)).scalar_one())


async def inbox(resident, **kwargs: object) -> pb.ListNotificationsResponse:  # type: ignore[no-untyped-def]
    return await resident.notifications.ListNotifications(
        pb.ListNotificationsRequest(**kwargs), metadata=resident.metadata
    )


async def subscribe_home(resident, radius_m: int = 500, at: tuple[float, float] = HOME) -> pb.Subscription:  # type: ignore[no-untyped-def]
    place_id = await resident.save_place("home", *at)
    response = await resident.notifications.CreateSubscription(
        pb.CreateSubscriptionRequest(kind=pb.SUBSCRIPTION_KIND_AREA, place_id=place_id, radius_m=radius_m),
        metadata=resident.metadata,
    )
    return response.subscription


async def test_area_subscription_matches_nearby_reports_only(
    residents: ResidentFactory,
    publish: Publish,
    notifications_service: RunningService,  # type: ignore[type-arg]
) -> None:
    ann = await residents("ann@example.org", language="vi")
    far = await residents("cho@example.org")
    subscription = await subscribe_home(ann)
    await subscribe_home(far, at=north_of(HOME, 3000))
    assert subscription.cell_count > 0 and subscription.radius_m == 500

    await publish(subjects.INCIDENTS_REPORT_CREATED, report_created("r-1", north_of(HOME, 200)))
    await eventually(lambda: _has_one(ann), 10)
    page = await inbox(ann)
    note = page.notifications[0]
    assert note.event_type == "report.created.nearby"
    assert note.lang == "vi" and note.title.startswith("Báo cáo mới gần bạn")
    assert note.data["report_id"] == "r-1"
    assert page.unread_count == 1
    await settle()
    assert len((await inbox(far)).notifications) == 0
    # Only cells were stored for the area: no coordinates anywhere in the subscription tables.
    assert await count(notifications_service, "SELECT count(*) FROM area_cells") > 0


async def _has_one(resident) -> bool:  # type: ignore[no-untyped-def]
    return len((await inbox(resident)).notifications) == 1


async def test_redelivered_event_gives_one_notification(
    residents: ResidentFactory,
    publish: Publish,
    notifications_service: RunningService,  # type: ignore[type-arg]
) -> None:
    ann = await residents("ann@example.org")
    await subscribe_home(ann)
    # Two overlapping areas (home and work) and the same event delivered twice still make one notification.
    work = await ann.save_place("work", *north_of(HOME, 300))
    await ann.notifications.CreateSubscription(
        pb.CreateSubscriptionRequest(kind=pb.SUBSCRIPTION_KIND_AREA, place_id=work, radius_m=500), metadata=ann.metadata
    )
    message = report_created("r-2", north_of(HOME, 150))
    event_id = await publish(subjects.INCIDENTS_REPORT_CREATED, message)
    await eventually(lambda: _has_one(ann), 10)
    # Redelivery after JetStream's duplicate window is simulated by deleting the de-dup record.
    async with notifications_service.db.transaction() as session:
        await (await session.connection()).execute(text("DELETE FROM processed_events"))
    await publish(subjects.INCIDENTS_REPORT_CREATED, message, event_id=event_id)
    await publish(subjects.INCIDENTS_REPORT_CREATED, report_created("r-3", north_of(HOME, 100)))
    await eventually(lambda: _count_is(ann, 2), 10)
    assert (
        await count(notifications_service, "SELECT count(*) FROM notifications WHERE source_event_id = :e", e=event_id)
        == 1
    )


async def _count_is(resident, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return len((await inbox(resident)).notifications) == expected


async def test_followers_get_status_changes_and_inbox_rpcs(residents: ResidentFactory, publish: Publish) -> None:
    ann = await residents("ann@example.org", language="ja")
    bob = await residents("bob@example.org")
    await publish(
        subjects.INCIDENTS_REPORT_FOLLOWED, incidents.ReportFollowed(report_id="r-9", account_id=ann.account_id)
    )
    change = incidents.ReportStatusChanged(
        report_id="r-9", category="pothole", old_status="open", new_status="fixed", public_note="Filled."
    )
    await eventually(lambda: _subscribed_to_report(ann), 10)
    await publish(subjects.INCIDENTS_REPORT_STATUS_CHANGED, change)
    await eventually(lambda: _has_one(ann), 10)
    note = (await inbox(ann)).notifications[0]
    assert note.event_type == "report.status_changed" and "修理済み" in note.title and note.lang == "ja"

    # Another resident cannot see or mark it: NOT_FOUND, never PERMISSION_DENIED.
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await bob.notifications.GetNotification(
            pb.GetNotificationRequest(notification_id=note.notification_id), metadata=bob.metadata
        )
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    marked = await ann.notifications.MarkNotificationRead(
        pb.MarkNotificationReadRequest(notification_id=note.notification_id), metadata=ann.metadata
    )
    assert marked.notification.read and marked.unread_count == 0
    assert (await inbox(ann, unread_only=True)).notifications == []

    await publish(
        subjects.INCIDENTS_REPORT_UNFOLLOWED, incidents.ReportUnfollowed(report_id="r-9", account_id=ann.account_id)
    )
    await eventually(lambda: _not_subscribed(ann), 10)


async def _subscribed_to_report(resident) -> bool:  # type: ignore[no-untyped-def]
    listed = await resident.notifications.ListSubscriptions(pb.ListSubscriptionsRequest(), metadata=resident.metadata)
    return any(s.kind == pb.SUBSCRIPTION_KIND_REPORT for s in listed.subscriptions)


async def _not_subscribed(resident) -> bool:  # type: ignore[no-untyped-def]
    return not await _subscribed_to_report(resident)


async def test_alert_fans_out_by_cell_and_topic_then_ends(
    residents: ResidentFactory,
    publish: Publish,
    notifications_service: RunningService,  # type: ignore[type-arg]
) -> None:
    ann = await residents("ann@example.org", language="fa")
    dan = await residents("dan@example.org")
    far = await residents("far@example.org")
    await subscribe_home(ann)
    await subscribe_home(far, at=north_of(HOME, 20_000))
    await dan.notifications.CreateSubscription(
        pb.CreateSubscriptionRequest(kind=pb.SUBSCRIPTION_KIND_TOPIC, topic_type="alert_kind", topic_value="water"),
        metadata=dan.metadata,
    )
    alert = incidents.Alert(
        alert_id="a-1",
        department="utilities",
        kind="water",
        severity="urgent",
        center_lat=HOME[0],
        center_lon=HOME[1],
        radius_m=1000,
        h3_cells_r7=[h3.latlng_to_cell(HOME[0], HOME[1], 7)],
        title={"en": "Boil water", "fa": "آب را بجوشانید"},
        body={"en": "Boil tap water before drinking.", "fa": "آب لوله‌کشی را قبل از نوشیدن بجوشانید."},
    )
    await publish(subjects.INCIDENTS_ALERT_PUBLISHED, incidents.AlertPublished(alert=alert))
    await eventually(lambda: _has_one(ann), 10)
    await eventually(lambda: _has_one(dan), 10)
    ann_note = (await inbox(ann)).notifications[0]
    assert ann_note.urgency == notification_events.URGENCY_URGENT
    assert ann_note.lang == "fa" and "آب را بجوشانید" in ann_note.title
    assert (await inbox(dan)).notifications[0].title == "Alert: Boil water"
    await settle()
    assert (await inbox(far)).notifications == []

    await publish(subjects.INCIDENTS_ALERT_ENDED, incidents.AlertEnded(alert_id="a-1"))
    await eventually(lambda: _count_is(ann, 2), 10)
    await eventually(lambda: _count_is(dan, 2), 10)
    assert (
        await count(notifications_service, "SELECT count(*) FROM notifications WHERE event_type = 'alert.ended'") == 2
    )


async def test_account_deleted_erases_everything_and_confirms(
    residents: ResidentFactory,
    publish: Publish,
    notifications_service: RunningService,
    bus,  # type: ignore[no-untyped-def]
) -> None:
    ann = await residents("ann@example.org")
    await subscribe_home(ann)
    await publish(subjects.INCIDENTS_REPORT_CREATED, report_created("r-5", north_of(HOME, 100)))
    await eventually(lambda: _has_one(ann), 10)
    exported = await ann.notifications.ExportAccountData(pb.ExportAccountDataRequest(), metadata=ann.metadata)
    document = json.loads(exported.json)
    assert len(document["subscriptions"]) == 1 and len(document["notifications"]) == 1

    confirmations = await bus.js.pull_subscribe(subjects.NOTIFICATIONS_ACCOUNT_ERASED, durable="test-erased")
    await publish(subjects.IDENTITY_ACCOUNT_DELETED, identity_events.AccountDeleted(account_id=ann.account_id))

    async def erased() -> bool:
        tables = ("subscriptions", "area_cells", "notifications", "preferences", "deliveries")
        totals = [
            await count(notifications_service, f"SELECT count(*) FROM {t} WHERE account_id = :a", a=ann.account_id)
            for t in tables
        ]
        return sum(totals) == 0

    await eventually(erased, 10)
    messages = await confirmations.fetch(1, timeout=10)
    confirmed = identity_events.AccountErased.FromString(messages[0].data)
    assert confirmed.account_id == ann.account_id and confirmed.service == "notifications"


async def test_invalid_subscriptions_are_refused_and_write_nothing(
    residents: ResidentFactory,
    notifications_service: RunningService,  # type: ignore[type-arg]
) -> None:
    ann = await residents("ann@example.org")
    bob = await residents("bob@example.org")
    bob_place = await bob.save_place("home", *HOME)
    cases = [
        (
            pb.CreateSubscriptionRequest(kind=pb.SUBSCRIPTION_KIND_AREA, place_id="nope", radius_m=500),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            pb.CreateSubscriptionRequest(kind=pb.SUBSCRIPTION_KIND_AREA, place_id=bob_place, radius_m=500),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            pb.CreateSubscriptionRequest(kind=pb.SUBSCRIPTION_KIND_AREA, place_id=bob_place, radius_m=50_000),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            pb.CreateSubscriptionRequest(kind=pb.SUBSCRIPTION_KIND_TOPIC, topic_type="weather", topic_value="x"),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (pb.CreateSubscriptionRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (pb.CreateSubscriptionRequest(radius_m=500), grpc.StatusCode.INVALID_ARGUMENT),
    ]
    for request, code in cases:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await ann.notifications.CreateSubscription(request, metadata=ann.metadata)
        assert error.value.code() == code, request
    assert await count(notifications_service, "SELECT count(*) FROM subscriptions") == 0
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await ann.notifications.ListNotifications(pb.ListNotificationsRequest())
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_inbox_pages_with_sdk_tokens_and_a_kind_is_read_from_the_fields(
    residents: ResidentFactory, publish: Publish
) -> None:
    ann = await residents("ann@example.org")
    place_id = await ann.save_place("home", *HOME)
    area = await ann.notifications.CreateSubscription(
        pb.CreateSubscriptionRequest(place_id=place_id, radius_m=500), metadata=ann.metadata
    )
    assert area.created and area.subscription.kind == pb.SUBSCRIPTION_KIND_AREA
    for index in range(3):
        await publish(subjects.INCIDENTS_REPORT_CREATED, report_created(f"r-p{index}", north_of(HOME, 100 + index)))
    await eventually(lambda: _count_is(ann, 3), 10)

    first = await inbox(ann, page_size=2)
    assert len(first.notifications) == 2 and first.next_page_token and first.unread_count == 3
    second = await inbox(ann, page_size=2, page_token=first.next_page_token)
    assert len(second.notifications) == 1 and second.next_page_token == ""
    seen = {n.notification_id for n in [*first.notifications, *second.notifications]}
    assert len(seen) == 3
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await inbox(ann, page_token="not-a-token")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in (error.value.details() or "")
