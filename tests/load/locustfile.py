"""CityHub's realistic mix under load, and a smoke test of any deployment.

    locust -f tests/load/locustfile.py --headless -u 20 -r 5 -t 30s --host https://api.city.example

Each simulated resident first walks every screen once (catalog, a service page, search, wait times,
busy hours, the map, a report, the inbox), so even one user exercises every route; then it repeats
them in the app's proportions. The run exits non-zero when more than `--cityhub-max-fail-ratio`
(1 %) of the requests failed, when a user stopped (it could not read the city or sign in, or an
answer had another shape than the API documents), or when nothing ran. A failed request only ends
its task: Locust counts it, and the ratio decides.

Limits it respects (README "Guarantees"), so a healthy deployment is not pushed into 429s:
* accounts: `--cityhub-accounts` (3) residents are registered per run and shared by every user
  (sign-in and registration are limited per address; a 429 there is waited out as told); each
  access token is refreshed by one user before it expires (refresh rotates the token, and reusing
  a spent one revokes the family);
* reports: at most `--cityhub-report-budget` (10) per run (20/h per account, 60/h per address). A
  429 from the report quota is the documented answer, counted as expected, and pauses reporting
  for its `Retry-After`; a 409 (an open report of the same kind close by) is followed instead.

Reports are real: residents subscribed near them are notified. Against production pass
`--cityhub-report-budget 0`.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from gevent import get_hub, sleep
from gevent.lock import Semaphore
from locust import HttpUser, between, events, task
from locust.env import Environment

LANGUAGES = ("en", "zh-Hant", "vi", "ja", "fa")
REPORT_DESCRIPTION = "CityHub load test (tests/load/locustfile.py): please ignore"
NEARBY_M = 1500  # reports and map views fall within this distance of the city centre
AREA_RADIUS_M = 3000  # each resident's area subscription around a home near the centre: every report reaches it
REFRESH_MARGIN_S = 60
TIMEOUT_S = 20.0  # a request that hangs longer is a failure
INBOX_WAIT_S = 10.0  # the first visit's inbox waits this long for the notification its report causes


@events.init.add_listener
def _init(**_: Any) -> None:
    # gevent's loop keeps the clock it read when it was made (at import): on a busy machine that is
    # seconds ago, and `-t` would end the run that much early.
    get_hub().loop.update_now()


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    group = parser.add_argument_group("CityHub")
    group.add_argument("--cityhub-accounts", type=int, default=3, help="residents registered for the run")
    group.add_argument("--cityhub-report-budget", type=int, default=10, help="reports filed at most (0: none)")
    group.add_argument("--cityhub-max-fail-ratio", type=float, default=0.01, help="failure ratio that fails the run")


def _option(environment: Environment, name: str, default: float) -> float:
    return float(getattr(environment.parsed_options, name, default))


def _near(lat: float, lon: float, metres: float) -> tuple[float, float]:
    """A random point within `metres` of (lat, lon) (a flat approximation: the distances are small)."""
    distance = metres * math.sqrt(random.random())
    bearing = random.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / 111_320
    dlon = distance * math.sin(bearing) / (111_320 * max(math.cos(math.radians(lat)), 0.01))
    return round(lat + dlat, 6), round(lon + dlon, 6)


def _retry_after(response: Any) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "1")), 1.0)
    except ValueError:
        return 1.0


def _succeeded(response: Any) -> bool:
    return 200 <= int(response.status_code) < 300  # 0 when the connection failed


def _body(response: Any) -> dict[str, Any] | None:
    """The JSON object of a successful answer, or None: Locust counted the failure, the task ends."""
    if not _succeeded(response):
        return None
    body: dict[str, Any] = response.json()
    return body


def _required(response: Any) -> dict[str, Any]:
    """The JSON object of an answer the user cannot go on without; any other answer stops it."""
    body = _body(response)
    if body is None:
        request = response.request
        raise RuntimeError(f"{request.method} {request.path_url.split('?')[0]}: {response.status_code}")
    return body


def _answers(service: dict[str, Any]) -> dict[str, str]:
    """Plausible answers to the required questions of a service's form."""
    answers: dict[str, str] = {}
    for question in service["form"]:
        if not (question["required"] and question["variable"]):
            continue
        if question["values"]:
            answers[question["code"]] = random.choice(question["values"])["key"]
        elif question["datatype"] == "number":
            answers[question["code"]] = "1"
        elif question["datatype"] == "datetime":
            answers[question["code"]] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        else:
            answers[question["code"]] = "load test"
    return answers


@dataclass
class Account:
    """One registered resident, shared by several users; its tokens change under `lock`."""

    email: str
    password: str
    access_token: str = ""
    refresh_token: str = ""
    expires_at: float = 0.0
    lock: Semaphore = field(default_factory=Semaphore)

    def keep(self, tokens: dict[str, Any]) -> None:
        self.access_token = tokens["access_token"]
        self.refresh_token = tokens["refresh_token"]
        self.expires_at = time.monotonic() + float(tokens["expires_in"])

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class City:
    """What every user needs to know about the deployment, read once per run."""

    lat: float
    lon: float
    services: list[dict[str, Any]]
    reportable: list[dict[str, Any]]
    keywords: list[str]
    centres: list[str]


