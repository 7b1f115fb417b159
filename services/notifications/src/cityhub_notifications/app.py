"""How notifications plugs into the SDK runtime: servicer, consumers, the delivery worker, commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from cityhub.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from cityhub_sdk.app import ServiceContext, ServiceDefinition, ServiceParts, Setup
from cityhub_sdk.db import Database
from cityhub_sdk.tables import utcnow

from cityhub_notifications.channels import ChannelFactory, build_channels
from cityhub_notifications.config import NotificationsSettings
from cityhub_notifications.consumers import EventHandlers
from cityhub_notifications.directory import AccountDirectory
from cityhub_notifications.dispatcher import Dispatcher
from cityhub_notifications.email_channel import email_channel
from cityhub_notifications.metrics import DeliveryMetrics
from cityhub_notifications.server import NotificationsServicer
from cityhub_notifications.service import NotificationsService
from cityhub_notifications.templates import Renderer, ensure_templates
from cityhub_notifications.vapid import load_or_create, public_key_of
from cityhub_notifications.webpush_channel import webpush_channel

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SERVICE_NAME = notifications_pb2.DESCRIPTOR.services_by_name["NotificationsService"].full_name

# Channel name (as written in CHANNELS and in a resident's fallback chain) -> factory.
CHANNEL_FACTORIES: dict[str, ChannelFactory] = {"push": webpush_channel, "email": email_channel}


def make_setup(clock: Callable[[], datetime] = utcnow) -> Setup[NotificationsSettings]:
    """The runtime's setup hook; `clock` is the delivery policy's "now" (tests pin it to any instant)."""

    async def _setup(context: ServiceContext[NotificationsSettings]) -> ServiceParts:
        return await setup(context, clock)

    return _setup


async def setup(context: ServiceContext[NotificationsSettings], clock: Callable[[], datetime] = utcnow) -> ServiceParts:
    settings, db = context.settings, context.db
    await ensure_templates(db)
    renderer = Renderer()
    await renderer.load(db)
    vapid_private_key = await load_or_create(db, settings.vapid_private_key)
    directory = AccountDirectory(settings.identity_addr, settings.internal_api_token, cache_s=settings.contact_cache_s)
    metrics = DeliveryMetrics()
    channels = build_channels(settings, CHANNEL_FACTORIES, vapid_private_key)
    dispatcher = Dispatcher(db, settings, channels, directory, metrics, clock=clock)
    handlers = EventHandlers(renderer, settings, metrics, directory)
    servicer = NotificationsServicer(NotificationsService(db, settings, directory), public_key_of(vapid_private_key))
    return ServiceParts(
        service_names=[SERVICE_NAME],
        registrations=[
            lambda server: notifications_pb2_grpc.add_NotificationsServiceServicer_to_server(servicer, server)
        ],
        consumers=handlers.consumers(),
        on_start=[dispatcher.start],
        on_stop=[dispatcher.stop, directory.close],
    )


async def seed(settings: NotificationsSettings) -> None:
    """Idempotent: the shipped templates (the service also does this at start-up)."""
    db = Database(settings.database_url)
    try:
        await ensure_templates(db)
    finally:
        await db.dispose()


DEFINITION = ServiceDefinition(
    name="notifications",
    settings_type=NotificationsSettings,
    migrations=MIGRATIONS,
    setup=make_setup(),
    commands={"seed": seed},
)
