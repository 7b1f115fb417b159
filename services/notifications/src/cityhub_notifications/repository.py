"""Notifications queries in one place (dao_* functions take the caller's session)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from cityhub_sdk.languages import resolve_language
from cityhub_sdk.tables import utcnow
from sqlmodel import col, delete, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_notifications.cells import parent_r7
from cityhub_notifications.config import NotificationsSettings
from cityhub_notifications.models import (
    KIND_REPORT,
    AreaCell,
    Delivery,
    DeliveryAttempt,
    Device,
    Notification,
    Preferences,
    Subscription,
)


def new_id() -> str:
    return uuid.uuid4().hex


# --- subscriptions --------------------------------------------------------------------------------


async def dao_get_subscription_by_key(session: AsyncSession, account_id: str, key: str) -> Subscription | None:
    query = select(Subscription).where(Subscription.account_id == account_id, Subscription.key == key)
    return (await session.exec(query)).first()


async def dao_list_subscriptions(session: AsyncSession, account_id: str) -> Sequence[Subscription]:
    query = (
        select(Subscription)
        .where(Subscription.account_id == account_id)
        .order_by(col(Subscription.created_at), col(Subscription.id))
    )
    return (await session.exec(query)).all()


async def dao_get_subscription(session: AsyncSession, account_id: str, subscription_id: str) -> Subscription | None:
    query = select(Subscription).where(Subscription.id == subscription_id, Subscription.account_id == account_id)
    return (await session.exec(query)).first()


async def dao_create_subscription(session: AsyncSession, subscription: Subscription, cells: Sequence[int] = ()) -> None:
    session.add(subscription)
    await session.flush()
    if cells:
        await dao_insert_area_cells(session, subscription.id, subscription.account_id, cells)


async def dao_insert_area_cells(
    session: AsyncSession, subscription_id: str, account_id: str, cells: Sequence[int]
) -> None:
    """One multi-row insert (executemany) for every covering cell."""
    rows = [
        {"subscription_id": subscription_id, "cell": cell, "cell_r7": parent_r7(cell), "account_id": account_id}
        for cell in cells
    ]
    connection = await session.connection()
    await connection.execute(sa.insert(AreaCell.__table__), rows)  # type: ignore[attr-defined]


async def dao_delete_subscription(session: AsyncSession, subscription: Subscription) -> None:
    await session.exec(delete(AreaCell).where(col(AreaCell.subscription_id) == subscription.id))  # type: ignore[call-overload]
    await session.delete(subscription)


async def dao_follow_report(session: AsyncSession, account_id: str, report_id: str) -> None:
    key = f"report:{report_id}"
    if await dao_get_subscription_by_key(session, account_id, key) is None:
        session.add(Subscription(id=new_id(), account_id=account_id, kind=KIND_REPORT, key=key, report_id=report_id))


async def dao_unfollow_report(session: AsyncSession, account_id: str, report_id: str) -> None:
    subscription = await dao_get_subscription_by_key(session, account_id, f"report:{report_id}")
    if subscription is not None:
        await session.delete(subscription)


# --- inbox ----------------------------------------------------------------------------------------


async def dao_list_notifications(
    session: AsyncSession,
    account_id: str,
    *,
    offset: int,
    limit: int,
    unread_only: bool,
) -> Sequence[Notification]:
    """Newest first; the id breaks ties so that the order is stable from page to page."""
    query = select(Notification).where(Notification.account_id == account_id)
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    query = query.order_by(col(Notification.created_at).desc(), col(Notification.id).desc()).offset(offset).limit(limit)
    return (await session.exec(query)).all()


async def dao_count_unread(session: AsyncSession, account_id: str) -> int:
    query = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.account_id == account_id, col(Notification.read_at).is_(None))
    )
    return int((await session.exec(query)).one())


async def dao_get_notification(session: AsyncSession, account_id: str, notification_id: str) -> Notification | None:
    query = select(Notification).where(Notification.id == notification_id, Notification.account_id == account_id)
    return (await session.exec(query)).first()


async def dao_mark_all_read(session: AsyncSession, account_id: str) -> int:
    result = await session.exec(  # type: ignore[call-overload]
        update(Notification)
        .where(col(Notification.account_id) == account_id, col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
    )
    return int(result.rowcount or 0)


# --- devices and preferences ---------------------------------------------------------------------


async def dao_list_devices(session: AsyncSession, account_id: str, *, active_only: bool = False) -> Sequence[Device]:
    query = select(Device).where(Device.account_id == account_id)
    if active_only:
        query = query.where(col(Device.active).is_(True))
    return (await session.exec(query.order_by(col(Device.created_at)))).all()


async def dao_get_device(session: AsyncSession, account_id: str, device_id: str) -> Device | None:
    query = select(Device).where(Device.id == device_id, Device.account_id == account_id)
    return (await session.exec(query)).first()


async def dao_get_device_by_endpoint(session: AsyncSession, account_id: str, endpoint: str) -> Device | None:
    query = select(Device).where(Device.account_id == account_id, Device.endpoint == endpoint)
    return (await session.exec(query)).first()


async def dao_get_preferences(session: AsyncSession, account_id: str) -> Preferences | None:
    return await session.get(Preferences, account_id)


async def dao_ensure_preferences(
    session: AsyncSession, account_id: str, language: str | None, defaults: NotificationsSettings
) -> Preferences:
    """The resident's preferences, created with the deployment's defaults; keeps the language current."""
    preferences = await dao_get_preferences(session, account_id)
    if preferences is None:
        preferences = Preferences(
            account_id=account_id,
            channels=json.dumps(list(defaults.default_chain)),
            time_zone=defaults.default_time_zone,
            max_per_hour=defaults.default_max_per_hour,
            language=resolve_language(language),
        )
        session.add(preferences)
    elif language and preferences.language != language:
        preferences.language = language
        session.add(preferences)
    return preferences


# --- deliveries -----------------------------------------------------------------------------------


async def dao_count_handed_since(session: AsyncSession, account_id: str, since: datetime) -> int:
    """Non-urgent deliveries handed to a channel since `since` (the per-resident rate limit)."""
    query = (
        select(func.count())
        .select_from(Delivery)
        .where(
            Delivery.account_id == account_id,
            col(Delivery.handed_at) >= since,
            Delivery.urgency == 1,
        )
    )
    return int((await session.exec(query)).one())


# --- erasure --------------------------------------------------------------------------------------


async def dao_erase_account(session: AsyncSession, account_id: str) -> None:
    """Everything held for the account goes; nothing is kept in anonymised form."""
    delivery_ids = select(Delivery.id).where(Delivery.account_id == account_id)
    for statement in (
        delete(DeliveryAttempt).where(col(DeliveryAttempt.delivery_id).in_(delivery_ids)),
        delete(DeliveryAttempt).where(col(DeliveryAttempt.account_id) == account_id),
        delete(Delivery).where(col(Delivery.account_id) == account_id),
        delete(Notification).where(col(Notification.account_id) == account_id),
        delete(AreaCell).where(col(AreaCell.account_id) == account_id),
        delete(Subscription).where(col(Subscription.account_id) == account_id),
        delete(Device).where(col(Device.account_id) == account_id),
        delete(Preferences).where(col(Preferences.account_id) == account_id),
    ):
        await session.exec(statement)  # type: ignore[call-overload]
