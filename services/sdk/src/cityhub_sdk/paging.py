"""Page tokens for every list RPC: opaque to clients, an offset inside.

A malformed token is INVALID_ARGUMENT, never a crash; page size 0 means the default.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cityhub_sdk.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
_PREFIX = "o:"


@dataclass(frozen=True)
class PageWindow:
    offset: int
    size: int

    def next_token(self, total: int) -> str:
        """The token for the following page, or "" when this page reaches `total`."""
        return encode_offset(self.offset + self.size) if self.offset + self.size < total else ""

    def next_token_if_full(self, returned: int) -> str:
        """For queries that fetch one page: another page may follow only when this one is full."""
        return encode_offset(self.offset + self.size) if returned >= self.size else ""


def encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{offset}".encode("ascii")).decode("ascii").rstrip("=")


def page_window(
    page_size: int, page_token: str, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE
) -> PageWindow:
    """The window a request asks for; sizes above `maximum` are capped, not refused."""
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative")
    size = min(page_size or default, maximum)
    if not page_token:
        return PageWindow(0, size)
    try:
        decoded = base64.urlsafe_b64decode(page_token.encode("ascii") + b"==").decode("ascii")
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidArgument("page_token is not valid") from exc
    digits = decoded.removeprefix(_PREFIX)
    if not decoded.startswith(_PREFIX) or not digits.isdigit() or len(digits) > 12:
        raise InvalidArgument("page_token is not valid")
    return PageWindow(int(digits), size)
