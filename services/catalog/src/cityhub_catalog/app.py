"""How the catalog plugs into the SDK runtime: its servicers, consumers and commands."""

from __future__ import annotations

from pathlib import Path

from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub_sdk.app import ServiceContext, ServiceDefinition, ServiceParts
from cityhub_sdk.db import Database

from cityhub_catalog.config import CatalogSettings
from cityhub_catalog.seed import seed_catalog
from cityhub_catalog.server import CatalogServicer
from cityhub_catalog.service import CatalogService

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SERVICE_NAME = catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"].full_name


async def setup(context: ServiceContext[CatalogSettings]) -> ServiceParts:
    servicer = CatalogServicer(CatalogService(context.db))
    return ServiceParts(
        service_names=[SERVICE_NAME],
        registrations=[lambda server: catalog_pb2_grpc.add_CatalogServiceServicer_to_server(servicer, server)],
    )


async def seed(settings: CatalogSettings) -> None:
    db = Database(settings.database_url)
    try:
        await seed_catalog(db)
    finally:
        await db.dispose()


DEFINITION = ServiceDefinition(
    name="catalog",
    settings_type=CatalogSettings,
    migrations=MIGRATIONS,
    setup=setup,
    commands={"seed": seed},
)
