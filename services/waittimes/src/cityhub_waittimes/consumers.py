"""Events waittimes reacts to: account deletions (free the places, forget the check-ins, confirm)."""

from __future__ import annotations

from cityhub.identity.v1 import events_pb2 as identity_events
from cityhub_sdk.consumer import ConsumerSpec, Handler
from cityhub_sdk.events import Event
from cityhub_sdk.subjects import IDENTITY_ACCOUNT_DELETED, SUBJECTS
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_waittimes.service import WaitTimesService

ACCOUNT_DELETED = ConsumerSpec(
    durable="waittimes-account-deleted",
    stream=SUBJECTS[IDENTITY_ACCOUNT_DELETED].stream,
    subjects=[IDENTITY_ACCOUNT_DELETED],
)


def on_account_deleted(service: WaitTimesService) -> Handler:
    async def handle(session: AsyncSession, event: Event) -> None:
        message = event.decode(identity_events.AccountDeleted)
        if message.account_id:
            await service.erase_account(session, message.account_id)

    return handle
