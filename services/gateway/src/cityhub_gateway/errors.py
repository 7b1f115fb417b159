"""Every error leaves the gateway as RFC 9457 problem+json, in the caller's language, with a trace id.

Built on Litestar's `ProblemDetailsPlugin`: gRPC errors, validation errors and HTTP exceptions are
converted into one `ProblemDetailsException` each, and one handler renders them. Each error has a
*kind* (`not-found`, `invalid-request`, ...): its `type` is `/problems/<kind>`, a page the gateway
serves that explains it, and its `title` and `detail` come from the kind's texts in five languages.
A service's own English text is kept as `detail` for English callers only; what the services write
is for people, but it is written once, in English. `errors[]` has one shape, `{field, message}`.
No stack trace, exception class or another layer's internals ever leaves here.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import grpc
import msgspec
import yaml
from cityhub_sdk.languages import negotiate
from cityhub_sdk.logging import get_logger
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin
from opentelemetry import trace

log = get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/problems/"
RETRY_AFTER_S = {429: 60, 503: 5, 504: 5}


class FieldError(msgspec.Struct, forbid_unknown_fields=True):
    """One invalid input: where it is (`lat`, `body.area.center`, `photo`) and what is wrong."""

    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details; `type` resolves to a page about this kind of error."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    trace_id: str | None = None
    errors: list[FieldError] | None = None


@dataclass(frozen=True)
class Kind:
    status: int
    title: dict[str, str]
    detail: dict[str, str]


def _load_kinds() -> dict[str, Kind]:
    records = yaml.safe_load(resources.files("cityhub_gateway").joinpath("data/problems.yaml").read_text("utf-8"))
    return {name: Kind(int(r["status"]), dict(r["title"]), dict(r["detail"])) for name, r in records.items()}


KINDS: dict[str, Kind] = _load_kinds()
KIND_OF_STATUS = {kind.status: name for name, kind in KINDS.items()}

GRPC_TO_KIND: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.INVALID_ARGUMENT: "invalid-request",
    grpc.StatusCode.OUT_OF_RANGE: "invalid-request",
    grpc.StatusCode.NOT_FOUND: "not-found",
    grpc.StatusCode.ALREADY_EXISTS: "conflict",
    grpc.StatusCode.FAILED_PRECONDITION: "conflict",
    grpc.StatusCode.ABORTED: "conflict",
    grpc.StatusCode.PERMISSION_DENIED: "forbidden",
    grpc.StatusCode.UNAUTHENTICATED: "unauthorized",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "too-many-requests",
    grpc.StatusCode.DEADLINE_EXCEEDED: "upstream-timeout",
    grpc.StatusCode.UNAVAILABLE: "service-unavailable",
    grpc.StatusCode.UNIMPLEMENTED: "not-implemented",
}
# Kinds whose service text is written for clients; for the others it stays in the logs' trace.
CLIENT_SAFE = frozenset({"invalid-request", "not-found", "conflict", "forbidden", "unauthorized", "too-many-requests"})


class ApiError(ProblemDetailsException):
    """A problem of a known kind; `extra` members (e.g. `existing_report`) join the body."""

    def __init__(
        self,
        kind: str,
        detail: str = "",
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail=detail, status_code=KINDS[kind].status, headers=headers, extra=extra)
        self.kind = kind
        self.errors = errors
        self.detail = detail  # HTTPException would fill in the status phrase; the kind's text is better

    def to_response(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return render_problem(request, self)


def invalid(field: str, message: str) -> ApiError:
    """422 for one bad input, e.g. `invalid("lat", "must be within [-90, 90]")`."""
    return ApiError("invalid-request", f"{field}: {message}", errors=[FieldError(field, message)])


def malformed(message: str) -> ApiError:
    return ApiError("malformed-request", message)


def _from_grpc(exc: grpc.aio.AioRpcError) -> ApiError:
    kind = GRPC_TO_KIND.get(exc.code(), "upstream-error")
    detail = (exc.details() or "") if kind in CLIENT_SAFE else ""
    if KINDS[kind].status >= 500:
        log.warning("gateway.upstream_error", code=exc.code().name)
    return ApiError(kind, detail[:500], headers=_retry_after(exc) if kind in HINTED_KINDS else None)


# A service may say when to come back: a quota's reset, or a few seconds while its database is away.
HINTED_KINDS = frozenset({"too-many-requests", "service-unavailable"})


def _retry_after(exc: grpc.aio.AioRpcError) -> dict[str, str] | None:
    """The service's `retry-after` trailing metadata as Retry-After; without it the kind's default applies."""
    for key, value in exc.trailing_metadata() or ():
        if key == "retry-after" and isinstance(value, str) and value.isdigit():
            return {"Retry-After": value}
    return None


def _from_validation(exc: ValidationException) -> ApiError:
    errors = [
        FieldError(str(item.get("key") or item.get("source") or "body"), str(item.get("message", ""))[:300])
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]
    # Litestar answers an unreadable body with a ValidationException carrying no field.
    if not errors and "decode" in (exc.detail or "").lower():
        return malformed("the body is not valid for its content type")
    return ApiError("invalid-request", exc.detail if errors else "", errors=errors or None)


def _from_http(exc: HTTPException) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    kind = KIND_OF_STATUS.get(exc.status_code, "internal-error" if exc.status_code >= 500 else "malformed-request")
    extra = exc.extra if isinstance(exc.extra, dict) else None
    return ApiError(
        kind, exc.detail if exc.detail != _default_phrase(exc.status_code) else "", headers=exc.headers, extra=extra
    )


def _from_unexpected(exc: Exception) -> ApiError:
    log.error("gateway.unhandled_error", error=type(exc).__name__)
    return ApiError("internal-error")


def _default_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def current_trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def request_language(request: Request[Any, Any, Any]) -> str:
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def render_problem(request: Request[Any, Any, Any], exc: ProblemDetailsException) -> Response[Any]:
    """The one renderer: kind texts in the caller's language, type URI, trace id, Retry-After."""
    error = exc if isinstance(exc, ApiError) else _from_http(exc)
    kind = KINDS[error.kind]
    lang = request_language(request)
    problem = Problem(
        type=PROBLEM_BASE + error.kind,
        title=kind.title.get(lang, kind.title["en"]),
        status=kind.status,
        detail=(error.detail or kind.detail["en"]) if lang == "en" else kind.detail[lang],
        instance=request.url.path,
        trace_id=current_trace_id(),
        errors=error.errors,
    )
    body: dict[str, Any] = msgspec.to_builtins(problem)
    if isinstance(error.extra, dict):
        body.update({key: value for key, value in error.extra.items() if key not in body})
    headers = dict(error.headers or {})
    if kind.status in RETRY_AFTER_S:
        headers.setdefault("Retry-After", str(RETRY_AFTER_S[kind.status]))
    return Response(body, status_code=kind.status, media_type=PROBLEM_JSON, headers=headers)


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_handler=render_problem,
            exception_to_problem_detail_map={
                grpc.aio.AioRpcError: _from_grpc,
                ValidationException: _from_validation,
                HTTPException: _from_http,
                Exception: _from_unexpected,
            },
        )
    )
