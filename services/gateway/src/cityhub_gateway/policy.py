"""The route x role table: every gateway route states who may call it, and one guard enforces it.

A route missing from POLICY is refused (fail closed) and fails tests/test_policy.py.
Roles: "public" (no credentials needed), "resident", "staff", "operator" (people with access
tokens) and "department" (department systems with an API key). Add one line per route.
"""

from __future__ import annotations

import contextlib
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from cityhub_gateway.auth import Authenticator, unauthorized

PUBLIC = "public"
PEOPLE = frozenset({"resident", "staff", "operator"})

# "METHOD /path/{param}" (Litestar's path format, without param types) -> allowed roles.
POLICY: dict[str, frozenset[str]] = {
    "GET /health": frozenset({PUBLIC}),
    "GET /health/live": frozenset({PUBLIC}),
    "GET /health/ready": frozenset({PUBLIC}),
    "GET /.well-known/jwks.json": frozenset({PUBLIC}),
    # catalog
    "GET /v1/departments": frozenset({PUBLIC}),
    "GET /v1/services": frozenset({PUBLIC}),
    "GET /v1/services/{slug}": frozenset({PUBLIC}),
    "GET /v1/service-centers": frozenset({PUBLIC}),
    "GET /v1/service-centers/{center_id}": frozenset({PUBLIC}),
    "GET /v1/city": frozenset({PUBLIC}),
    # Open311 GeoReport v2 (read side)
    "GET /open311/v2/discovery.json": frozenset({PUBLIC}),
    "GET /open311/v2/discovery.xml": frozenset({PUBLIC}),
    "GET /open311/v2/services.json": frozenset({PUBLIC}),
    "GET /open311/v2/services.xml": frozenset({PUBLIC}),
    "GET /open311/v2/services/{file}": frozenset({PUBLIC}),
    # identity
    "POST /v1/auth/register": frozenset({PUBLIC}),
    "POST /v1/auth/token": frozenset({PUBLIC}),
    "POST /v1/auth/refresh": frozenset({PUBLIC}),
    "POST /v1/auth/logout": frozenset({PUBLIC}),
    "GET /v1/me": PEOPLE,
    "PATCH /v1/me": PEOPLE,
    "DELETE /v1/me": PEOPLE,
    "GET /v1/me/export": PEOPLE,
    "GET /v1/me/places": PEOPLE,
    "POST /v1/me/places": PEOPLE,
    "PATCH /v1/me/places/{place_id}": PEOPLE,
    "DELETE /v1/me/places/{place_id}": PEOPLE,
    "GET /v1/me/consents": PEOPLE,
    "POST /v1/me/consents": PEOPLE,
    "DELETE /v1/me/consents/{department}/{purpose}/{field}": PEOPLE,
}
STAFF = frozenset({"staff", "operator"})
POLICY.update(
    {
        # incidents (residents: anonymous reports allowed; following needs an account)
        "POST /v1/incidents": frozenset({PUBLIC}),
        "GET /v1/incidents": frozenset({PUBLIC}),
        "GET /v1/incidents/{report_id}": frozenset({PUBLIC}),
        "GET /v1/incidents/{report_id}/photo": frozenset({PUBLIC}),
        "POST /v1/incidents/{report_id}/follow": PEOPLE,
        "DELETE /v1/incidents/{report_id}/follow": PEOPLE,
        "GET /v1/alerts": frozenset({PUBLIC}),
        "GET /v1/alerts/{alert_id}": frozenset({PUBLIC}),
        # incidents, staff side (the service checks the department again)
        "GET /v1/staff/incidents": STAFF,
        "GET /v1/staff/incidents/{report_id}": STAFF,
        "POST /v1/staff/incidents/{report_id}/status": STAFF,
        "POST /v1/staff/incidents/{report_id}/notes": STAFF,
        "POST /v1/staff/incidents/{report_id}/merge": STAFF,
        "POST /v1/staff/alerts": STAFF,
        "PUT /v1/staff/alerts/{alert_id}": STAFF,
        "DELETE /v1/staff/alerts/{alert_id}": STAFF,
        # Open311 GeoReport v2 (request side): POST carries api_key in the form, checked by incidents
        "POST /open311/v2/requests.json": frozenset({PUBLIC}),
        "POST /open311/v2/requests.xml": frozenset({PUBLIC}),
        "GET /open311/v2/requests.json": frozenset({PUBLIC}),
        "GET /open311/v2/requests.xml": frozenset({PUBLIC}),
        "GET /open311/v2/requests/{file}": frozenset({PUBLIC}),
    }
)
POLICY.update(
    {
        # notifications (the stream authenticates itself: bearer header or ?access_token= for EventSource)
        "GET /v1/me/notifications": PEOPLE,
        "POST /v1/me/notifications/{notification_id}/read": PEOPLE,
        "POST /v1/me/notifications/read-all": PEOPLE,
        "GET /v1/me/subscriptions": PEOPLE,
        "POST /v1/me/subscriptions": PEOPLE,
        "DELETE /v1/me/subscriptions/{subscription_id}": PEOPLE,
        "GET /v1/me/devices": PEOPLE,
        "POST /v1/me/devices": PEOPLE,
        "DELETE /v1/me/devices/{device_id}": PEOPLE,
        "GET /v1/me/notification-preferences": PEOPLE,
        "PUT /v1/me/notification-preferences": PEOPLE,
        "GET /v1/push/config": frozenset({PUBLIC}),
        "GET /v1/stream": frozenset({PUBLIC}),
    }
)
STAFF_OR_DEPARTMENT = frozenset({"staff", "operator", "department"})
POLICY.update(
    {
        # waittimes (figures are public; kiosk feeds come from department systems or staff; the
        # service checks that the queue is run by the caller's department)
        "GET /v1/service-centers/{center_id}/wait-times": frozenset({PUBLIC}),
        "GET /v1/service-centers/{center_id}/busy-hours": frozenset({PUBLIC}),
        "POST /v1/service-centers/{center_id}/check-ins": PEOPLE,
        "GET /v1/me/check-ins": PEOPLE,
        "DELETE /v1/me/check-ins/{check_in_id}": PEOPLE,
        "POST /v1/staff/service-centers/{center_id}/queue-events": STAFF_OR_DEPARTMENT,
        "POST /v1/staff/service-centers/{center_id}/queue-history": STAFF_OR_DEPARTMENT,
        "GET /v1/open-data/queues": frozenset({PUBLIC}),
    }
)
# Routes that carry no data: the OpenAPI documents, the problem-type pages and CORS pre-flight.
EXEMPT_PREFIXES = ("/schema", "/problems")


