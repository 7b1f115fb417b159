"""`X-Trace-Id` on every answer, so a resident's bug report leads an operator to the whole trace."""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from cityhub_gateway.errors import current_trace_id

TRACE_HEADER = b"x-trace-id"


def trace_id_header(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return

        async def send_with_trace(message: Message) -> None:
            if message["type"] == "http.response.start":
                trace_id = current_trace_id()
                if trace_id:
                    message["headers"] = [*message.get("headers", []), (TRACE_HEADER, trace_id.encode())]
            await send(message)

        await app(scope, receive, send_with_trace)

    return middleware
