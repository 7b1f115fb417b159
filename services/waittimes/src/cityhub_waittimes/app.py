"""How waittimes plugs into the SDK runtime: its servicer, the erasure consumer, the no-show sweeper."""

from __future__ import annotations

from pathlib import Path

from cityhub.waittimes.v1 import waittimes_pb2, waittimes_pb2_grpc
from cityhub_sdk.app import ServiceContext, ServiceDefinition, ServiceParts
from cityhub_sdk.worker import PeriodicTask

from cityhub_waittimes.centers import CenterDirectory
from cityhub_waittimes.config import WaitTimesSettings
from cityhub_waittimes.consumers import ACCOUNT_DELETED, on_account_deleted
from cityhub_waittimes.server import WaitTimesServicer
from cityhub_waittimes.service import WaitTimesService

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SERVICE_NAME = waittimes_pb2.DESCRIPTOR.services_by_name["WaitTimesService"].full_name


async def setup(context: ServiceContext[WaitTimesSettings]) -> ServiceParts:
    settings = context.settings
    centers = CenterDirectory(settings.catalog_addr, ttl_s=settings.catalog_cache_ttl_s)
    service = WaitTimesService(context.db, centers, settings)
    # Frees the places of called check-ins nobody answered, and prunes settled raw events.
    sweeper = PeriodicTask(service.sweep_no_shows, name="check-in-sweeper", interval_s=settings.sweep_interval_s)
    servicer = WaitTimesServicer(service)
    return ServiceParts(
        service_names=[SERVICE_NAME],
        registrations=[lambda server: waittimes_pb2_grpc.add_WaitTimesServiceServicer_to_server(servicer, server)],
        consumers=[(ACCOUNT_DELETED, on_account_deleted(service))],
        on_start=[sweeper.start],
        on_stop=[sweeper.stop, centers.close],
    )


DEFINITION = ServiceDefinition(
    name="waittimes",
    settings_type=WaitTimesSettings,
    migrations=MIGRATIONS,
    setup=setup,
)
