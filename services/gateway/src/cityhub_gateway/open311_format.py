"""Shared Open311 GeoReport v2 plumbing: JSON/XML rendering, error lists, jurisdiction checks.

Any Open311 route module (services here, requests elsewhere) uses these helpers so every
endpoint speaks the spec the same way (https://wiki.open311.org/GeoReport_v2):

* the format is the path's extension: `.json` or `.xml` (`format_of(request)`);
* `render(fmt, payload, root=..., item=...)` turns plain dicts/lists into JSON, or into XML
  where lists become repeated singular elements (`<services><service>...`), booleans become
  `true`/`false` and None an empty element; `root`/`item` name the top level;
* errors are a list of `{code, description}` (JSON) or `<errors><error><code/><description/>`
  (XML) with the HTTP status equal to the code: raise `Open311Error`, or let
  `OPEN311_EXCEPTION_HANDLERS` (set on the route's Controller/Router) translate gRPC errors,
  validation errors and HTTP errors;
* `await check_jurisdiction(clients, jurisdiction_id)`: only the city's id (catalog data, from
  `get_city`) or none is accepted;
* `operation_class=Open311Operation` on a route whose one path answers both formats documents the
  `text/xml` twin of its typed JSON answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from xml.etree import ElementTree as ET

import grpc
import msgspec
from cityhub_sdk.logging import get_logger
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema

from cityhub_gateway.catalog import get_city
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.errors import CLIENT_SAFE, GRPC_TO_KIND, KINDS

log = get_logger(__name__)

Format = Literal["json", "xml"]
XML = "text/xml"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MEDIA_TYPES: dict[str, str] = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# Singular element names for nested lists in XML; other plurals drop their trailing "s".
SINGULAR: dict[str, str] = {
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
    "services": "service",
}


class Open311Error(Exception):
    """An error answered as the spec's error list with HTTP status `code`."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def format_of(request: Request[Any, Any, Any]) -> Format:
    """`json` or `xml` from the path's extension (JSON when there is none)."""
    return "xml" if request.url.path.endswith(".xml") else "json"


async def check_jurisdiction(clients: ServiceClients, jurisdiction_id: str | None) -> None:
    """None or the city's own Open311 id (catalog's `city.yaml`); anything else is the spec's 404."""
    if not jurisdiction_id:
        return
    expected = (await get_city(clients)).jurisdiction_id
    if jurisdiction_id != expected:
        raise Open311Error(404, f"jurisdiction_id not found; this endpoint serves {expected}")


@dataclass
class Open311Operation(Operation):
    """An operation whose one path serves `.json` and `.xml`: its 2xx answers gain `text/xml`."""

    def __post_init__(self) -> None:
        for code, response in (self.responses or {}).items():
            if code.startswith("2") and isinstance(response, OpenAPIResponse) and response.content:
                response.content[XML] = OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.STRING, description="The same answer as Open311 XML")
                )


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _append(parent: ET.Element, tag: str, value: Any) -> None:
    element = ET.SubElement(parent, tag)
    _fill(element, tag, value)


def _fill(element: ET.Element, tag: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _append(element, str(key), child)
    elif isinstance(value, list | tuple):
        item = SINGULAR.get(tag, tag[:-1] if tag.endswith("s") else "item")
        for child in value:
            _append(element, item, child)
    else:
        element.text = _xml_text(value)


def to_xml(payload: Any, *, root: str, item: str | None = None) -> bytes:
    """XML for a dict (children of `root`) or a list (`item` elements inside `root`)."""
    element = ET.Element(root)
    if isinstance(payload, list | tuple):
        tag = item or SINGULAR.get(root, "item")
        for child in payload:
            _append(element, tag, child)
    else:
        _fill(element, root, payload)
    body: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return body


def to_json(payload: Any) -> bytes:
    return msgspec.json.encode(payload)


def body_of(fmt: Format, payload: Any, *, root: str, item: str | None = None) -> bytes:
    return to_xml(payload, root=root, item=item) if fmt == "xml" else to_json(payload)


def render(
    fmt: Format,
    payload: Any,
    *,
    root: str,
    item: str | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    return Response(
        content=body_of(fmt, payload, root=root, item=item),
        status_code=status,
        media_type=MEDIA_TYPES[fmt],
        headers=dict(headers or {}),
    )


def error_list(fmt: Format, errors: Sequence[tuple[int, str]], *, status: int | None = None) -> Response[bytes]:
    """The spec's error answer; the HTTP status is the first error's code unless given."""
    payload = [{"code": code, "description": description} for code, description in errors]
    return render(fmt, payload, root="errors", item="error", status=status or errors[0][0])


def _open311_error_handler(request: Request[Any, Any, Any], exc: Open311Error) -> Response[bytes]:
    return error_list(format_of(request), [(exc.code, exc.description)])


def _grpc_error_handler(request: Request[Any, Any, Any], exc: grpc.aio.AioRpcError) -> Response[bytes]:
    kind = GRPC_TO_KIND.get(exc.code(), "upstream-error")
    status, title = KINDS[kind].status, KINDS[kind].title["en"]
    if status == 422:
        status = 400  # Open311 clients know 400 for a bad request, not 422
    detail = (exc.details() or title) if kind in CLIENT_SAFE else title
    return error_list(format_of(request), [(status, detail)])


def _validation_error_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    messages = [
        f"{e.get('key', 'parameter')}: {e.get('message', 'invalid')}" for e in (exc.extra or []) if isinstance(e, dict)
    ]
    return error_list(format_of(request), [(400, m) for m in messages] or [(400, str(exc.detail))])


def _http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    return error_list(format_of(request), [(exc.status_code, str(exc.detail))])


def _internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.error("gateway.open311_unhandled_error", error=type(exc).__name__, path=request.url.path)
    return error_list(format_of(request), [(500, "Internal server error")])


OPEN311_EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    Exception: _internal_error_handler,
    Open311Error: _open311_error_handler,
    grpc.aio.AioRpcError: _grpc_error_handler,
    ValidationException: _validation_error_handler,
    HTTPException: _http_error_handler,
}
