"""How incidents plugs into the SDK runtime: its servicer, consumers, background sweeper, commands."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cityhub.incidents.v1 import incidents_pb2, incidents_pb2_grpc
from cityhub_sdk.app import ServiceContext, ServiceDefinition, ServiceParts
from cityhub_sdk.db import Database
from cityhub_sdk.worker import PeriodicTask

from cityhub_incidents.categories import CategoryDirectory
from cityhub_incidents.config import IncidentsSettings
from cityhub_incidents.consumers import ACCOUNT_DELETED, SERVICE_UPDATED, on_account_deleted, on_service_updated
from cityhub_incidents.photos import photo_storage_from_url
from cityhub_incidents.quota import ReportQuota
from cityhub_incidents.seed import seed_demo
from cityhub_incidents.server import IncidentsServicer
from cityhub_incidents.service import IncidentsServices

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SERVICE_NAME = incidents_pb2.DESCRIPTOR.services_by_name["IncidentsService"].full_name


async def setup(context: ServiceContext[IncidentsSettings]) -> ServiceParts:
    settings = context.settings
    categories = CategoryDirectory(
        settings.catalog_addr,
        ttl_s=settings.catalog_cache_ttl_s,
        default_radius_m=settings.default_report_radius_m,
    )
    services = IncidentsServices.build(
        context.db,
        categories,
        photo_storage_from_url(settings.photo_storage_url, s3_endpoint_url=settings.s3_endpoint_url),
        duplicate_window=timedelta(days=settings.duplicate_window_days),
        max_radius_m=settings.max_search_radius_m,
        quota=ReportQuota(
            settings.report_quota_per_reporter, settings.report_quota_per_address, settings.report_quota_window_s
        ),
    )
    # Ends expired alerts (publishing `alert.ended`) every interval; reads already hide them at once.
    sweeper = PeriodicTask(
        services.alerts.sweep_expired, name="alert-sweeper", interval_s=settings.alert_sweep_interval_s
    )
    servicer = IncidentsServicer(services)
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
