"""gRPC clients to the backend services, one channel per peer for the gateway's lifetime."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub.identity.v1 import identity_pb2, identity_pb2_grpc
from cityhub.incidents.v1 import incidents_pb2, incidents_pb2_grpc
from cityhub.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from cityhub.waittimes.v1 import waittimes_pb2, waittimes_pb2_grpc
from cityhub_sdk.grpc_client import create_channel
from grpc_health.v1 import health_pb2_grpc

from cityhub_gateway.config import GatewaySettings


@dataclass
class ServiceClients:
    """Stubs the controllers call; built once at start-up and closed at shutdown."""

    channels: dict[str, grpc.aio.Channel]
    catalog: catalog_pb2_grpc.CatalogServiceStub
    identity: identity_pb2_grpc.IdentityServiceStub
    incidents: incidents_pb2_grpc.IncidentsServiceStub
    health: dict[str, health_pb2_grpc.HealthStub] = field(default_factory=dict)
    notifications: notifications_pb2_grpc.NotificationsServiceStub | None = None
    waittimes: waittimes_pb2_grpc.WaitTimesServiceStub | None = None

    @classmethod
    def connect(cls, settings: GatewaySettings) -> ServiceClients:
        descriptors = {
            "catalog": [catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"]],
            "identity": [identity_pb2.DESCRIPTOR.services_by_name["IdentityService"]],
            "incidents": [incidents_pb2.DESCRIPTOR.services_by_name["IncidentsService"]],
            "notifications": [notifications_pb2.DESCRIPTOR.services_by_name["NotificationsService"]],
            "waittimes": [waittimes_pb2.DESCRIPTOR.services_by_name["WaitTimesService"]],
        }
        channels = {
            name: create_channel(address, services=descriptors.get(name, ()), default_timeout_s=settings.grpc_timeout_s)
            for name, address in settings.peers().items()
        }
        return cls(
            channels=channels,
            catalog=catalog_pb2_grpc.CatalogServiceStub(channels["catalog"]),
            identity=identity_pb2_grpc.IdentityServiceStub(channels["identity"]),
            incidents=incidents_pb2_grpc.IncidentsServiceStub(channels["incidents"]),
            health={name: health_pb2_grpc.HealthStub(channel) for name, channel in channels.items()},
            notifications=(
                notifications_pb2_grpc.NotificationsServiceStub(channels["notifications"])
                if "notifications" in channels
                else None
            ),
            waittimes=(
                waittimes_pb2_grpc.WaitTimesServiceStub(channels["waittimes"]) if "waittimes" in channels else None
            ),
        )

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close(grace=None)