def policy_key(method: str, path: str) -> str:
    """Normalise "/v1/x/{id:str}" to "/v1/x/{id}" so the table stays readable."""
    parts = [part.split(":")[0].rstrip("}") + "}" if part.startswith("{") else part for part in path.split("/")]
    return f"{method.upper()} {'/'.join(parts) or '/'}"


def allowed_roles(method: str, path: str) -> frozenset[str] | None:
    if method.upper() == "OPTIONS" or path.startswith(EXEMPT_PREFIXES):
        return frozenset({PUBLIC})
    return POLICY.get(policy_key(method, path.rstrip("/") or "/"))


async def policy_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Authenticates the caller when the route needs one and checks the role against POLICY."""
    method = str(connection.scope.get("method", "GET"))
    template = str(connection.scope.get("path_template", connection.scope["path"]))
    roles = allowed_roles(method, template)
    if roles is None:
        raise PermissionDeniedException(detail="route has no access policy")
    authenticator: Authenticator = connection.app.state.authenticator
    if PUBLIC in roles:
        # Credentials are optional here: a stale token must not break a public page.
        if "authorization" in connection.headers or "x-api-key" in connection.headers:
            with contextlib.suppress(HTTPException):
                caller = await authenticator.authenticate(connection.headers)
                connection.scope.setdefault("state", {})["caller"] = caller
        return
    caller = await authenticator.authenticate(connection.headers)
    connection.scope.setdefault("state", {})["caller"] = caller
    if not caller.is_authenticated:
        raise unauthorized()
    if caller.role not in roles:
        raise PermissionDeniedException(detail="not allowed for this role")
