"""Every route the gateway serves, grouped by domain (one module per backend service)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from cityhub_gateway.catalog import CATALOG_ROUTES
from cityhub_gateway.health import HealthController
from cityhub_gateway.identity import IDENTITY_ROUTES
from cityhub_gateway.incidents import INCIDENTS_ROUTES
from cityhub_gateway.notifications import NOTIFICATIONS_ROUTES
from cityhub_gateway.open311 import OPEN311_ROUTES
from cityhub_gateway.open311_requests import OPEN311_REQUESTS_ROUTES
from cityhub_gateway.problem_pages import PROBLEM_PAGE_ROUTES
from cityhub_gateway.staff import STAFF_ROUTES
from cityhub_gateway.stream import STREAM_ROUTES
from cityhub_gateway.waittimes import WAITTIMES_ROUTES

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    HealthController,
    *CATALOG_ROUTES,
    *IDENTITY_ROUTES,
    *OPEN311_ROUTES,
    *INCIDENTS_ROUTES,
    *NOTIFICATIONS_ROUTES,
    *STREAM_ROUTES,
    *STAFF_ROUTES,
    *OPEN311_REQUESTS_ROUTES,
    *WAITTIMES_ROUTES,
    *PROBLEM_PAGE_ROUTES,
]
