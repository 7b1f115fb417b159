"""gRPC clients to the backend services, one channel per peer for the gateway's lifetime."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from cityhub.catalog.v1 import catalog_pb2, catalog_pb2_grpc
from cityhub_sdk.grpc_client import create_channel
from grpc_health.v1 import health_pb2_grpc

from cityhub_gateway.config import GatewaySettings


@dataclass
class ServiceClients:
    """Stubs the controllers call; built once at start-up and closed at shutdown."""

    channels: dict[str, grpc.aio.Channel]
    catalog: catalog_pb2_grpc.CatalogServiceStub
    health: dict[str, health_pb2_grpc.HealthStub] = field(default_factory=dict)

    @classmethod
    def connect(cls, settings: GatewaySettings) -> ServiceClients:
        descriptors = {"catalog": [catalog_pb2.DESCRIPTOR.services_by_name["CatalogService"]]}
        channels = {
            name: create_channel(address, services=descriptors.get(name, ()), default_timeout_s=settings.grpc_timeout_s)
            for name, address in settings.peers().items()
        }
        return cls(
            channels=channels,
            catalog=catalog_pb2_grpc.CatalogServiceStub(channels["catalog"]),
            health={name: health_pb2_grpc.HealthStub(channel) for name, channel in channels.items()},
        )

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close(grace=None)
