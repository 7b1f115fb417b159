"""Events incidents reacts to: account deletions (erasure) and catalog changes (routing cache)."""

from __future__ import annotations

from collections.abc import Callable

from cityhub.catalog.v1 import events_pb2 as catalog_events
from cityhub.identity.v1 import events_pb2 as identity_events
from cityhub_sdk.consumer import ConsumerSpec, Handler
from cityhub_sdk.events import Event
from cityhub_sdk.subjects import CATALOG_SERVICE_UPDATED, IDENTITY_ACCOUNT_DELETED, SUBJECTS
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_incidents.service.accounts import erase_account

ACCOUNT_DELETED = ConsumerSpec(
    durable="incidents-account-deleted",
    stream=SUBJECTS[IDENTITY_ACCOUNT_DELETED].stream,
    subjects=[IDENTITY_ACCOUNT_DELETED],
)
SERVICE_UPDATED = ConsumerSpec(
    durable="incidents-catalog-service-updated",
    stream=SUBJECTS[CATALOG_SERVICE_UPDATED].stream,
    subjects=[CATALOG_SERVICE_UPDATED],
    deliver_all=False,  # only a cache to invalidate: history does not matter
)


async def on_account_deleted(session: AsyncSession, event: Event) -> None:
    message = event.decode(identity_events.AccountDeleted)
    if message.account_id:
        await erase_account(session, message.account_id)


def on_service_updated(forget: Callable[..., None]) -> Handler:
    async def handle(session: AsyncSession, event: Event) -> None:
        message = event.decode(catalog_events.ServiceUpdated)
        forget(message.slug, message.service_code)

    return handle
