"""Bad bodies get a 4xx before any handler, on every route of the live spec: nesting that would
make a decoder recurse, invalid UTF-8 in JSON and in form fields, NaN/Infinity, and bodies over
the limit with or without a Content-Length. The answer is the route's own error format:
problem+json with a trace id, or Open311's error list on /open311. No backend runs: the guard
answers first (a body that passes reaches the handler, which finds the backends offline)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from cityhub_gateway.app import create_app
from cityhub_gateway.body_guard import BodyRefused, check_json
from cityhub_gateway.clients import ServiceClients
from cityhub_gateway.config import GatewaySettings
from cityhub_gateway.errors import KINDS
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

BODY_METHODS = ("post", "put", "patch", "delete")
JSON = {"content-type": "application/json"}
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "trace_id"}

# Built once, reused for every route.
BIG = b'{"description": "' + b"x" * (12 * 1024 * 1024) + b'"}'
NESTED_2K = b"[" * 2000 + b"]" * 2000
NESTED_50K = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
BAD_UTF8_JSON = b'{"email": "\xff\xfe@example.org", "password": "\xc3\x28"}'
NON_FINITE = (b'{"lat": NaN, "lon": 1}', b'{"lat": -Infinity, "lon": Infinity}')
BOUNDARY = "guard-test-boundary"
MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
URL_ENCODED = {"content-type": "application/x-www-form-urlencoded"}


def _multipart(*parts: tuple[str, bytes, str]) -> bytes:
    """Parts as (extra Content-Disposition parameters, content, extra headers)."""
    body = b""
    for disposition, content, headers in parts:
        body += f"--{BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n{headers}\r\n".encode()
        body += content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


BAD_MULTIPART = (
    _multipart(('name="service_code"', b"pothole", ""), ('name="description"', b"caf\xe9 \xff", "")),
    _multipart(('name="description"', b"text", "Content-Type: text/plain; charset=no-such-charset\r\n")),
)
BAD_URL_ENCODED = (b"service_code=pothole&description=%FF%FEhole", b"description=caf\xe9")


def _offline_settings() -> GatewaySettings:
    peers = {
        str(field.validation_alias): "127.0.0.1:1"
        for field in GatewaySettings.model_fields.values()
        if str(field.validation_alias).endswith("_ADDR")
    }
    return GatewaySettings(**peers, GRPC_TIMEOUT_S=2, LOG_JSON=False)  # type: ignore[arg-type]


class Gateway:
    def __init__(self, client: httpx.AsyncClient, operations: list[tuple[str, str]]) -> None:
        self.client = client
        self.operations = operations


@pytest.fixture
async def gateway(span_exporter: InMemorySpanExporter) -> AsyncIterator[Gateway]:
    """The gateway with every backend unreachable, and every operation that takes a body."""
    settings = _offline_settings()
    clients = ServiceClients.connect(settings)
    app = create_app(settings, clients)
    spec: dict[str, Any] = app.openapi_schema.to_schema()
    operations = sorted(
        {
            (method, re.sub(r"\{[^}]+\}", "x", path))
            for path, item in spec["paths"].items()
            for method, operation in item.items()
            if method in BODY_METHODS or (isinstance(operation, dict) and "requestBody" in operation)
        }
    )
    assert any(path.startswith("/open311/") for _, path in operations), "Open311 POST routes are covered"
    try:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield Gateway(client, operations)
    finally:
        await clients.close()


def _refusal_error(response: httpx.Response, path: str, status: int, kind: str) -> str | None:
    """Why `response` is not the guard's refusal in the route's format, or None when it is."""
    if response.status_code != status:
        return f"{response.status_code} (wanted {status}): {response.text[:200]}"
    content_type = response.headers.get("content-type", "")
    if path.startswith("/open311/"):
        if path.endswith(".xml"):
            if not content_type.startswith("text/xml"):
                return f"Open311 XML error as {content_type}"
            root = ET.fromstring(response.content)
            codes = [error.findtext("code") for error in root.iter("error")]
            descriptions = [error.findtext("description") for error in root.iter("error")]
            ok = root.tag == "errors" and codes == [str(status)] and all(descriptions)
            return None if ok else f"not an Open311 XML error list: {response.text[:200]}"
        if not content_type.startswith("application/json"):
            return f"Open311 JSON error as {content_type}"
        errors = response.json()
        ok = isinstance(errors, list) and len(errors) == 1 and set(errors[0]) == {"code", "description"}
        return None if ok and errors[0]["code"] == status else f"not an Open311 error list: {errors}"
    if not content_type.startswith("application/problem+json"):
        return f"content type {content_type}"
    problem = response.json()
    if set(problem) != PROBLEM_MEMBERS:
        return f"members {sorted(problem)}"
    expected = {"type": f"/problems/{kind}", "title": KINDS[kind].title["en"], "status": status, "instance": path}
    if any(problem[key] != value for key, value in expected.items()) or not problem["detail"]:
        return f"problem {problem}"
    if problem["trace_id"] != response.headers.get("x-trace-id") or len(problem["trace_id"]) != 32:
        return f"trace id {problem['trace_id']} vs header {response.headers.get('x-trace-id')}"
    return None


async def _send_everywhere(
    gateway: Gateway, bodies: tuple[bytes, ...], headers: dict[str, str], status: int, kind: str
) -> None:
    failures = []
    for method, path in gateway.operations:
        for body in bodies:
            response = await gateway.client.request(method.upper(), path, content=body, headers=headers)
            if (why := _refusal_error(response, path, status, kind)) is not None:
                failures.append(f"{method.upper()} {path} [{body[:24]!r}]: {why}")
    assert not failures, "\n".join(failures)


async def test_deeply_nested_json_is_refused_on_every_route(gateway: Gateway) -> None:
    await _send_everywhere(gateway, (NESTED_2K, NESTED_50K), JSON, 400, "malformed-request")


async def test_nesting_is_refused_whatever_the_content_type_says(gateway: Gateway) -> None:
    # Litestar decodes a JSON route's body as JSON whatever its Content-Type; so does the guard.
    for headers in ({}, {"content-type": "text/plain"}, MULTIPART):
        response = await gateway.client.post("/v1/auth/token", content=NESTED_50K, headers=headers)
        assert _refusal_error(response, "/v1/auth/token", 400, "malformed-request") is None, response.text


async def test_invalid_utf8_json_is_refused_on_every_route(gateway: Gateway) -> None:
    await _send_everywhere(gateway, (BAD_UTF8_JSON,), JSON, 400, "malformed-request")


async def test_nan_and_infinity_are_refused_on_every_route(gateway: Gateway) -> None:
    await _send_everywhere(gateway, NON_FINITE, JSON, 400, "malformed-request")


async def test_invalid_text_in_multipart_fields_is_refused_on_every_route(gateway: Gateway) -> None:
    await _send_everywhere(gateway, BAD_MULTIPART, MULTIPART, 400, "malformed-request")


async def test_invalid_utf8_in_url_encoded_fields_is_refused_on_every_route(gateway: Gateway) -> None:
    await _send_everywhere(gateway, BAD_URL_ENCODED, URL_ENCODED, 400, "malformed-request")


async def test_bodies_over_the_limit_are_413_with_a_content_length(gateway: Gateway) -> None:
    await _send_everywhere(gateway, (BIG,), JSON, 413, "payload-too-large")


async def test_bodies_over_the_limit_are_413_when_chunked(gateway: Gateway) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(BIG), 1024 * 1024):
            yield BIG[start : start + 1024 * 1024]

    failures = []
    for method, path in gateway.operations:
        response = await gateway.client.request(method.upper(), path, content=chunks(), headers=JSON)
        assert response.request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.request.headers
        if (why := _refusal_error(response, path, 413, "payload-too-large")) is not None:
            failures.append(f"{method.upper()} {path}: {why}")
    assert not failures, "\n".join(failures)


async def test_refusals_are_in_the_callers_language(gateway: Gateway) -> None:
    response = await gateway.client.post("/v1/auth/token?lang=ja", content=NESTED_2K, headers=JSON)
    assert response.status_code == 400
    assert response.json()["title"] == KINDS["malformed-request"].title["ja"]
    assert response.json()["detail"] == KINDS["malformed-request"].detail["ja"]


async def test_small_good_bodies_reach_the_handler(gateway: Gateway) -> None:
    # Bad credentials, backends offline: the handler ran and could not reach identity.
    credentials = {"email": "ann@example.org", "password": "not the password"}
    response = await gateway.client.post("/v1/auth/token", json=credentials)
    assert response.status_code in (503, 504), response.text
    assert response.headers["content-type"].startswith("application/problem+json")

    # Brackets, quotes and escapes inside strings are text, not nesting.
    tricky = {"email": "ann@example.org", "password": "[[[[" * 100 + '\\"{{{{' * 100 + "\\" + "NaN Infinity"}
    response = await gateway.client.post("/v1/auth/token", json=tricky)
    assert response.status_code in (503, 504), response.text

    # A chunked body under the limit is replayed whole to the handler.
    async def chunked() -> AsyncIterator[bytes]:
        yield b'{"email": "ann@example.org", '
        yield b'"password": "not the password"}'

    response = await gateway.client.post("/v1/auth/token", content=chunked(), headers=JSON)
    assert response.status_code in (503, 504), response.text

    # A good Open311 form reaches the handler too, which answers in Open311's format.
    form = {"service_code": "pothole", "api_key": "k", "lat": "47.6", "long": "-122.3", "description": "café"}
    response = await gateway.client.post("/open311/v2/requests.json", data=form)
    assert response.status_code in (503, 504) and response.json()[0]["code"] == response.status_code, response.text


async def test_nesting_up_to_the_limit_passes_the_guard(gateway: Gateway) -> None:
    at_limit = b'{"email": ' + b"[" * 63 + b"]" * 63 + b', "password": "x"}'
    response = await gateway.client.post("/v1/auth/token", content=at_limit, headers=JSON)
    assert response.status_code == 422 and response.json()["type"] == "/problems/invalid-request", response.text
    over = b'{"email": ' + b"[" * 64 + b"]" * 64 + b', "password": "x"}'
    response = await gateway.client.post("/v1/auth/token", content=over, headers=JSON)
    assert response.status_code == 400 and response.json()["type"] == "/problems/malformed-request"


async def test_binary_file_parts_pass_the_guard(gateway: Gateway) -> None:
    photo = bytes(range(256)) * 64  # not UTF-8, and a file: allowed
    body = _multipart(
        ('name="category"', "café".encode(), ""),
        ('name="photo"; filename="p.jpg"', photo, "Content-Type: image/jpeg\r\n"),
    )
    response = await gateway.client.post("/v1/incidents", content=body, headers=MULTIPART)
    # Past the guard: the handler's own validation answers (no lat/lon in this form).
    assert response.status_code == 422 and response.json()["type"] == "/problems/invalid-request", response.text


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        (b'{"a": "[[[[[[[[", "b": "\\"{{{{{{{{"}', False),
        (b'{"a": "\\\\", "b": [[[[[[[[[]]]]]]]]]}', True),  # an escaped backslash ends the string
        (b'["' + b"[" * 100 + b'"]', False),
        (b"[" * 9 + b"]" * 9, True),
        (b"[" * 8 + b"]" * 8, False),
        (b"[{}]" * 1000, False),
        (b"[" + b"[[]]," * 1000 + b"[]]", False),
        (b'{"a": "unterminated [[[[[[[[[[[[', False),
        (b'{"n": NaN}', True),
        (b'{"n": "NaN"}', False),
        (b'{"n": "\xe2\x82\xac"}', False),
        (b'{"n": "\xe2\x82"}', True),
    ],
)
def test_the_json_scan(body: bytes, refused: bool) -> None:
    try:
        check_json(body, max_depth=8)
    except BodyRefused as exc:
        assert refused, exc.detail
        assert exc.kind == "malformed-request"
    else:
        assert not refused
