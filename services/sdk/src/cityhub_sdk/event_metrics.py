"""OpenTelemetry instruments of the event path: what the outbox relay and the consumers gave up on.

Created once per process on the global meter (OTel's proxy until telemetry is configured, then the
real provider), so several relays or consumers in one process add to the same instruments instead
of registering duplicates. Attributes are subjects, consumer names and error classes: never ids,
payloads or anything about a person.
"""

from __future__ import annotations

from opentelemetry import metrics

METER_NAME = "cityhub_sdk.events"
_meter = metrics.get_meter(METER_NAME)

outbox_publish_failures = _meter.create_counter(
    "outbox_publish_failures_total",
    unit="{event}",
    description="outbox rows whose publish failed and were scheduled for a retry (attributes: subject, error)",
)
outbox_dead_letters = _meter.create_counter(
    "outbox_dead_letters_total",
    unit="{event}",
    description="outbox rows given up on and moved to dead_letters (attribute: subject)",
)
# A synchronous gauge set by the relay, not an observable one: OTel keeps only the first callback per
# instrument name, so a second relay in the same process (tests, a restarted service) would go unseen.
outbox_backlog = _meter.create_gauge(
    "outbox_backlog",
    unit="{event}",
    description="outbox rows not yet published, retries waiting for their back-off included (attribute: service)",
)
consumer_dead_letters = _meter.create_counter(
    "consumer_dead_letters_total",
    unit="{event}",
    description="consumed events dead-lettered and terminated (attributes: consumer, subject, reason)",
)
