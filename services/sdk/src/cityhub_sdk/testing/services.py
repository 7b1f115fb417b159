"""Starting a service in-process for a test: a fresh database, its migrations, settings, a free port.

Service packages are never imported here: a test passes the service's `DEFINITION` in, so the SDK
stays below every service. The constants are the settings every suite gives its services.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from cityhub_sdk.app import RunningService, ServiceDefinition, running
from cityhub_sdk.migrations import upgrade_async
from cityhub_sdk.settings import ServiceSettings
from cityhub_sdk.testing.infra import service_settings

S = TypeVar("S", bound=ServiceSettings)

# The platform's service-to-service token in tests (INTERNAL_API_TOKEN of every in-process service).
TEST_INTERNAL_TOKEN = "test-internal-token"
# A password identity accepts, for accounts tests create.
TEST_PASSWORD = "correct horse battery staple"
# Callers verified through identity: the internal token, and revocations seen at once.
FAST_AUTH_ENV: dict[str, Any] = {"INTERNAL_API_TOKEN": TEST_INTERNAL_TOKEN, "AUTH_REVOCATION_TTL_S": 0}
# Identity signs with a new key at once and serves its keys uncached: tokens verify right away.
IDENTITY_TEST_ENV: dict[str, Any] = {"IDENTITY_KEY_ACTIVATION_DELAY_S": 0, "IDENTITY_KEY_CACHE_S": 0}


class NewDatabase(Protocol):
    """What hands out fresh, empty databases (the `database_factory` fixture)."""

    def new(self, name: str = "db") -> str: ...


@asynccontextmanager
async def start_service(
    definition: ServiceDefinition[S],
    database: NewDatabase | str,
    nats_url: str,
    *,
    name: str | None = None,
    seed: Callable[[RunningService[S]], Awaitable[object]] | None = None,
    **env: Any,
) -> AsyncIterator[RunningService[S]]:
    """Run `definition` on a free loopback port until the block ends.

    `database` is the `database_factory` (a fresh database named after `name` or the service) or
    the URL of an empty one (the `database_url` fixture). Migrations run first; `env` are settings
    by their variable names (`IDENTITY_ADDR=...`, `**FAST_AUTH_ENV`); `seed` runs once it serves.
    """
    url = database if isinstance(database, str) else database.new(name or definition.name)
    await upgrade_async(definition.migrations, url)
    settings = service_settings(definition.settings_type, database_url=url, nats_url=nats_url, **env)
    async with running(definition, settings) as service:
        if seed is not None:
            await seed(service)
        yield service