class Run:
    """State shared by the users of one locust process: the city, the accounts, the report budget."""

    def __init__(self) -> None:
        self.lock = Semaphore()
        self.city: City | None = None
        self.accounts: list[Account] = []
        self.numbers = itertools.count()
        self.reports_left = 0
        self.reports_paused_until = 0.0
        self.user_errors = 0

    def reset(self, environment: Environment) -> None:
        self.reports_left = max(int(_option(environment, "cityhub_report_budget", 10)), 0)
        self.reports_paused_until = 0.0
        self.user_errors = 0

    def take_report(self) -> bool:
        """One report from the budget, unless it is spent or the quota asked us to wait."""
        if self.reports_left <= 0 or time.monotonic() < self.reports_paused_until:
            return False
        self.reports_left -= 1
        return True


RUN = Run()


@events.test_start.add_listener
def _test_start(environment: Environment, **_: Any) -> None:
    RUN.reset(environment)


@events.user_error.add_listener
def _user_error(**_: Any) -> None:
    RUN.user_errors += 1


@events.quitting.add_listener
def _quitting(environment: Environment, **_: Any) -> None:
    """The smoke-test verdict, whatever locust's own default would be."""
    total = environment.stats.total
    limit = _option(environment, "cityhub_max_fail_ratio", 0.01)
    verdict = f"{total.fail_ratio:.2%} of {total.num_requests} requests failed (limit {limit:.2%})"
    if total.num_requests == 0:
        verdict, failed = "no request was made", True
    elif RUN.user_errors:
        verdict, failed = f"{RUN.user_errors} user errors (see the log above); {verdict}", True
    else:
        failed = total.fail_ratio > limit
    print(f"cityhub smoke test: {'FAILED' if failed else 'ok'}: {verdict}")
    environment.process_exit_code = 1 if failed else 0


