"""Bad request bodies are refused before any handler, so no route can answer one with a 500.

One ASGI middleware, run after routing (it needs the route's body limit and error format), buffers
a request body once and replays it to the app. On the way it refuses, as the route's own error
format (problem+json, or Open311's error list on Open311 routes):

* a body above the route's `request_max_body_size` (413 `payload-too-large`), by Content-Length
  before reading, and while reading a chunked or HTTP/2 body that has none;
* JSON (a JSON content type, or any body for a route whose `data` Litestar decodes as JSON whatever
  the content type) that is not UTF-8, nests deeper than `max_json_depth`, or spells NaN/Infinity
  (400 `malformed-request`). msgspec would recurse into the nesting (RecursionError) and fails on
  invalid UTF-8 with a UnicodeDecodeError; it already rejects NaN/Infinity, the check keeps that
  true for any other decoder. Depth is found without a parser: strings are cut out by one
  regular expression that cannot fail (so no backtracking), the brackets left are counted;
* multipart and URL-encoded forms whose text fields are not valid in their charset (400); file
  parts are binary and pass. Structural errors are left to Litestar's parser, which answers 400.

Requests without a body (GET, HEAD, a POST with Content-Length 0) pass untouched.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

from cityhub_sdk.logging import get_logger
from litestar import Request, Response
from litestar.enums import RequestEncodingType, ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.params import BodyKwarg
from litestar.types import ASGIApp, HTTPRequestEvent, Receive, ReceiveMessage, Scope, Send
from multipart import MultipartError, PushMultipartParser  # type: ignore[import-untyped]

from cityhub_gateway.errors import KINDS, ApiError, render_problem
from cityhub_gateway.open311_format import Open311Error, error_list, format_of

log = get_logger(__name__)

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_MAX_JSON_DEPTH = 64
MULTIPART = "multipart/form-data"
URL_ENCODED = "application/x-www-form-urlencoded"
NOT_JSON_MEDIA = frozenset(
    {RequestEncodingType.MULTI_PART, RequestEncodingType.URL_ENCODED, RequestEncodingType.MESSAGEPACK}
)

# A JSON string from its opening quote to its closing one (or to the end of an unterminated one).
# Every branch can always match, so the engine never backtracks: linear on any input.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
# Keep only brackets, with objects and arrays folded together: depth is all that matters here.
_FOLD = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_RUNS = re.compile(rb"\[+|\]+")
_OPEN = ord("[")


class BodyRefused(Exception):
    """Why a body is refused: a problem kind and a client-safe detail (no body content)."""

    def __init__(self, kind: str, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.reason = reason


def _malformed(detail: str, reason: str) -> BodyRefused:
    return BodyRefused("malformed-request", detail, reason)


def _too_deep(brackets: bytes, limit: int) -> bool:
    """Whether the running depth of a `[`/`]` string (valid JSON's, balanced) exceeds `limit`.

    A `replace` pass (C speed) drops every empty pair: one level off every container, so
    ordinary documents vanish in a few passes. Passes go on while each shrinks the string by
    a sixteenth; what is left then has few leaves, hence long runs of one bracket, which are
    walked run by run (worst case about as long as msgspec takes to decode the same body). Unbalanced input (invalid JSON) may be over-counted, never under.
    """
    while brackets.count(b"[") > limit:
        shorter = brackets.replace(b"[]", b"")
        removed = len(brackets) - len(shorter)
        brackets = shorter
        if removed:
            limit -= 1
            if limit < 0:
                return True
        if removed * 16 < len(brackets) + removed:
            break
    else:
        return False
    depth = 0
    for run in _RUNS.finditer(brackets):
        depth += len(run[0]) if run[0][0] == _OPEN else -len(run[0])
        if depth > limit:
            return True
    return False


def check_json(body: bytes, max_depth: int = DEFAULT_MAX_JSON_DEPTH) -> None:
    """Refuse JSON a decoder must not see: not UTF-8, nested deeper than `max_depth`, NaN/Infinity.

    Cheap tests first: a body with at most `max_depth` openers anywhere cannot nest deeper, and
    one without the words cannot spell them; only other bodies have their strings cut out.
    """
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("the JSON body is not valid UTF-8", "json-utf8") from None
    many_openers = body.count(b"[") + body.count(b"{") > max_depth
    if not many_openers and b"NaN" not in body and b"Infinity" not in body:
        return
    skeleton = _JSON_STRING.sub(b"", body)
    if b"NaN" in skeleton or b"Infinity" in skeleton:
        raise _malformed("NaN and Infinity are not JSON numbers", "json-non-finite")
    if many_openers and _too_deep(skeleton.translate(_FOLD, _NOT_BRACKETS), max_depth):
        raise _malformed(f"the JSON body nests deeper than {max_depth} levels", "json-depth")


def check_url_encoded(body: bytes) -> None:
    """Every name and value percent-decodes to UTF-8 (valid as a whole iff valid part by part)."""
    if body.isascii() and b"%" not in body:
        return
    try:
        unquote_to_bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("a form field is not valid UTF-8", "form-utf8") from None


def check_multipart(body: bytes, boundary: str, max_parts: int) -> None:
    """Text parts decode in their charset (UTF-8 unless declared), as Litestar will decode them."""
    text = bytearray()
    try:
        with PushMultipartParser(boundary.encode("latin-1"), max_segment_count=max_parts) as parser:
            segment: Any = None
            for event in parser.parse(body):
                if event is None:
                    if segment is not None and not segment.filename:
                        _decode_part(bytes(text), segment.name, segment.charset)
                    segment, text = None, bytearray()
                elif isinstance(event, bytes | bytearray):
                    if segment is not None and not segment.filename:
                        text.extend(event)
                else:
                    segment = event
    except (MultipartError, UnicodeEncodeError):
        return  # not a valid multipart stream: Litestar's parser answers 400 for it


def _decode_part(data: bytes, name: str | None, charset: str | None) -> None:
    field = (name or "")[:100]
    try:
        data.decode(charset or "utf-8")
    except LookupError:
        raise _malformed(f"form field {field!r} declares an unknown charset", "form-charset") from None
    except UnicodeDecodeError:
        raise _malformed(f"form field {field!r} is not valid text in its charset", "form-utf8") from None


def _decodes_json(route_handler: Any) -> bool:
    """Litestar decodes a route's `data` as JSON unless it is declared form or MessagePack."""
    field = getattr(route_handler, "parsed_data_field", None)
    if field is None:
        return False
    kwarg = field.kwarg_definition
    return not (isinstance(kwarg, BodyKwarg) and kwarg.media_type in NOT_JSON_MEDIA)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class BodyGuard(ASGIMiddleware):
    """Buffer, check and replay request bodies; `max_body_bytes` applies where a route sets no limit."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, max_body_bytes: int, max_json_depth: int = DEFAULT_MAX_JSON_DEPTH) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope.get("method") not in BODY_METHODS:
            await next_app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None and length.strip() == "0":
            await next_app(scope, receive, send)
            return
        if length is None and _header(scope, b"transfer-encoding") is None and scope["http_version"] < "2":
            await next_app(scope, receive, send)  # HTTP/1 framing: no length, not chunked, no body
            return
        route_handler = scope["route_handler"]
        try:
            body = await self._read(scope, receive, length, route_handler)
            if body is None:
                return  # the client went away
            if body:
                self._check(scope, body, route_handler)
        except BodyRefused as refused:
            await _answer(scope, receive, send, refused)
            return
        await next_app(scope, _replay(body, receive), send)

    def _limit(self, route_handler: Any) -> int:
        resolve = getattr(route_handler, "resolve_request_max_body_size", None)
        limit = resolve() if resolve is not None else None
        return int(limit) if limit is not None else self.max_body_bytes

    async def _read(self, scope: Scope, receive: Receive, length: str | None, route_handler: Any) -> bytes | None:
        limit = self._limit(route_handler)
        too_large = BodyRefused("payload-too-large", f"the body is larger than {limit} bytes", "size")
        if length is not None and length.strip().isdigit() and int(length) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _check(self, scope: Scope, body: bytes, route_handler: Any) -> None:
        # Litestar's own reading of the header, so the boundary is the one its parser will use.
        media, options = scope["litestar_app"].request_class(scope).content_type
        if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
            check_json(body, self.max_json_depth)
        elif _decodes_json(route_handler):
            check_json(body, self.max_json_depth)  # Litestar decodes this route's body as JSON anyway
        if media == MULTIPART and options.get("boundary"):
            check_multipart(body, options["boundary"], scope["litestar_app"].multipart_form_part_limit)
        elif media == URL_ENCODED:
            check_url_encoded(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The buffered body as one message, then the real channel (for http.disconnect)."""
    pending = True

    async def replay() -> ReceiveMessage:
        nonlocal pending
        if pending:
            pending = False
            message: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
            return message
        return await receive()

    return replay


async def _answer(scope: Scope, receive: Receive, send: Send, refused: BodyRefused) -> None:
    """Answer in the route's error format, through this middleware's `send` (trace header included)."""
    route_handler = scope["route_handler"]
    log.info("gateway.body_refused", kind=refused.kind, reason=refused.reason, route=scope.get("path_template"))
    request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope, receive)
    response: Response[Any]
    if Open311Error in route_handler.resolve_exception_handlers():
        response = error_list(format_of(request), [(KINDS[refused.kind].status, refused.detail)])
    else:
        response = render_problem(request, ApiError(refused.kind, refused.detail))
    await response.to_asgi_response(app=None, request=request)(scope, receive, send)
