#!/usr/bin/env python3
"""Kiosk traffic for the demo city: every queue of every service centre, as a kiosk system sends it.

The model (one discrete-event simulation per queue, one-second steps):
- arrivals are Poisson with a rate that peaks just after opening and around lunch, by centre type
  (office, neighbourhood, library, clinic, station); about 8% of arrivals are appointment holders,
  who are served ahead of walk-ins; the kiosk stops issuing tickets 15 minutes before closing;
- counters follow the expected load (staffing for ~85% utilisation, re-planned every 30 minutes,
  one counter off for lunch), open and close with events, and serve the line after closing time;
- handling times are log-normal around the queue's mean (coefficient of variation 0.5); 5% of the
  called tickets never come and are marked no-show after a minute.

`make run` starts it (`run.py` adds it to the Procfile): it waits for the gateway and the demo
credentials (.run/demo-credentials.json), imports four weeks of hourly history for the busy hours
of queues that have none, replays the last 15 minutes so estimates exist at once, then feeds live
events every second through `POST /v1/staff/service-centers/{id}/queue-events` with the API key of
a department that runs the queue. In demo mode the centres are always open (outside their real
hours the day profile cycles once an hour) and DEMO_LOAD times busier than the model. It never
exits on errors (honcho would stop everything): it logs and retries.

The accuracy test (services/waittimes/tests/test_accuracy.py) replays `simulate_day` per centre type.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TICK_S = 1.0
WARM_UP_S = 15 * 60  # at DEMO_LOAD, enough served tickets for every estimate
# The live demo city is busier than life (ten times the arrivals, with counters to match) so a
# resident watching one centre sees its numbers move every few seconds, not every few minutes.
DEMO_LOAD = 10
HISTORY_DAYS = 28
KIOSK_CUTOFF_S = 15 * 60


@dataclass(frozen=True)
class Profile:
    """A kind of centre: how busy it gets and how long a visit at the counter takes."""

    name: str
    base_per_hour: float  # arrivals per hour per queue at a quiet hour
    opening_peak: float  # extra share of the base just after opening (decays over ~45 minutes)
    lunch_peak: float  # extra share around 12:30
    service_min: float  # mean handling time
    max_counters: int
    no_show: float = 0.05
    appointments: float = 0.08


PROFILES = {
    "office": Profile("office", 22.0, 1.6, 1.2, 6.0, 4),
    "neighbourhood": Profile("neighbourhood", 14.0, 1.0, 1.5, 5.0, 3),
    "library": Profile("library", 12.0, 0.6, 0.8, 3.0, 2),
    "clinic": Profile("clinic", 16.0, 2.0, 0.3, 8.0, 4, appointments=0.3),
    "station": Profile("station", 9.0, 0.5, 0.6, 4.0, 2),
}
# The demo centres' hours (local), by type; the live simulator reads the real ones from the catalog.
TYPE_HOURS = {
    "office": (8.5, 17.0),
    "neighbourhood": (10.0, 18.0),
    "library": (10.0, 20.0),
    "clinic": (8.0, 16.5),
    "station": (8.0, 17.0),
}


def center_type(center_id: str) -> str:
    if "library" in center_id:
        return "library"
    if "health" in center_id or "clinic" in center_id:
        return "clinic"
    if "service-center" in center_id or center_id in ("parks-office", "senior-center"):
        return "neighbourhood"
    if center_id in ("recycling-station", "west-precinct"):
        return "station"
    return "office"


def arrivals_per_hour(profile: Profile, hours_open: float, local_hour: float) -> float:
    """The arrival rate at `hours_open` after opening and at a local clock hour."""
    opening = profile.opening_peak * math.exp(-hours_open / 0.75)
    lunch = profile.lunch_peak * math.exp(-((local_hour - 12.5) ** 2) / (2 * 0.6**2))
    return profile.base_per_hour * (1.0 + opening + lunch)


def planned_counters(profile: Profile, rate_per_hour: float, local_hour: float, load: int = 1) -> int:
    needed = math.ceil(rate_per_hour * profile.service_min / 60.0 / 0.85)
    counters = max(1, min(profile.max_counters * load, needed))
    if 12.0 <= local_hour < 13.0 and counters > 1:
        counters -= 1  # lunch breaks
    return counters


@dataclass
class Ticket:
    ticket: str
    issued_at: float
    appointment: bool


@dataclass
class Counter:
    name: str
    open: bool = False
    busy_until: float = 0.0
    serving: str = ""
    no_show: bool = False
    closing: bool = False


@dataclass
class QueueSim:
    """One queue's kiosk and counters; `run(until)` returns the events up to `until` (epoch s)."""

    center_id: str
    queue: str
    profile: Profile
    opens: float  # local hour
    closes: float
    tz_offset_s: float  # local = utc + offset (fixed for the simulated span)
    seed: int
    clock: float
    demo: bool = False  # always open: outside the hours the day profile cycles hourly
    load: int = 1  # arrivals and counters multiplied (DEMO_LOAD in the live demo)
    rng: random.Random = field(init=False)
    waiting: list[Ticket] = field(default_factory=list)
    counters: list[Counter] = field(default_factory=list)
    issued: int = 0
    plan_at: float = -1.0
    planned: int = 0
    waits: dict[str, tuple[float, float]] = field(default_factory=dict)  # walk-in ticket -> (issued, wait)
    appointments_issued: set[str] = field(default_factory=set)
    sequence: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.counters = [Counter(str(n + 1)) for n in range(self.profile.max_counters * self.load)]

    # -- the day ----------------------------------------------------------------------------

    def _local_hour(self, at: float) -> float:
        real = ((at + self.tz_offset_s) % 86400) / 3600.0
        if not self.demo or self.opens <= real < self.closes:
            return real
        span = self.closes - self.opens
        return self.opens + ((at % 3600) / 3600.0) * span  # the whole day in an hour

    def _is_open(self, hour: float) -> bool:
        return self.opens <= hour < self.closes

    def _event(self, out: list[dict[str, Any]], at: float, kind: str, ticket: str = "", counter: str = "") -> None:
        self.sequence += 1
        out.append(
            {
                "id": f"{self.queue}-{self.seed}-{self.sequence}",
                "queue": self.queue,
                "kind": kind,
                "ticket": ticket,
                "counter": counter,
                "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(),
                "at": at,
            }
        )

    def run(self, until: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while self.clock + TICK_S <= until:
            self.clock += TICK_S
            self._step(self.clock, out)
        return out

    def _step(self, at: float, out: list[dict[str, Any]]) -> None:
        hour = self._local_hour(at)
        is_open = self._is_open(hour)
        rate = arrivals_per_hour(self.profile, max(0.0, hour - self.opens), hour) * self.load if is_open else 0.0
        if at >= self.plan_at:
            self.planned = planned_counters(self.profile, rate, hour, self.load) if is_open else 0
            self.plan_at = at + 1800
        self._staff(at, out)
        # The always-open demo has no last-ticket cutoff: in its hourly cycle it would be a silent lull.
        kiosk_on = is_open and (self.demo or hour < self.closes - KIOSK_CUTOFF_S / 3600.0)
        if kiosk_on and self.rng.random() < rate * TICK_S / 3600.0:
            self.issued += 1
            appointment = self.rng.random() < self.profile.appointments
            ticket = Ticket(f"{'P' if appointment else 'A'}{self.issued:03d}", at, appointment)
            self.waiting.append(ticket)
            self._event(out, at, "appointment_checked_in" if appointment else "ticket_issued", ticket.ticket)
        for counter in self.counters:
            if counter.serving and at >= counter.busy_until:
                self._event(out, at, "ticket_no_show" if counter.no_show else "ticket_served", counter.serving)
                counter.serving = ""
            if counter.open and not counter.serving and not counter.closing and self.waiting:
                ticket = self._next()
                self._event(out, at, "ticket_called", ticket.ticket, counter.name)
                if not ticket.appointment:
                    self.waits[ticket.ticket] = (ticket.issued_at, at - ticket.issued_at)
                counter.serving = ticket.ticket
                counter.no_show = self.rng.random() < self.profile.no_show
                counter.busy_until = at + (60.0 if counter.no_show else self._handling())

    def _staff(self, at: float, out: list[dict[str, Any]]) -> None:
        open_now = [c for c in self.counters if c.open]
        wanted = self.planned
        if not wanted and self.waiting:  # after closing time the counters still serve the line
            wanted = max(1, len([c for c in open_now if not c.closing]))
        for counter in self.counters:
            if len(open_now) >= wanted:
                break
            if not counter.open:
                counter.open, counter.closing = True, False
                open_now.append(counter)
                self._event(out, at, "counter_opened", counter=counter.name)
        for counter in reversed(self.counters):
            if len([c for c in self.counters if c.open and not c.closing]) <= wanted:
                break
            if counter.open and not counter.closing:
                counter.closing = True
        for counter in self.counters:
            if counter.closing and not counter.serving:
                counter.open, counter.closing = False, False
                self._event(out, at, "counter_closed", counter=counter.name)

    def _next(self) -> Ticket:
        appointments = [t for t in self.waiting if t.appointment]
        ticket = appointments[0] if appointments else self.waiting[0]
        self.waiting.remove(ticket)
        return ticket

    def _handling(self) -> float:
        mean, cv = self.profile.service_min * 60.0, 0.5
        sigma = math.sqrt(math.log(1 + cv * cv))
        return max(30.0, self.rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma))


