"""Test helpers for CityHub services: real NATS, real databases, real gRPC servers on free ports."""

from cityhub_sdk.testing.accounts import Metadata, People, Person, bearer, create_account, sign_in
from cityhub_sdk.testing.infra import (
    NatsServerProcess,
    free_port,
    service_settings,
)
from cityhub_sdk.testing.loops import run_on_session_loop
from cityhub_sdk.testing.services import (
    FAST_AUTH_ENV,
    IDENTITY_TEST_ENV,
    TEST_INTERNAL_TOKEN,
    TEST_PASSWORD,
    start_service,
)
from cityhub_sdk.testing.waiting import eventually

__all__ = [
    "FAST_AUTH_ENV",
    "IDENTITY_TEST_ENV",
    "TEST_INTERNAL_TOKEN",
    "TEST_PASSWORD",
    "Metadata",
    "NatsServerProcess",
    "People",
    "Person",
    "bearer",
    "create_account",
    "eventually",
    "free_port",
    "run_on_session_loop",
    "service_settings",
    "sign_in",
    "start_service",
]
