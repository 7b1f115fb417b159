"""The wait-time estimator: a fold over one queue's events in event-time order.

Pure and deterministic: the state after a sequence of events depends only on that sequence, and
the service always feeds it sorted by (event time, event id), so the same set of events gives the
same estimate whatever order they arrived in.

- Handling time per counter is smoothed exponentially (A = 0.95·A' + 0.05·h, after a plain mean over
  the first `MIN_SAMPLES` tickets); below `MIN_SAMPLES` served tickets the answer is an explicit
  "not enough data", and with no counter open it is "no counter open".
- The expected wait comes from a small schedule: each open counter is busy for what its current
  ticket likely has left (the average less the time it has been at the counter, at least a third
  of the average), then each person ahead takes the average at the counter that frees up first.
  The range widens with the square root of the turns ahead and the measured spread of handling
  times, and leans pessimistic: the low end is one standard deviation below, the high end 1.6
  above, the expected value a tenth of a deviation above (people forgive a wait shorter than
  quoted, not a longer one).
- `confidence` is measured, not assumed: the smoothed share of walk-ins whose actual wait fell
  inside the range published when they took their ticket (starting from the nominal 0.8).
- Merge rule for positions: checked-in appointments are served before walk-ins; each group in
  order of arrival (event time, then event id). Remote check-ins are walk-ins unless they say
  they hold an appointment.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cityhub.waittimes.v1 import waittimes_pb2 as pb

MIN_SAMPLES = 5
SMOOTHING = 0.05  # weight of the newest handling time (0.1 in Salesforce's A = 0.9·A' + 0.1·W)
COVERAGE_SMOOTHING = 0.1
NOMINAL_CONFIDENCE = 0.8
LOW_SIGMAS = 1.0
HIGH_SIGMAS = 1.6
PESSIMISM_SIGMAS = 0.1
MAX_HANDLING_S = 4 * 3600.0  # longer is a forgotten "served" press, not a handling time
RESIDUAL_FLOOR = 0.35  # a ticket at the counter longer than average still has about this much left
DRIFT = 0.15  # relative uncertainty from what the queue does meanwhile (counters, appointments)

ISSUED = pb.QUEUE_EVENT_KIND_TICKET_ISSUED
CALLED = pb.QUEUE_EVENT_KIND_TICKET_CALLED
SERVED = pb.QUEUE_EVENT_KIND_TICKET_SERVED
NO_SHOW = pb.QUEUE_EVENT_KIND_TICKET_NO_SHOW
OPENED = pb.QUEUE_EVENT_KIND_COUNTER_OPENED
CLOSED = pb.QUEUE_EVENT_KIND_COUNTER_CLOSED
APPOINTMENT = pb.QUEUE_EVENT_KIND_APPOINTMENT_CHECKED_IN

STATE_ESTIMATED = "estimated"
STATE_NOT_ENOUGH_DATA = "not_enough_data"
STATE_NO_COUNTER_OPEN = "no_counter_open"


@dataclass(frozen=True)
class QueueEventIn:
    """One event as the fold sees it; `at` is seconds since the epoch (UTC)."""

    at: float
    event_id: str
    kind: int
    ticket: str = ""
    counter: str = ""

    @property
    def key(self) -> tuple[float, str]:
        return (self.at, self.event_id)


@dataclass(frozen=True)
class Estimate:
    state: str
    low_s: int = 0
    expected_s: int = 0
    high_s: int = 0
    confidence: float = NOMINAL_CONFIDENCE
    samples: int = 0


@dataclass(frozen=True)
class Outcome:
    """What happened to a ticket in the events just folded (for remote check-ins)."""

    status: str  # called | served | no_show
    at: float
    counter: str = ""


@dataclass
class Waiting:
    issued_at: float
    appointment: bool
    event_id: str
    quoted: tuple[int, int] | None  # the range published when this walk-in took the ticket


@dataclass
class HourStats:
    arrivals: int = 0
    waits: int = 0
    wait_sum_s: float = 0.0


def hour_start(at: float) -> float:
    return math.floor(at / 3600.0) * 3600.0


@dataclass
class QueueFold:
    """A queue's state after folding its events in order; serialisable as the checkpoint."""

    waiting: dict[str, Waiting] = field(default_factory=dict)
    serving: dict[str, tuple[float, str]] = field(default_factory=dict)  # ticket -> (called at, counter)
    counters: set[str] = field(default_factory=set)
    handling_s: float = 0.0
    handling_var: float = 0.0
    samples: int = 0
    coverage: float = NOMINAL_CONFIDENCE
    last_issued: str = ""
    last_called: str = ""
    served_day: str = ""
    served_today: int = 0
    last_at: float | None = None

    # -- folding ----------------------------------------------------------------------------

    def apply(
        self,
        event: QueueEventIn,
        tz: ZoneInfo,
        outcomes: dict[str, list[Outcome]] | None = None,
        stats: dict[float, HourStats] | None = None,
    ) -> None:
        """Fold one event (the caller keeps the order); `outcomes`/`stats` collect side results."""
        self.last_at = event.at if self.last_at is None else max(self.last_at, event.at)
        kind, ticket, counter = event.kind, event.ticket, event.counter
        if kind in (ISSUED, APPOINTMENT):
            if not ticket or ticket in self.waiting or ticket in self.serving:
                return
            quoted = None
            if kind == ISSUED:
                estimate = self.estimate()
                if estimate.state == STATE_ESTIMATED:
                    quoted = (estimate.low_s, estimate.high_s)
            self.waiting[ticket] = Waiting(event.at, kind == APPOINTMENT, event.event_id, quoted)
            self.last_issued = ticket
            if stats is not None:
                stats.setdefault(hour_start(event.at), HourStats()).arrivals += 1
        elif kind == CALLED:
            if counter:
                self.counters.add(counter)  # a counter that calls is open
                for other, (called_at, at_counter) in list(self.serving.items()):
                    if at_counter == counter:  # the kiosk never pressed "served": it is now
                        self._served(other, called_at, event.at, tz)
                        if outcomes is not None:
                            outcomes.setdefault(other, []).append(Outcome("served", event.at))
            waited = self.waiting.pop(ticket, None)
            if waited is not None:
                wait = max(0.0, event.at - waited.issued_at)
                if waited.quoted is not None:
                    inside = waited.quoted[0] <= wait <= waited.quoted[1]
                    self.coverage += COVERAGE_SMOOTHING * ((1.0 if inside else 0.0) - self.coverage)
                if stats is not None:
                    bucket = stats.setdefault(hour_start(waited.issued_at), HourStats())
                    bucket.waits += 1
                    bucket.wait_sum_s += wait
            if ticket:
                self.serving[ticket] = (event.at, counter)
                self.last_called = ticket
                if outcomes is not None:
                    outcomes.setdefault(ticket, []).append(Outcome("called", event.at, counter))
        elif kind == SERVED:
            served = self.serving.pop(ticket, None)
            if served is not None:
                self._served(ticket, served[0], event.at, tz, popped=True)
            if outcomes is not None and ticket:
                outcomes.setdefault(ticket, []).append(Outcome("served", event.at))
        elif kind == NO_SHOW:
            self.waiting.pop(ticket, None)
            self.serving.pop(ticket, None)
            if outcomes is not None and ticket:
                outcomes.setdefault(ticket, []).append(Outcome("no_show", event.at))
        elif kind == OPENED and counter:
            self.counters.add(counter)
        elif kind == CLOSED and counter:
            self.counters.discard(counter)

    def _served(self, ticket: str, called_at: float, at: float, tz: ZoneInfo, *, popped: bool = False) -> None:
        if not popped:
            self.serving.pop(ticket, None)
        day = datetime.fromtimestamp(at, UTC).astimezone(tz).date().isoformat()
        if day != self.served_day:
            self.served_day, self.served_today = day, 0
        self.served_today += 1
        handling = at - called_at
        if not 0.0 < handling <= MAX_HANDLING_S:
            return
        self.samples += 1
        if self.samples <= MIN_SAMPLES:  # warm-up: a plain mean, so the first ticket does not dominate
            delta = handling - self.handling_s
            self.handling_s += delta / self.samples
            self.handling_var += (delta * (handling - self.handling_s) - self.handling_var) / self.samples
            return
        deviation = handling - self.handling_s
        self.handling_s += SMOOTHING * deviation
        self.handling_var = (1 - SMOOTHING) * (self.handling_var + SMOOTHING * deviation * deviation)

    # -- reading ----------------------------------------------------------------------------

    def order(self) -> list[str]:
        """Waiting tickets in service order: appointments first, then walk-ins, each by arrival."""
        return [
            ticket
            for ticket, _ in sorted(
                self.waiting.items(), key=lambda item: (not item[1].appointment, item[1].issued_at, item[1].event_id)
            )
        ]

    def people_ahead(self, ticket: str) -> int | None:
        order = self.order()
        return order.index(ticket) if ticket in self.waiting else None

    def estimate(self, ahead: int | None = None) -> Estimate:
        """The wait of someone with `ahead` people before them (default: a walk-in taking a ticket now)."""
        counters = len(self.counters)
        if counters == 0:
            return Estimate(STATE_NO_COUNTER_OPEN, confidence=round(self.coverage, 3), samples=self.samples)
        if self.samples < MIN_SAMPLES:
            return Estimate(STATE_NOT_ENOUGH_DATA, confidence=round(self.coverage, 3), samples=self.samples)
        before = len(self.waiting) if ahead is None else ahead
        busy = min(len(self.serving), counters)
        completions = max(0, before + busy - counters + 1)
        mean = self._schedule(before, counters)
        spread = math.sqrt(max(self.handling_var, 0.0)) / self.handling_s if self.handling_s > 0 else 1.0
        # Completions on c counters are nearly Poisson as c grows; one counter keeps its own spread.
        variability = math.sqrt((spread * spread + (counters - 1)) / counters)
        sigma = math.hypot(math.sqrt(completions) * self.handling_s / counters * variability, DRIFT * mean)
        low = max(0.0, mean - LOW_SIGMAS * sigma)
        high = mean + HIGH_SIGMAS * sigma
        expected = mean + PESSIMISM_SIGMAS * sigma
        return Estimate(
            STATE_ESTIMATED,
            low_s=int(math.floor(low / 60.0) * 60),
            expected_s=int(round(expected / 10.0) * 10),
            high_s=int(math.ceil(high / 60.0) * 60),
            confidence=round(self.coverage, 3),
            samples=self.samples,
        )

    def _schedule(self, before: int, counters: int) -> float:
        """When a counter frees up for someone with `before` people ahead: each counter is busy for
        what is likely left of its current ticket, then each person ahead takes the average."""
        now = self.last_at or 0.0
        average = self.handling_s
        left = sorted(
            max(average - (now - called_at), RESIDUAL_FLOOR * average) for called_at, _ in self.serving.values()
        )[:counters]
        free = left + [0.0] * (counters - len(left))
        heapq.heapify(free)
        for _ in range(before):
            heapq.heappush(free, heapq.heappop(free) + average)
        return free[0]

    # -- checkpoint -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "waiting": {t: [w.issued_at, w.appointment, w.event_id, w.quoted] for t, w in self.waiting.items()},
            "serving": {t: [at, counter] for t, (at, counter) in self.serving.items()},
            "counters": sorted(self.counters),
            "handling_s": self.handling_s,
            "handling_var": self.handling_var,
            "samples": self.samples,
            "coverage": self.coverage,
            "last_issued": self.last_issued,
            "last_called": self.last_called,
            "served_day": self.served_day,
            "served_today": self.served_today,
            "last_at": self.last_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> QueueFold:
        if not data:
            return cls()
        return cls(
            waiting={
                t: Waiting(float(v[0]), bool(v[1]), str(v[2]), (int(v[3][0]), int(v[3][1])) if v[3] else None)
                for t, v in data["waiting"].items()
            },
            serving={t: (float(v[0]), str(v[1])) for t, v in data["serving"].items()},
            counters=set(data["counters"]),
            handling_s=float(data["handling_s"]),
            handling_var=float(data["handling_var"]),
            samples=int(data["samples"]),
            coverage=float(data["coverage"]),
            last_issued=str(data["last_issued"]),
            last_called=str(data["last_called"]),
            served_day=str(data["served_day"]),
            served_today=int(data["served_today"]),
            last_at=None if data["last_at"] is None else float(data["last_at"]),
        )

    def copy(self) -> QueueFold:
        return QueueFold.from_json(self.to_json())
