"""The Litestar application factory: one plugin set, controllers grouped by domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide

from cityhub_gateway.access_log import install as install_access_log
from cityhub_gateway.api_docs import ApiReferencePlugin
from cityhub_gateway.auth import Authenticator, provide_caller
from cityhub_gateway.body_guard import BodyGuard
from cityhub_gateway.cache_feed import CatalogCacheFeed
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.config import GatewaySettings
from cityhub_gateway.errors import problem_details_plugin
from cityhub_gateway.openapi import complete_openapi, openapi_config
from cityhub_gateway.policy import policy_guard
from cityhub_gateway.response_cache import ResponseCache
from cityhub_gateway.routes import ROUTE_HANDLERS
from cityhub_gateway.security_headers import security_headers
from cityhub_gateway.stream import StreamHub
from cityhub_gateway.trace_header import trace_id_header
from cityhub_gateway.tracing import tracing_plugin
from cityhub_gateway.waittimes import WaitTimesProjection


def _provide_clients(state: State) -> ServiceClients:
    clients: ServiceClients = state.clients
    return clients


def _provide_settings(state: State) -> GatewaySettings:
    settings: GatewaySettings = state.settings
    return settings


@asynccontextmanager
async def _stream_hub(app: Litestar, settings: GatewaySettings) -> AsyncIterator[None]:
    """The live-notification fan-out for /v1/stream, when NATS_URL is set."""
    if not settings.nats_url:
        yield
        return
    hub = StreamHub()
    await hub.connect(settings.nats_url)
    app.state.stream_hub = hub
    try:
        yield
    finally:
        await hub.close()


@asynccontextmanager
async def _catalog_cache_feed(app: Litestar, settings: GatewaySettings) -> AsyncIterator[None]:
    """The catalog's revision events for its answers cache, when NATS_URL is set (else TTL only)."""
    if not settings.nats_url:
        yield
        return
    feed = CatalogCacheFeed(app.state.catalog_cache, settings.nats_url)
    try:
        await feed.start()
        yield
    finally:
        await feed.close()


@asynccontextmanager
async def _service_clients(
    app: Litestar, settings: GatewaySettings, given: ServiceClients | None
) -> AsyncIterator[ServiceClients]:
    """The gRPC clients: the ones a test passed in (it closes them), else connected here."""
    if given is not None:
        yield given
        return
    app.state.clients = connected = ServiceClients.connect(settings)
    try:
        yield connected
    finally:
        await connected.close()


@asynccontextmanager
async def _waittimes_projection(
    app: Litestar, settings: GatewaySettings, clients: ServiceClients
) -> AsyncIterator[None]:
    """The live projection of every queue, when the gateway has waittimes (closed before the clients)."""
    if clients.waittimes is None:
        yield
        return
    projection = WaitTimesProjection(clients.waittimes, settings.nats_url)
    try:  # a start that fails half-way is closed too
        await projection.start()
        app.state.waittimes_projection = projection
        yield
    finally:
        app.state.waittimes_projection = None
        await projection.close()


def create_app(settings: GatewaySettings, clients: ServiceClients | None = None) -> Litestar:
    """Build the gateway; tests pass their own `clients` pointed at services on free ports."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with (
            _stream_hub(app, settings),
            _catalog_cache_feed(app, settings),
            _service_clients(app, settings, clients) as connected,
            _waittimes_projection(app, settings, connected),
        ):
            yield

    app = Litestar(
        route_handlers=ROUTE_HANDLERS,
        lifespan=[lifespan],
        state=State(
            {
                "settings": settings,
                "clients": clients,
                "catalog_cache": ResponseCache(
                    ttl_s=settings.catalog_cache_ttl_s, fallback_ttl_s=settings.catalog_cache_fallback_ttl_s
                ),
            }
        ),
        guards=[policy_guard],
        middleware=[trace_id_header, security_headers, BodyGuard(settings.max_body_bytes)],
        dependencies={
            "clients": Provide(_provide_clients, sync_to_thread=False),
            "settings": Provide(_provide_settings, sync_to_thread=False),
            "caller": Provide(provide_caller, sync_to_thread=False),
        },
        cors_config=CORSConfig(allow_origins=list(settings.cors_allow_origins), allow_credentials=False),
        request_max_body_size=settings.max_body_bytes,
        plugins=[tracing_plugin(), problem_details_plugin()],
        openapi_config=openapi_config(render_plugins=[ApiReferencePlugin()]),
    )
    complete_openapi(app)
    install_access_log(app)  # around everything: one line and one measurement per request
    # Verifies credentials for the policy guard; reads the clients the lifespan (or a test) provides.
    app.state.authenticator = Authenticator(lambda: app.state.clients.identity, settings)
    return app
