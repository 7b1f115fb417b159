"""Every error leaves the gateway as RFC 9457 problem+json, without stack traces or internals.

gRPC status codes from the services map to HTTP statuses here, in one table.
"""

from __future__ import annotations

from typing import Any

import grpc
from cityhub_sdk.logging import get_logger
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"

GRPC_TO_HTTP: dict[grpc.StatusCode, tuple[int, str]] = {
    grpc.StatusCode.INVALID_ARGUMENT: (422, "Invalid request"),
    grpc.StatusCode.OUT_OF_RANGE: (422, "Invalid request"),
    grpc.StatusCode.NOT_FOUND: (404, "Not found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "Conflict"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "Conflict"),
    grpc.StatusCode.ABORTED: (409, "Conflict"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "Forbidden"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "Unauthorized"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "Too many requests"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "Upstream timeout"),
    grpc.StatusCode.UNAVAILABLE: (503, "Service unavailable"),
    grpc.StatusCode.UNIMPLEMENTED: (501, "Not implemented"),
}
# Statuses whose gRPC detail text is written for clients; others get a generic sentence.
CLIENT_SAFE = {400, 401, 403, 404, 409, 422, 429}


def problem(status: int, title: str, detail: str = "", *, instance: str = "", **extra: Any) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    headers = {"Retry-After": "1"} if status in (429, 503) else None
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def grpc_error_handler(request: Request[Any, Any, Any], exc: grpc.aio.AioRpcError) -> Response[dict[str, Any]]:
    status, title = GRPC_TO_HTTP.get(exc.code(), (502, "Upstream error"))
    detail = exc.details() or "" if status in CLIENT_SAFE else ""
    if status >= 500:
        log.warning("gateway.upstream_error", code=exc.code().name, path=request.scope.get("path_template", ""))
    return problem(status, title, detail or "", instance=request.url.path)


def validation_error_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    return problem(422, "Invalid request", exc.detail, instance=request.url.path, errors=errors)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    extra = exc.extra if isinstance(exc.extra, dict) else {}
    response = problem(exc.status_code, _title(exc.status_code), exc.detail, instance=request.url.path, **extra)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.error("gateway.unhandled_error", error=type(exc).__name__, path=request.url.path)
    return problem(HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error", instance=request.url.path)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    grpc.aio.AioRpcError: grpc_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
