"""Event envelopes: protobuf bodies with CloudEvents binary-mode headers and W3C trace context.

Subject and CloudEvents type are the same string, `cityhub.<owner>.<entity>.<past_verb>`; the
protobuf message's full name travels as `ce-dataschema` so a consumer can check what it decodes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import Message
from opentelemetry import propagate

CONTENT_TYPE = "application/protobuf"
M = TypeVar("M", bound=Message)


class EventDecodeError(ValueError):
    """The message on the wire is not the event its subject promises (a poison message)."""


@dataclass(frozen=True)
class Event:
    id: str
    subject: str
    source: str
    time: datetime
    data: bytes
    dataschema: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def cloudevent_type(self) -> str:
        return self.subject

    def decode(self, message_type: type[M]) -> M:
        expected = message_type.DESCRIPTOR.full_name
        if self.dataschema and self.dataschema != expected:
            raise EventDecodeError(f"{self.subject}: expected {expected}, got {self.dataschema}")
        message: M = message_type()
        try:
            message.ParseFromString(self.data)
        except Exception as exc:  # protobuf raises DecodeError and friends
            raise EventDecodeError(f"{self.subject}: undecodable {expected}") from exc
        return message


def new_event(subject: str, message: Message, *, source: str, event_id: str | None = None) -> Event:
    """Build an event and capture the current trace context so the consumer joins the same trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    event = Event(
        id=event_id or str(uuid.uuid4()),
        subject=subject,
        source=f"/cityhub/{source}",
        time=datetime.now(UTC),
        data=message.SerializeToString(),
        dataschema=message.DESCRIPTOR.full_name,
    )
    return Event(**{**event.__dict__, "headers": to_headers(event, carrier)})


def to_headers(event: Event, trace_carrier: dict[str, str] | None = None) -> dict[str, str]:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event.id,
        "ce-type": event.cloudevent_type,
        "ce-source": event.source,
        "ce-time": event.time.isoformat().replace("+00:00", "Z"),
        "ce-dataschema": event.dataschema,
        "content-type": CONTENT_TYPE,
        "Nats-Msg-Id": event.id,
    }
    headers.update(
        trace_carrier
        if trace_carrier is not None
        else {k: v for k, v in event.headers.items() if k in ("traceparent", "tracestate")}
    )
    return headers


def from_message(subject: str, data: bytes, headers: dict[str, str] | None) -> Event:
    headers = dict(headers or {})
    try:
        event_id = headers["ce-id"]
        time = datetime.fromisoformat(headers.get("ce-time", "").replace("Z", "+00:00"))
    except (KeyError, ValueError) as exc:
        raise EventDecodeError(f"{subject}: missing or invalid CloudEvents headers") from exc
    return Event(
        id=event_id,
        subject=subject,
        source=headers.get("ce-source", ""),
        time=time,
        data=data,
        dataschema=headers.get("ce-dataschema", ""),
        headers=headers,
    )