class Resident(HttpUser):
    """A resident using the app: mostly reading, sometimes reporting, often checking the inbox."""

    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.number = next(RUN.numbers)
        self.city = self._city()
        self.account = self._account()
        # The first visit walks every screen once; its inbox waits for the notification of its report.
        self.browse_catalog()
        self.open_service()
        self.search()
        self.wait_times()
        self.busy_hours()
        self.map()
        reported = self.report()
        self.inbox(wait_for_unread_s=INBOX_WAIT_S if reported else 0.0)

    def _get(self, path: str, name: str, **kwargs: Any) -> Any:
        return self.client.get(path, name=name, timeout=TIMEOUT_S, **kwargs)

    def _post(self, path: str, name: str, **kwargs: Any) -> Any:
        return self.client.post(path, name=name, timeout=TIMEOUT_S, **kwargs)

    # --- the mix ---------------------------------------------------------------------------

    @task(4)
    def browse_catalog(self) -> None:
        self._get("/v1/services", "/v1/services", params={"lang": random.choice(LANGUAGES)})

    @task(4)
    def open_service(self) -> None:
        slug = random.choice(self.city.services)["slug"]
        self._get(f"/v1/services/{slug}", "/v1/services/{slug}", params={"lang": random.choice(LANGUAGES)})

    @task(4)
    def search(self) -> None:
        self._get("/v1/services", "/v1/services?q=", params={"q": random.choice(self.city.keywords), "lang": "en"})

    @task(5)
    def wait_times(self) -> None:
        lat, lon = _near(self.city.lat, self.city.lon, NEARBY_M)
        nearby = self._get(
            "/v1/service-centers",
            "/v1/service-centers?lat&lon&radius_m",
            params={"lat": lat, "lon": lon, "radius_m": 5000},
        )
        body = _body(nearby)
        if body is None:
            return
        centre = body["items"][0]["id"] if body["items"] else random.choice(self.city.centres)
        self._get(f"/v1/service-centers/{centre}/wait-times", "/v1/service-centers/{id}/wait-times")

    @task(2)
    def busy_hours(self) -> None:
        centre = random.choice(self.city.centres)
        self._get(
            f"/v1/service-centers/{centre}/busy-hours",
            "/v1/service-centers/{id}/busy-hours",
            params={"days": random.randint(1, 7)},
        )

    @task(4)
    def map(self) -> None:
        lat, lon = _near(self.city.lat, self.city.lon, NEARBY_M)
        radius = random.choice((500, 1000, 2000))
        self._get(
            "/v1/incidents", "/v1/incidents?lat&lon&radius_m", params={"lat": lat, "lon": lon, "radius_m": radius}
        )

    @task(1)
    def report(self) -> bool:
        """A report without a photo (the README's multipart shape); False when the budget said no."""
        if not self.city.reportable or not RUN.take_report():
            return False
        service = random.choice(self.city.reportable)
        lat, lon = _near(self.city.lat, self.city.lon, NEARBY_M)
        form = {
            "category": service["slug"],
            "description": REPORT_DESCRIPTION,
            "lat": str(lat),
            "lon": str(lon),
            "attributes": json.dumps(_answers(service)),
        }
        existing = None
        with self._post(
            "/v1/incidents",
            "/v1/incidents (report)",
            files={name: (None, value) for name, value in form.items()},
            headers={**self._auth(), "Idempotency-Key": str(uuid.uuid4())},
            catch_response=True,
        ) as response:
            if response.status_code == 429:  # the documented report quota: wait as told
                RUN.reports_paused_until = time.monotonic() + _retry_after(response)
                response.success()
            elif response.status_code == 409:  # an open report of this kind close by: the app offers to follow it
                existing = response.json()["existing_report"]["id"]
                response.success()
        if existing:
            self._post(f"/v1/incidents/{existing}/follow", "/v1/incidents/{id}/follow", headers=self._auth())
        return True

    @task(4)
    def inbox(self, wait_for_unread_s: float = 0.0) -> None:
        """The unread notifications; the newest is opened, which marks it read."""
        deadline = time.monotonic() + wait_for_unread_s
        while True:
            listed = self._get(
                "/v1/me/notifications",
                "/v1/me/notifications",
                params={"unread_only": "true", "page_size": 20},
                headers=self._auth(),
            )
            body = _body(listed)
            unread = body["items"] if body is not None else []
            if body is None or unread or time.monotonic() >= deadline:
                break
            sleep(1.0)
        if unread:
            self._post(
                f"/v1/me/notifications/{unread[0]['id']}/read", "/v1/me/notifications/{id}/read", headers=self._auth()
            )

    # --- the deployment and the accounts ---------------------------------------------------

    def _city(self) -> City:
        with RUN.lock:
            if RUN.city is None:
                RUN.city = self._read_city()
            return RUN.city

    def _read_city(self) -> City:
        city = _required(self._get("/v1/city", "/v1/city"))
        services: list[dict[str, Any]] = []
        token = ""
        while True:
            params: dict[str, Any] = {"page_size": 100, **({"page_token": token} if token else {})}
            page = _required(self._get("/v1/services", "/v1/services", params=params))
            services += page["items"]
            token = page.get("next_page_token") or ""
            if not token:
                break
        centres = _required(self._get("/v1/service-centers", "/v1/service-centers"))["items"]
        if not services or not centres:
            raise RuntimeError("the catalog has no services or no service centres")
        return City(
            lat=city["center"]["lat"],
            lon=city["center"]["lon"],
            services=services,
            reportable=[service for service in services if service["takes_reports"]],
            keywords=sorted({word for service in services for word in service["keywords"]}) or ["permit"],
            centres=[centre["id"] for centre in centres],
        )

    def _account(self) -> Account:
        """This user's resident: the accounts are registered on first use, then shared round-robin."""
        index = self.number % max(int(_option(self.environment, "cityhub_accounts", 3)), 1)
        with RUN.lock:
            while len(RUN.accounts) <= index:
                RUN.accounts.append(self._register())
            return RUN.accounts[index]

    def _register(self) -> Account:
        """A new resident with a home near the centre and an area subscription around it, so that
        the run's reports reach its inbox."""
        account = Account(email=f"load-{secrets.token_hex(6)}@example.org", password=secrets.token_urlsafe(18))
        credentials = {"email": account.email, "password": account.password}
        self._limited_post("/v1/auth/register", credentials)
        account.keep(_required(self._limited_post("/v1/auth/token", credentials)))
        lat, lon = _near(self.city.lat, self.city.lon, 200)
        home = {"label": "Home", "latitude": lat, "longitude": lon}
        place = _required(self._post("/v1/me/places", "/v1/me/places", json=home, headers=account.bearer))
        subscription = {"kind": "area", "place_id": place["id"], "radius_m": AREA_RADIUS_M}
        _required(self._post("/v1/me/subscriptions", "/v1/me/subscriptions", json=subscription, headers=account.bearer))
        return account

    def _auth(self) -> dict[str, str]:
        """The bearer header of this user's account, refreshed first when it is about to expire."""
        account = self.account
        with account.lock:
            if time.monotonic() > account.expires_at - REFRESH_MARGIN_S:
                refresh = {"refresh_token": account.refresh_token}
                response = self._post("/v1/auth/refresh", "/v1/auth/refresh", json=refresh)
                if _succeeded(response):
                    account.keep(response.json())
                else:  # a spent or revoked family (counted as a failure): sign in again
                    credentials = {"email": account.email, "password": account.password}
                    account.keep(_required(self._limited_post("/v1/auth/token", credentials)))
        return account.bearer

    def _limited_post(self, path: str, body: dict[str, Any]) -> Any:
        """POST to a route limited per address and account; a 429 is the documented answer: wait as told."""
        for _ in range(5):
            with self._post(path, path, json=body, catch_response=True) as response:
                limited = response.status_code == 429
                if limited:
                    response.success()
            if not limited:
                return response
            sleep(_retry_after(response))
        raise RuntimeError(f"{path}: still limited after five waits")
