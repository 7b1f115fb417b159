"""Use-case errors carrying the gRPC status they map to; their text is safe to show clients."""

from __future__ import annotations

import grpc


class CatalogError(Exception):
    code = grpc.StatusCode.UNKNOWN


class InvalidArgument(CatalogError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(CatalogError):
    code = grpc.StatusCode.NOT_FOUND


class PermissionDenied(CatalogError):
    code = grpc.StatusCode.PERMISSION_DENIED
