"""The OpenAPI document as a contract: every error and credential documented, derived from the code.

Routes declare their typed bodies and 2xx answers in their decorators, and errors particular to
them with `problems(409, ...)`. What every route shares is added here once, from facts the gateway
already holds: which roles the policy table allows (401/403 and the security requirement), whether
the route takes a body (400/413/415/422) or parameters (422), whether it names an object (404), and
that it reaches a backend (429/502/503/504). Open311 routes answer errors in Open311's own format.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
    SecurityScheme,
)

from cityhub_gateway.errors import KINDS, PROBLEM_JSON, FieldError, Problem
from cityhub_gateway.openapi_tighten import tighten
from cityhub_gateway.policy import POLICY, PUBLIC, policy_key

BEARER = "bearerAuth"
API_KEY = "apiKeyAuth"
_STATUS_KIND = {kind.status: name for name, kind in KINDS.items()}
_PROBLEM_REF = Reference(ref="#/components/schemas/Problem")
_OPEN311_ERRORS_REF = Reference(ref="#/components/schemas/Open311Errors")


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Errors particular to one route, for its decorator's `responses=`."""
    return {
        status: ResponseSpec(
            data_container=Problem, media_type=PROBLEM_JSON, description=KINDS[_STATUS_KIND[status]].title["en"]
        )
        for status in statuses
    }


def _problem_schema() -> dict[str, Schema]:
    kinds = sorted(f"/problems/{name}" for name in KINDS)
    field_error = Schema(
        type=OpenAPIType.OBJECT,
        required=["field", "message"],
        properties={"field": Schema(type=OpenAPIType.STRING), "message": Schema(type=OpenAPIType.STRING)},
        title=FieldError.__name__,
    )
    problem = Schema(
        type=OpenAPIType.OBJECT,
        title=Problem.__name__,
        description="RFC 9457 problem details. `title` and `detail` follow `lang=` / `Accept-Language`.",
        required=["type", "title", "status"],
        properties={
            "type": Schema(type=OpenAPIType.STRING, enum=kinds, description="A page that explains this kind of error"),
            "title": Schema(type=OpenAPIType.STRING),
            "status": Schema(type=OpenAPIType.INTEGER),
            "detail": Schema(type=OpenAPIType.STRING),
            "instance": Schema(type=OpenAPIType.STRING),
            "trace_id": Schema(type=OpenAPIType.STRING, description="Quote it when reporting a problem"),
            "errors": Schema(type=OpenAPIType.ARRAY, items=Reference(ref="#/components/schemas/FieldError")),
        },
        additional_properties=True,
    )
    open311_error = Schema(
        type=OpenAPIType.OBJECT,
        required=["code", "description"],
        properties={"code": Schema(type=OpenAPIType.INTEGER), "description": Schema(type=OpenAPIType.STRING)},
    )
    return {
        "FieldError": field_error,
        "Problem": problem,
        "Open311Error": open311_error,
        "Open311Errors": Schema(type=OpenAPIType.ARRAY, items=Reference(ref="#/components/schemas/Open311Error")),
    }


def openapi_config(render_plugins: list[OpenAPIRenderPlugin]) -> OpenAPIConfig:
    return OpenAPIConfig(
        title="CityHub API",
        version="1.0.0",
        description=(
            "One API for a city's services: catalog, wait times, incidents, alerts, notifications. "
            "Errors are RFC 9457 problem+json in the caller's language; every answer carries `X-Trace-Id`."
        ),
        path="/schema",
        render_plugins=render_plugins,
        components=Components(
            security_schemes={
                BEARER: SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT",
                    description="Access token from POST /v1/auth/token",
                ),
                API_KEY: SecurityScheme(
                    type="apiKey", name="X-Api-Key", security_scheme_in="header", description="A department's API key"
                ),
            }
        ),
    )


def _security(roles: frozenset[str]) -> list[dict[str, list[str]]] | None:
    if PUBLIC in roles:
        return None
    requirements: list[dict[str, list[str]]] = []
    if roles - {"department"}:
        requirements.append({BEARER: []})
    if "department" in roles:
        requirements.append({API_KEY: []})
    return requirements


def _error_statuses(method: str, path: str, operation: Operation, roles: frozenset[str]) -> set[int]:
    statuses = {500}
    if path == "/health":
        return statuses
    statuses |= {429, 502, 503, 504}
    if operation.request_body is not None:
        statuses |= {400, 413, 415, 422}
    if operation.parameters:
        statuses |= {400, 422}
    if "{" in path or path.startswith("/v1/me"):
        statuses.add(404)
    if method != "get":
        statuses.add(409)
    if PUBLIC not in roles:
        statuses |= {401, 403}
    if any(getattr(p, "name", "") == "jurisdiction_id" for p in operation.parameters or ()):
        statuses.add(404)  # Open311: a jurisdiction this endpoint does not serve
    if path.startswith("/open311/") and method == "post":
        statuses |= {401, 403}  # Open311: a missing, unknown or other department's api_key
    return statuses


def _error_response(status: int, open311: bool) -> OpenAPIResponse:
    kind = KINDS[_STATUS_KIND[status]]
    if open311:
        content = {
            "application/json": OpenAPIMediaType(schema=_OPEN311_ERRORS_REF),
            "text/xml": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
        }
    else:
        content = {PROBLEM_JSON: OpenAPIMediaType(schema=_PROBLEM_REF)}
    return OpenAPIResponse(description=kind.title["en"], content=content)


def complete_openapi(app: Litestar) -> OpenAPI:
    """Adds the shared errors, security requirements and schemas to the generated document once."""
    document = app.openapi_schema
    components = document.components
    components.schemas = {**(components.schemas or {}), **_problem_schema()}
    for path, item in (document.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation: Operation | None = getattr(item, method)
            if operation is None:
                continue
            roles = POLICY.get(policy_key(method, path), frozenset({PUBLIC}))
            open311 = path.startswith("/open311/")
            responses: dict[str, Any] = dict(operation.responses or {})
            for status in sorted(_error_statuses(method, path, operation, roles)):
                existing = responses.get(str(status))
                if existing is None or _is_litestar_default(existing):
                    responses[str(status)] = _error_response(status, open311)
            operation.responses = responses
            security = _security(roles)
            if security is not None:
                operation.security = security
    tighten(document)
    return document


def _is_litestar_default(response: Any) -> bool:
    """Litestar documents a generic 400 for every route with parameters; ours replaces it."""
    return isinstance(response, OpenAPIResponse) and response.description == "Bad request syntax or unsupported method"
