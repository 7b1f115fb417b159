"""The GOV.UK Notify-style delivery metric: share of notifications handed to a channel within 10 s.

Counted in-process as OpenTelemetry counters (exported when a meter provider is configured), a
latency histogram (`notifications_delivery_latency_seconds{channel}`, one observation per hand-off)
and a ratio gauge; GetDeliveryStats computes the same figure from the database for operators.

The ratio is a synchronous gauge set on every record, not an observable one: OTel keeps only the
first callback registered for an instrument name, so a second DeliveryMetrics in the same process
(a restarted service, tests) would otherwise export the first one's stale figure.
"""

from __future__ import annotations

from datetime import datetime

from cityhub_sdk.metrics import duration_histogram
from cityhub_sdk.timestamps import utc
from opentelemetry import metrics

TARGET_S = 10.0


class DeliveryMetrics:
    def __init__(self, meter: metrics.Meter | None = None) -> None:
        meter = meter or metrics.get_meter("cityhub_notifications")
        self.handed = 0
        self.within = 0
        self._handed = meter.create_counter(
            "notifications_handed_total", description="notifications handed to a channel"
        )
        self._within = meter.create_counter(
            "notifications_handed_within_10s_total", description="handed to a channel within 10 s of the event"
        )
        self._latency = duration_histogram(
            metrics.get_meter("cityhub_notifications.latency"),  # its own scope: a histogram, beside the counters
            "notifications.delivery.latency",
            "from the triggering event to the notification handed to a channel (attribute: channel)",
        )
        self._ratio = meter.create_gauge(
            "notifications_handed_within_10s_ratio",
            description="share of notifications handed to a channel within 10 s of the triggering event",
        )

    def record(self, channel: str, event_time: datetime, handed_at: datetime, count: int = 1) -> None:
        latency_s = (utc(handed_at) - utc(event_time)).total_seconds()
        within = latency_s <= TARGET_S
        # One observation per hand-off: a fan-out inserts many at once, all with the same latency.
        self._latency.record(max(latency_s, 0.0), {"channel": channel})
        self.handed += count
        self._handed.add(count, {"channel": channel})
        if within:
            self.within += count
            self._within.add(count, {"channel": channel})
        self._ratio.set(self.ratio)

    @property
    def ratio(self) -> float:
        return self.within / self.handed if self.handed else 1.0
