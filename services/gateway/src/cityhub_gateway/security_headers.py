"""Browser hardening headers on every answer, and a Content-Security-Policy that fits each page.

Every answer: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy:
no-referrer` and a CSP that forbids framing. API answers (JSON, XML, images, streams) get
`default-src 'none'`: nothing in them may run if a browser is tricked into rendering one. HTML
pages (the API reference at /schema, the problem pages) may load only the gateway's own files
(/schema/assets/) and run only the inline scripts they were served with: the middleware hashes
each inline `<script>` of the page into `script-src`, so no `'unsafe-inline'` is needed for scripts.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
API_POLICY = b"default-src 'none'; frame-ancestors 'none'"
HTML_POLICY = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
CSP = b"content-security-policy"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
MAX_HTML_BYTES = 1024 * 1024  # larger pages are not the gateway's; they get the API policy


def html_policy(body: bytes) -> bytes:
    """The CSP for an HTML page: its own inline scripts, by SHA-256, and nothing else inline."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(body)
    )
    return HTML_POLICY.format(hashes=hashes).encode()


def _with_defaults(headers: list[tuple[bytes, bytes]], policy: bytes) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    extra = [(name, value) for name, value in ((*ALWAYS, (CSP, policy))) if name not in present]
    return [*headers, *extra]


def security_headers(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return
        start: Any = None  # the held http.response.start message
        chunks: list[bytes] = []

        async def send_secured(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    start = message  # held until the page is complete: its scripts make the policy
                    return
                message["headers"] = _with_defaults(headers, API_POLICY)
                await send(message)
                return
            if start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False) and sum(map(len, chunks)) <= MAX_HTML_BYTES:
                    return
                body = b"".join(chunks)
                policy = html_policy(body) if not message.get("more_body", False) else API_POLICY
                start["headers"] = _with_defaults(list(start.get("headers", [])), policy)
                await send(start)
                start = None
                await send({**message, "body": body})
                return
            await send(message)

        await app(scope, receive, send_secured)

    return middleware
