"""Test helpers for CityHub services: real NATS, real databases, real gRPC servers on free ports."""

from cityhub_sdk.testing.infra import (
    NatsServerProcess,
    free_port,
    service_settings,
)
from cityhub_sdk.testing.waiting import eventually

__all__ = ["NatsServerProcess", "eventually", "free_port", "service_settings"]
