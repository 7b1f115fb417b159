"""Use-case errors; the gRPC layer turns each into its status code with the same client-safe text."""

from __future__ import annotations


class IncidentsError(Exception):
    """Base class; `str(error)` is written for clients."""


class InvalidArgument(IncidentsError):
    pass


class NotFound(IncidentsError):
    pass


class PermissionDenied(IncidentsError):
    pass


class Unauthenticated(IncidentsError):
    pass


class FailedPrecondition(IncidentsError):
    pass


class AlreadyExists(IncidentsError):
    pass
