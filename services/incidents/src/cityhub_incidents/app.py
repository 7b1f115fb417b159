"""How incidents plugs into the SDK runtime: its servicer, consumers, background sweeper, commands."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

from cityhub.incidents.v1 import incidents_pb2, incidents_pb2_grpc
from cityhub_sdk.app import ServiceContext, ServiceDefinition, ServiceParts
from cityhub_sdk.db import Database
from cityhub_sdk.logging import get_logger

from cityhub_incidents.alerts import AlertsService
from cityhub_incidents.categories import CategoryDirectory
from cityhub_incidents.config import IncidentsSettings
from cityhub_incidents.consumers import ACCOUNT_DELETED, SERVICE_UPDATED, on_account_deleted, on_service_updated
from cityhub_incidents.photos import photo_storage_from_url
from cityhub_incidents.reports import ReportsService
from cityhub_incidents.seed import seed_demo
from cityhub_incidents.server import IncidentsServicer

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SERVICE_NAME = incidents_pb2.DESCRIPTOR.services_by_name["IncidentsService"].full_name
log = get_logger(__name__)


class AlertSweeper:
    """Ends expired alerts (and publishes `alert.ended`) every `interval_s`."""

    def __init__(self, alerts: AlertsService, interval_s: float) -> None:
        self.alerts = alerts
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="alert-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.alerts.sweep_expired()
            except Exception as exc:  # noqa: BLE001 - try again next round
                log.warning("alerts.sweep_failed", error=type(exc).__name__)
            await asyncio.sleep(self.interval_s)


async def setup(context: ServiceContext[IncidentsSettings]) -> ServiceParts:
    settings = context.settings
    categories = CategoryDirectory(
        settings.catalog_addr,
        ttl_s=settings.catalog_cache_ttl_s,
        default_radius_m=settings.default_report_radius_m,
    )
    reports = ReportsService(
        context.db,
        categories,
        photo_storage_from_url(settings.photo_storage_url, s3_endpoint_url=settings.s3_endpoint_url),
        duplicate_window=timedelta(days=settings.duplicate_window_days),
        max_radius_m=settings.max_search_radius_m,
    )
    alerts = AlertsService(context.db)
    sweeper = AlertSweeper(alerts, settings.alert_sweep_interval_s)
    servicer = IncidentsServicer(reports, alerts, context.db)
    return ServiceParts(
        service_names=[SERVICE_NAME],
        registrations=[lambda server: incidents_pb2_grpc.add_IncidentsServiceServicer_to_server(servicer, server)],
        consumers=[(ACCOUNT_DELETED, on_account_deleted), (SERVICE_UPDATED, on_service_updated(categories.forget))],
        on_start=[sweeper.start],
        on_stop=[sweeper.stop, categories.close],
    )


async def seed(settings: IncidentsSettings) -> None:
    db = Database(settings.database_url)
    try:
        await seed_demo(db)
    finally:
        await db.dispose()


DEFINITION = ServiceDefinition(
    name="incidents",
    settings_type=IncidentsSettings,
    migrations=MIGRATIONS,
    setup=setup,
    commands={"seed": seed},
)
