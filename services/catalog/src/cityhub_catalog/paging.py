"""Page tokens: opaque to clients, an offset inside; a malformed token is INVALID_ARGUMENT."""

from __future__ import annotations

import base64
import binascii

from cityhub_catalog.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
_PREFIX = "o:"


def page_window(page_size: int, page_token: str) -> tuple[int, int]:
    """(offset, size) for a request; size 0 means the default."""
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative")
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    if not page_token:
        return 0, size
    try:
        decoded = base64.urlsafe_b64decode(page_token.encode("ascii") + b"==").decode("ascii")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidArgument("page_token is not valid") from exc
    if not decoded.startswith(_PREFIX) or not decoded[len(_PREFIX) :].isdigit():
        raise InvalidArgument("page_token is not valid")
    return int(decoded[len(_PREFIX) :]), size


def next_page_token(offset: int, size: int, total: int) -> str:
    end = offset + size
    if end >= total:
        return ""
    return base64.urlsafe_b64encode(f"{_PREFIX}{end}".encode("ascii")).decode("ascii").rstrip("=")
