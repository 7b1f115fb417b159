"""How the catalog plugs into the SDK runtime: its servicers, background checks and commands."""

from __future__ import annotations

from pathlib import Path

from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub_sdk.app import ServiceContext, ServiceDefinition, ServiceParts
from cityhub_sdk.db import Database
from cityhub_sdk.logging import get_logger
from cityhub_sdk.outbound import OutboundPolicy

from cityhub_catalog.config import CatalogSettings
from cityhub_catalog.health_checks import RegistrationHealthChecker
from cityhub_catalog.seed import DATA_DIR, seed_catalog
from cityhub_catalog.server import CatalogServicer
from cityhub_catalog.service import CatalogService
from cityhub_catalog.snapshot import SnapshotCache, load_synonyms

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SERVICE_NAME = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name
log = get_logger(__name__)


async def setup(context: ServiceContext[CatalogSettings]) -> ServiceParts:
    cache = SnapshotCache(context.db, load_synonyms(DATA_DIR / "synonyms.yaml"))
    checker = RegistrationHealthChecker(
        context.db,
        interval_s=context.settings.registration_check_interval_s,
        outbound=OutboundPolicy(context.settings.outbound_allowed_networks),
    )
    servicer = CatalogServicer(CatalogService(context.db, cache), checker)

    async def warm_cache() -> None:
        await cache.get()  # build the search index before the first request needs it

    return ServiceParts(
        service_names=[SERVICE_NAME],
        registrations=[lambda server: catalog_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, server)],
        on_start=[warm_cache, checker.start],
        on_stop=[checker.stop],
    )


async def seed(settings: CatalogSettings) -> None:
    db = Database(settings.database_url)
    try:
        result = await seed_catalog(db)
        log.info(
            "catalog.seeded",
            departments=result.departments,
            services=result.services,
            centers=result.centers,
            changed=len(result.changed_services),
        )
    finally:
        await db.dispose()


DEFINITION = ServiceDefinition(
    name="catalog",
    settings_type=CatalogSettings,
    migrations=MIGRATIONS,
    setup=setup,
    commands={"seed": seed},
)
