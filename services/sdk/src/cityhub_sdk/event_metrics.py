"""OpenTelemetry instruments of the event path: what the outbox relay and the consumers gave up on.

Created once per process on the global meter (OTel's proxy until telemetry is configured, then the
real provider), so several relays or consumers in one process add to the same instruments instead
of registering duplicates. Attributes are subjects, consumer names and error classes: never ids,
payloads or anything about a person.
"""

from __future__ import annotations

from opentelemetry import metrics

from cityhub_sdk.metrics import duration_histogram

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
outbox_published = _meter.create_counter(
    "outbox_published_total",
    unit="{event}",
    description="outbox rows published to NATS and marked sent (attribute: subject)",
)
consumer_redeliveries = _meter.create_counter(
    "consumer_redeliveries_total",
    unit="{event}",
    description="messages a consumer received again after a nak, a timeout or a restart (attributes: consumer, subject)",
)
consumer_process_duration = duration_histogram(
    _meter,
    "consumer.process.duration",
    "time to handle one consumed message (attributes: consumer, subject, outcome = ack, retry or dead_letter)",
)
# Lag as JetStream reports it per durable consumer, polled by `consumer_lag.ConsumerLagMonitor`.
consumer_pending = _meter.create_gauge(
    "consumer_pending_messages",
    unit="{event}",
    description="messages in the stream the consumer has not yet been delivered (attributes: consumer, stream)",
)
consumer_ack_pending = _meter.create_gauge(
    "consumer_ack_pending_messages",
    unit="{event}",
    description="messages delivered to the consumer and not yet acknowledged (attributes: consumer, stream)",
)
consumer_redelivered = _meter.create_gauge(
    "consumer_redelivered_messages",
    unit="{event}",
    description="messages delivered more than once and still unacknowledged (attributes: consumer, stream)",
)
