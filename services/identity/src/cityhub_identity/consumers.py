"""Erasure confirmations: each service that held resident data says it has erased it."""

from __future__ import annotations

from collections.abc import Sequence

from cityhub.identity.v1 import events_pb2
from cityhub_sdk.consumer import ConsumerSpec, Handler
from cityhub_sdk.events import Event
from cityhub_sdk.logging import get_logger
from cityhub_sdk.subjects import account_erased
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_identity.service.admin import record_confirmation

log = get_logger(__name__)


async def on_account_erased(session: AsyncSession, event: Event) -> None:
    message = event.decode(events_pb2.AccountErased)
    service = message.service or event.subject.split(".")[1]
    await record_confirmation(session, message.account_id, service)
    log.info("identity.erasure_confirmed", account_id=message.account_id, service=service)


def erasure_consumers(services: Sequence[str]) -> list[tuple[ConsumerSpec, Handler]]:
    """One durable consumer per confirming service, on that service's own stream."""
    return [
        (
            ConsumerSpec(
                durable=f"identity-erasure-{service}",
                stream=service.upper(),
                subjects=[account_erased(service)],
            ),
            on_account_erased,
        )
        for service in sorted(set(services))
    ]
