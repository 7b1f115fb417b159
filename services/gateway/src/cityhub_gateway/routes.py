"""Every route the gateway serves, grouped by domain (one module per backend service)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from cityhub_gateway.catalog import CATALOG_ROUTES
from cityhub_gateway.health import HealthController

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    HealthController,
    *CATALOG_ROUTES,
]
