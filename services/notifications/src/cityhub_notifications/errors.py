"""Use-case errors with client-safe messages; the servicer maps them onto gRPC status codes."""

from __future__ import annotations


class NotificationsError(Exception):
    """Base class; `str(error)` is shown to the client."""


class InvalidArgument(NotificationsError):
    pass


class NotFound(NotificationsError):
    pass


class Unavailable(NotificationsError):
    pass