def simulate_day(kind: str, seed: int = 1, day: datetime | None = None) -> tuple[QueueSim, list[dict[str, Any]]]:
    """A whole open day of one queue of a centre of `kind`, from opening until the line is empty;
    the simulation (with each walk-in's actual wait in `waits`) and its kiosk events in order."""
    opens, closes = TYPE_HOURS[kind]
    start = (day or datetime(2026, 3, 10, tzinfo=UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    begin = start.timestamp() + opens * 3600 - 60
    sim = QueueSim(f"{kind}-centre", "main", PROFILES[kind], opens, closes, 0.0, seed, begin)
    return sim, sim.run(start.timestamp() + closes * 3600 + 2 * 3600)


def history_hours(sim: QueueSim, now: float, days: int) -> list[dict[str, Any]]:
    """Hourly figures for the past `days` (what a kiosk system's reports hold), from the model."""
    rng = random.Random(sim.seed * 7919)
    rows = []
    first = math.floor((now - days * 86400) / 3600) * 3600
    for hour_start in range(int(first), int(now) - 3600, 3600):
        hour = ((hour_start + sim.tz_offset_s) % 86400) / 3600.0
        weekday = datetime.fromtimestamp(hour_start + sim.tz_offset_s, UTC).weekday()
        if not sim._is_open(hour) or (weekday >= 5 and sim.profile.name == "office"):
            continue
        rate = arrivals_per_hour(sim.profile, hour - sim.opens, hour)
        counters = planned_counters(sim.profile, rate, hour)
        rho = min(0.97, rate * sim.profile.service_min / 60.0 / counters)
        wait = sim.profile.service_min * 60.0 * rho ** (math.sqrt(2 * (counters + 1)) - 1) / (counters * (1 - rho))
        arrivals = max(0, round(rng.gauss(rate, math.sqrt(rate))))
        rows.append(
            {
                "queue": sim.queue,
                "hour_start": datetime.fromtimestamp(hour_start, UTC).isoformat(),
                "arrivals": arrivals,
                "waits": arrivals,
                "mean_wait_s": round(max(0.0, wait * rng.uniform(0.8, 1.2)), 1),
            }
        )
    return rows


# --- live mode ------------------------------------------------------------------------------------


def _request(url: str, *, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read() or b"null")


def _log(message: str) -> None:
    print(f"simulate_queues: {message}", flush=True)


def _wait_ready(gateway: str, credentials: Path) -> dict[str, str]:
    while True:
        try:
            _request(f"{gateway}/health")
            keys = {k["department"]: k["key"] for k in json.loads(credentials.read_text())["api_keys"]}
            if keys:
                return keys
        except (OSError, ValueError, KeyError, urllib.error.URLError):
            pass
        time.sleep(2)


def _hours(center: dict[str, Any], local: datetime) -> tuple[float, float]:
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    for entry in center["hours"]:
        if entry["day"] == day and entry["ranges"]:
            first, last = entry["ranges"][0].split("-")[0], entry["ranges"][-1].split("-")[1]
            to_hours = lambda text: int(text[:2]) + int(text[3:5]) / 60.0  # noqa: E731
            return to_hours(first), to_hours(last)
    return TYPE_HOURS[center_type(center["id"])]


@dataclass
class Feed:
    sim: QueueSim
    department: str
    pending: list[dict[str, Any]] = field(default_factory=list)


def _feeds(gateway: str, keys: dict[str, str], now: float) -> list[Feed]:
    departments = {s["slug"]: s["department"] for s in _request(f"{gateway}/v1/services?page_size=100")["items"]}
    centers = _request(f"{gateway}/v1/service-centers?page_size=100")["items"]
    offset = datetime.now().astimezone().utcoffset() or timedelta()
    try:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(_request(f"{gateway}/v1/city")["timezone"])
        offset = datetime.now(tz).utcoffset() or timedelta()
    except Exception:  # noqa: BLE001 - the machine's offset will do for a demo
        pass
    feeds = []
    for index, center in enumerate(centers):
        local = datetime.now(UTC) + offset
        opens, closes = _hours(center, local)
        kind = center_type(center["id"])
        for q_index, queue in enumerate(center["queues"]):
            owners = sorted({departments[s] for s in queue["services"] if s in departments} & set(keys))
            if not owners:
                continue
            sim = QueueSim(
                center["id"],
                queue["slug"],
                PROFILES[kind],
                opens,
                closes,
                offset.total_seconds(),
                seed=index * 100 + q_index + int(now) % 100000,
                clock=now - WARM_UP_S,
                demo=True,
                load=DEMO_LOAD,
            )
            feeds.append(Feed(sim, owners[0]))
    return feeds


def _post(gateway: str, path: str, body: dict[str, Any], key: str) -> Any:
    return _request(f"{gateway}{path}", body=body, headers={"X-API-Key": key})


def _import_history(gateway: str, feed: Feed, key: str, now: float) -> None:
    center = feed.sim.center_id
    busy = _request(f"{gateway}/v1/service-centers/{center}/busy-hours?days=1")
    known = {q["queue"]: q["days_of_history"] for q in busy["queues"]}
    if known.get(feed.sim.queue, 0) > 0:
        return
    rows = history_hours(feed.sim, now, HISTORY_DAYS)
    for start in range(0, len(rows), 1000):
        _post(gateway, f"/v1/staff/service-centers/{center}/queue-history", {"hours": rows[start : start + 1000]}, key)


def _flush(gateway: str, feeds: list[Feed], keys: dict[str, str]) -> int:
    by_target: dict[tuple[str, str], list[tuple[Feed, list[dict[str, Any]]]]] = {}
    for feed in feeds:
        if feed.pending:
            by_target.setdefault((feed.sim.center_id, feed.department), []).append((feed, feed.pending))
    sent = 0
    for (center, department), parts in by_target.items():
        events = [{k: v for k, v in e.items() if k != "at"} for _, pending in parts for e in pending]
        events.sort(key=lambda e: e["occurred_at"])
        try:
            for start in range(0, len(events), 500):
                _post(
                    gateway,
                    f"/v1/staff/service-centers/{center}/queue-events",
                    {"events": events[start : start + 500]},
                    keys[department],
                )
        except (OSError, urllib.error.URLError) as exc:
            _log(f"{center}: {exc}; retrying")
            continue
        for feed, _ in parts:
            feed.pending = []
        sent += len(events)
    return sent


def live(gateway: str, credentials: Path) -> None:
    keys = _wait_ready(gateway, credentials)
    while True:
        try:
            now = time.time()
            feeds = _feeds(gateway, keys, now)
            for feed in feeds:
                _import_history(gateway, feed, keys[feed.department], now)
            break
        except (OSError, urllib.error.URLError, KeyError, ValueError) as exc:
            _log(f"setting up: {exc}; retrying")
            time.sleep(3)
            keys = _wait_ready(gateway, credentials)
    _log(f"feeding {len(feeds)} queues at {len({f.sim.center_id for f in feeds})} centres")
    while True:
        started = time.time()
        for feed in feeds:
            feed.pending.extend(feed.sim.run(started))
            del feed.pending[:-5000]  # a long outage: keep the newest
        sent = _flush(gateway, feeds, keys)
        if sent == 0 and any(f.pending for f in feeds):
            keys = _wait_ready(gateway, credentials)  # perhaps re-seeded keys
        time.sleep(max(0.0, TICK_S - (time.time() - started)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    parser.add_argument("--credentials", type=Path, default=Path(".run") / "demo-credentials.json")
    args = parser.parse_args()
    try:
        live(args.gateway.rstrip("/"), args.credentials)
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
