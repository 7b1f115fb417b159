"""The events notifications reacts to, in one table: subject -> handler.

Every handler runs inside the SDK consumer's transaction together with the processed-event
record, so an event is turned into notifications exactly once in effect. New sources join by
adding a subject and a handler to the table (the stream's consumer follows from the registry);
waittimes' check-in reminders and calls reach one resident each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import h3
from cityhub.identity.v1 import events_pb2 as identity_events
from cityhub.incidents.v1 import events_pb2 as incidents_events
from cityhub.notifications.v1 import events_pb2 as notification_events
from cityhub.waittimes.v1 import events_pb2 as waittimes_events
from cityhub_sdk.consumer import ConsumerSpec, Handler
from cityhub_sdk.events import Event
from cityhub_sdk.logging import get_logger
from cityhub_sdk.outbox import add_event
from cityhub_sdk.subjects import (
    IDENTITY_ACCOUNT_DELETED,
    INCIDENTS_ALERT_ENDED,
    INCIDENTS_ALERT_PUBLISHED,
    INCIDENTS_ALERT_UPDATED,
    INCIDENTS_REPORT_CREATED,
    INCIDENTS_REPORT_FOLLOWED,
    INCIDENTS_REPORT_STATUS_CHANGED,
    INCIDENTS_REPORT_UNFOLLOWED,
    NOTIFICATIONS_ACCOUNT_ERASED,
    NOTIFICATIONS_CREATED,
    SUBJECTS,
    WAITTIMES_CHECKIN_CALLED,
    WAITTIMES_CHECKIN_REMINDED,
)
from cityhub_sdk.tables import utcnow
from cityhub_sdk.timestamps import now, to_timestamp
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_notifications.cells import ALERT_RESOLUTION, cell_at, cell_from_string, covering_cells, r7_cells
from cityhub_notifications.config import NotificationsSettings
from cityhub_notifications.directory import AccountDirectory, IdentityUnavailable
from cityhub_notifications.fanout import FanOut, Recipients, insert_deliveries, insert_notifications
from cityhub_notifications.metrics import DeliveryMetrics
from cityhub_notifications.models import URGENCY_NORMAL, URGENCY_URGENT
from cityhub_notifications.repository import (
    dao_ensure_preferences,
    dao_erase_account,
    dao_follow_report,
    dao_unfollow_report,
)
from cityhub_notifications.templates import Param, Renderer, category_label, status_label

log = get_logger(__name__)

SOURCE = "notifications"

URGENCY_TO_PROTO = {
    URGENCY_NORMAL: notification_events.URGENCY_NORMAL,
    URGENCY_URGENT: notification_events.URGENCY_URGENT,
}


class EventHandlers:
    """Turns platform events into notifications; one method per subject."""

    def __init__(
        self, renderer: Renderer, settings: NotificationsSettings, metrics: DeliveryMetrics, directory: AccountDirectory
    ) -> None:
        self.renderer = renderer
        self.directory = directory
        self.settings = settings
        self.metrics = metrics
        self.table: dict[str, Callable[[AsyncSession, Event], Awaitable[None]]] = {
            INCIDENTS_REPORT_CREATED: self.report_created,
            INCIDENTS_REPORT_STATUS_CHANGED: self.report_status_changed,
            INCIDENTS_REPORT_FOLLOWED: self.report_followed,
            INCIDENTS_REPORT_UNFOLLOWED: self.report_unfollowed,
            INCIDENTS_ALERT_PUBLISHED: self.alert_published,
            INCIDENTS_ALERT_UPDATED: self.alert_updated,
            INCIDENTS_ALERT_ENDED: self.alert_ended,
            IDENTITY_ACCOUNT_DELETED: self.account_deleted,
            WAITTIMES_CHECKIN_REMINDED: self.check_in_reminded,
            WAITTIMES_CHECKIN_CALLED: self.check_in_called,
        }

    async def handle(self, session: AsyncSession, event: Event) -> None:
        handler = self.table.get(event.subject)
        if handler is None:
            log.info("notifications.event_ignored", subject=event.subject)
            return
        await handler(session, event)

    def consumers(self) -> list[tuple[ConsumerSpec, Handler]]:
        """One durable consumer per source stream, over the subjects of the table (the registry
        says which stream captures each subject)."""
        by_stream: dict[str, list[str]] = {}
        for subject in self.table:
            by_stream.setdefault(SUBJECTS[subject].stream, []).append(subject)
        return [
            (ConsumerSpec(durable=f"notifications-{stream.lower()}", stream=stream, subjects=names), self.handle)
            for stream, names in by_stream.items()
        ]

    # --- incidents -----------------------------------------------------------------------------

    async def report_created(self, session: AsyncSession, event: Event) -> None:
        message = event.decode(incidents_events.ReportCreated)
        cell = cell_from_string(message.h3_cell_r9) or cell_at(message.lat, message.lon)
        recipients = Recipients(
            sql=(
                "SELECT account_id FROM area_cells WHERE cell = :cell "
                "UNION SELECT account_id FROM subscriptions WHERE kind = 'topic' AND ("
                "(topic_type = 'department' AND topic_value = :department) "
                "OR (topic_type = 'service' AND topic_value = :category))"
            ),
            params={"cell": cell, "department": message.department, "category": message.category},
        )
        params: dict[str, Param] = {
            "category": category_label(message.category),
            "status": status_label(message.status),
        }
        data = {"report_id": message.report_id, "category": message.category}
        await self._fan_out(
            session,
            event,
            "report.created.nearby",
            f"report:{message.report_id}",
            URGENCY_NORMAL,
            params,
            data,
            [recipients],
        )

    async def report_status_changed(self, session: AsyncSession, event: Event) -> None:
        message = event.decode(incidents_events.ReportStatusChanged)
        recipients = Recipients(
            sql="SELECT account_id FROM subscriptions WHERE kind = 'report' AND report_id = :report_id",
            params={"report_id": message.report_id},
        )
        params: dict[str, Param] = {
            "category": category_label(message.category),
            "status": status_label(message.new_status),
            "note": message.public_note,
        }
        data = {"report_id": message.report_id, "status": message.new_status}
        await self._fan_out(
            session,
            event,
            "report.status_changed",
            f"report:{message.report_id}",
            URGENCY_NORMAL,
            params,
            data,
            [recipients],
        )

    async def report_followed(self, session: AsyncSession, event: Event) -> None:
        message = event.decode(incidents_events.ReportFollowed)
        await dao_follow_report(session, message.account_id, message.report_id)
        try:
            contact = await self.directory.contact(message.account_id)
        except IdentityUnavailable:
            contact = None  # the language is refreshed at the next send or preference read
        language = contact.language if contact is not None else None
        await dao_ensure_preferences(session, message.account_id, language, self.settings)

    async def report_unfollowed(self, session: AsyncSession, event: Event) -> None:
        message = event.decode(incidents_events.ReportUnfollowed)
        await dao_unfollow_report(session, message.account_id, message.report_id)

    async def alert_published(self, session: AsyncSession, event: Event) -> None:
        await self._alert(session, event, event.decode(incidents_events.AlertPublished).alert, "alert.published")

    async def alert_updated(self, session: AsyncSession, event: Event) -> None:
        await self._alert(session, event, event.decode(incidents_events.AlertUpdated).alert, "alert.updated")

    async def alert_ended(self, session: AsyncSession, event: Event) -> None:
        message = event.decode(incidents_events.AlertEnded)
        ref = f"alert:{message.alert_id}"
        recipients = Recipients(
            sql=(
                "SELECT DISTINCT account_id FROM notifications WHERE ref = :ref "
                "AND event_type IN ('alert.published', 'alert.updated')"
            ),
            params={"ref": ref},
        )
        await self._fan_out(
            session, event, "alert.ended", ref, URGENCY_NORMAL, {}, {"alert_id": message.alert_id}, [recipients]
        )

    async def _alert(self, session: AsyncSession, event: Event, alert: incidents_events.Alert, event_type: str) -> None:
        cells = r7_cells(list(alert.h3_cells_r7)) or _alert_cells(alert)
        chunk = max(1, self.settings.fanout_chunk_cells)
        sources = [
            Recipients(
                sql="SELECT DISTINCT account_id FROM area_cells WHERE cell_r7 IN :cells",
                params={"cells": cells[start : start + chunk]},
                expanding=("cells",),
            )
            for start in range(0, len(cells), chunk)
        ]
        sources.append(
            Recipients(
                sql=(
                    "SELECT account_id FROM subscriptions WHERE kind = 'topic' AND ("
                    "(topic_type = 'alert_kind' AND topic_value = :kind) "
                    "OR (topic_type = 'department' AND topic_value = :department))"
                ),
                params={"kind": alert.kind, "department": alert.department},
            )
        )
        urgency = URGENCY_URGENT if alert.severity == "urgent" else URGENCY_NORMAL
        params: dict[str, Param] = {"alert_title": dict(alert.title), "alert_body": dict(alert.body)}
        data = {"alert_id": alert.alert_id, "kind": alert.kind, "severity": alert.severity}
        await self._fan_out(session, event, event_type, f"alert:{alert.alert_id}", urgency, params, data, sources)

    async def _fan_out(
        self,
        session: AsyncSession,
        event: Event,
        event_type: str,
        ref: str,
        urgency: int,
        params: dict[str, Param],
        data: dict[str, str],
        sources: Sequence[Recipients],
    ) -> None:
        fan_out = FanOut(
            source_event_id=event.id,
            event_type=event_type,
            ref=ref,
            urgency=urgency,
            rendered=self.renderer.render_all(event_type, params),
            data=data,
            event_time=event.time,
        )
        inserted: list[tuple[str, str]] = []
        for recipients in sources:
            inserted.extend(await insert_notifications(session, fan_out, recipients))
        if not inserted:
            return
        await insert_deliveries(session, event.id)
        size = max(1, self.settings.refs_per_event)
        for start in range(0, len(inserted), size):
            refs = [
                notification_events.NotificationRef(
                    notification_id=notification_id,
                    account_id=account_id,
                    urgency=URGENCY_TO_PROTO[urgency],
                    event_type=event_type,
                )
                for notification_id, account_id in inserted[start : start + size]
            ]
            add_event(
                session,
                NOTIFICATIONS_CREATED,
                notification_events.NotificationsCreated(notifications=refs, source_event_id=event.id),
                source=SOURCE,
            )
        self.metrics.record("inbox", event.time, utcnow(), len(inserted))
        log.info("notifications.fanned_out", event_type=event_type, count=len(inserted))

    # --- waittimes -----------------------------------------------------------------------------

    async def check_in_reminded(self, session: AsyncSession, event: Event) -> None:
        message = event.decode(waittimes_events.CheckInReminded)
        params: dict[str, Param] = {"ticket": message.ticket, "people_ahead": str(message.people_ahead)}
        data = {"check_in_id": message.check_in_id, "center_id": message.center_id, "queue": message.queue}
        await self._to_one(
            session, event, message.account_id, "checkin.reminded", message.check_in_id, URGENCY_NORMAL, params, data
        )

    async def check_in_called(self, session: AsyncSession, event: Event) -> None:
        message = event.decode(waittimes_events.CheckInCalled)
        params: dict[str, Param] = {"ticket": message.ticket, "counter": message.counter}
        data = {"check_in_id": message.check_in_id, "center_id": message.center_id, "counter": message.counter}
        await self._to_one(
            session, event, message.account_id, "checkin.called", message.check_in_id, URGENCY_URGENT, params, data
        )

    async def _to_one(
        self,
        session: AsyncSession,
        event: Event,
        account_id: str,
        event_type: str,
        check_in_id: str,
        urgency: int,
        params: dict[str, Param],
        data: dict[str, str],
    ) -> None:
        """One resident's own notification, in their language (kept current from identity)."""
        if not account_id:
            return
        try:
            contact = await self.directory.contact(account_id)
        except IdentityUnavailable:
            contact = None  # the stored language (or English) is used this time
        await dao_ensure_preferences(
            session, account_id, contact.language if contact is not None else None, self.settings
        )
        await session.flush()  # the set-based insert reads the preferences row
        recipients = Recipients(
            sql="SELECT CAST(:account_id AS VARCHAR(64)) AS account_id", params={"account_id": account_id}
        )
        await self._fan_out(session, event, event_type, f"checkin:{check_in_id}", urgency, params, data, [recipients])

    # --- identity ------------------------------------------------------------------------------

    async def account_deleted(self, session: AsyncSession, event: Event) -> None:
        message = event.decode(identity_events.AccountDeleted)
        await dao_erase_account(session, message.account_id)
        add_event(
            session,
            NOTIFICATIONS_ACCOUNT_ERASED,
            identity_events.AccountErased(account_id=message.account_id, service=SOURCE, erased_at=to_timestamp(now())),
            source=SOURCE,
        )


def _alert_cells(alert: incidents_events.Alert) -> list[int]:
    """Res-7 cells of an alert published without them: from its polygon, else its circle."""
    if len(alert.polygon) >= 3:
        shape = h3.LatLngPoly([(point.lat, point.lon) for point in alert.polygon])
        return sorted(int(h3.str_to_int(cell)) for cell in h3.polygon_to_cells(shape, ALERT_RESOLUTION))
    if alert.radius_m > 0:
        return covering_cells(alert.center_lat, alert.center_lon, alert.radius_m, ALERT_RESOLUTION)
    return []


__all__ = ["EventHandlers"]
