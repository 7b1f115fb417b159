"""The Litestar application factory: one plugin set, controllers grouped by domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide

from cityhub_gateway.api_docs import ApiReferencePlugin
from cityhub_gateway.auth import Authenticator, provide_caller
from cityhub_gateway.body_guard import BodyGuard
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.config import GatewaySettings
from cityhub_gateway.errors import problem_details_plugin
from cityhub_gateway.identity import auth_rate_limit
from cityhub_gateway.openapi import complete_openapi, openapi_config
from cityhub_gateway.policy import policy_guard
from cityhub_gateway.routes import ROUTE_HANDLERS
from cityhub_gateway.stream import StreamHub
from cityhub_gateway.trace_header import trace_id_header
from cityhub_gateway.tracing import tracing_plugin


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


def create_app(settings: GatewaySettings, clients: ServiceClients | None = None) -> Litestar:
    """Build the gateway; tests pass their own `clients` pointed at services on free ports."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with _stream_hub(app, settings):
            if clients is not None:
                yield
                return
            app.state.clients = ServiceClients.connect(settings)
            try:
                yield
            finally:
                await app.state.clients.close()

    app = Litestar(
        route_handlers=ROUTE_HANDLERS,
        lifespan=[lifespan],
        state=State({"settings": settings, "clients": clients}),
        guards=[policy_guard],
        middleware=[trace_id_header, auth_rate_limit(settings).middleware, BodyGuard(settings.max_body_bytes)],
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
    # Verifies credentials for the policy guard; reads the clients the lifespan (or a test) provides.
    app.state.authenticator = Authenticator(lambda: app.state.clients.identity, settings)
    return app
