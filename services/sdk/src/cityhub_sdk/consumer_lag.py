"""Consumer lag as JetStream counts it, polled for every durable consumer a process runs.

The server knows what no process can count for itself: how many matching messages wait in the
stream (`num_pending`), how many are out and unacknowledged (`num_ack_pending`) and how many of
those were delivered more than once (`num_redelivered`). One `consumer_info` request per consumer
per interval (`CONSUMER_LAG_INTERVAL_S`), as gauges `consumer_pending_messages`,
`consumer_ack_pending_messages` and `consumer_redelivered_messages` labelled {consumer, stream}.
"""

from __future__ import annotations

from collections.abc import Sequence

from nats.js.errors import NotFoundError

from cityhub_sdk import event_metrics
from cityhub_sdk.bus import EventBus
from cityhub_sdk.consumer import ConsumerSpec
from cityhub_sdk.logging import get_logger
from cityhub_sdk.worker import PeriodicTask

log = get_logger(__name__)


class ConsumerLagMonitor(PeriodicTask):
    def __init__(self, bus: EventBus, specs: Sequence[ConsumerSpec], *, interval_s: float) -> None:
        super().__init__(self.measure, name="consumer-lag", interval_s=interval_s)
        self.bus = bus
        self.specs = list(specs)

    async def measure(self) -> None:
        if not self.bus.is_connected:  # readiness already says so; keep the last figures
            return
        for spec in self.specs:
            try:
                info = await self.bus.js.consumer_info(spec.stream, spec.durable, timeout=2.0)
            except NotFoundError:  # not created yet: the consumer's first subscribe makes it
                continue
            labels = {"consumer": spec.durable, "stream": spec.stream}
            event_metrics.consumer_pending.set(int(info.num_pending or 0), labels)
            event_metrics.consumer_ack_pending.set(int(info.num_ack_pending or 0), labels)
            event_metrics.consumer_redelivered.set(int(info.num_redelivered or 0), labels)
