"""Every gateway route must have a row in the route x role policy table (fail closed otherwise)."""

from __future__ import annotations

import httpx
from cityhub_gateway.app import create_app
from cityhub_gateway.config import GatewaySettings
from cityhub_gateway.policy import EXEMPT_PREFIXES, POLICY, allowed_roles, policy_key

KNOWN_ROLES = {"public", "resident", "staff", "operator", "department"}


def _offline_settings() -> GatewaySettings:
    """Every peer address filled with an unused port: routing and the guard need no backend."""
    peers = {
        str(field.validation_alias): "127.0.0.1:1"
        for field in GatewaySettings.model_fields.values()
        if str(field.validation_alias).endswith("_ADDR")
    }
    return GatewaySettings(**peers)  # type: ignore[arg-type]


def _routes() -> list[tuple[str, str]]:
    app = create_app(_offline_settings())
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(handler.http_methods):
                if method != "OPTIONS" and not route.path.startswith(EXEMPT_PREFIXES):
                    found.append((method, route.path))
    return found


def test_every_route_has_a_policy() -> None:
    missing = [policy_key(method, path) for method, path in _routes() if allowed_roles(method, path) is None]
    assert not missing, f"add these routes to POLICY in cityhub_gateway/policy.py: {missing}"


def test_policy_rows_use_known_roles_and_match_real_routes() -> None:
    assert all(roles and roles <= KNOWN_ROLES for roles in POLICY.values())
    real = {policy_key(method, path) for method, path in _routes()}
    stale = sorted(set(POLICY) - real)
    assert not stale, f"POLICY rows for routes that no longer exist: {stale}"


async def test_a_route_without_policy_is_refused() -> None:
    """Fail closed: the guard refuses a handler nobody wrote a policy for."""
    from litestar import get

    @get("/v1/unlisted", sync_to_thread=False)
    def unlisted() -> str:
        return "secret"

    app = create_app(_offline_settings())
    app.register(unlisted)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as client:
        response = await client.get("/v1/unlisted")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
