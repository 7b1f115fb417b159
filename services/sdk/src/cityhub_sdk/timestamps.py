"""UTC everywhere: SQLite hands timestamps back naive, PostgreSQL aware; protobuf wants Timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp


def utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already (how it was stored)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)


def to_timestamp(value: datetime | None) -> Timestamp | None:
    """A protobuf Timestamp for an optional datetime (None stays unset on the message)."""
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(utc(value))
    return stamp


def from_timestamp(stamp: Timestamp, present: bool = True) -> datetime | None:
    """The aware datetime of a Timestamp field, or None when the field was not set."""
    return stamp.ToDatetime(tzinfo=UTC) if present else None
