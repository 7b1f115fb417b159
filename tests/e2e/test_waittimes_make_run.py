"""With `make run` alone the demo centres have live, moving wait times (acceptance 5): the queue
simulator `make run` starts feeds every centre through the gateway with the demo API keys, busy
hours have history, and the open-data feed lists every queue."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from .conftest import MakeRun

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
CENTER = "city-hall"


def _wait_times(base: str) -> dict[str, Any]:
    response = requests.get(f"{base}/v1/service-centers/{CENTER}/wait-times", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_wait_times_at_the_demo_centres_change_within_20_s(make_run: MakeRun) -> None:
    base = make_run.base_url
    deadline = time.monotonic() + 120  # the simulator starts once the demo city is seeded
    first = _wait_times(base)
    while first["updated_at"] is None:
        assert time.monotonic() < deadline, f"no kiosk events reached {CENTER}:\n{make_run.log_tail()}"
        time.sleep(1)
        first = _wait_times(base)

    changed_by = time.monotonic() + 20
    second = _wait_times(base)
    while second == first:
        assert time.monotonic() < changed_by, f"the wait times at {CENTER} did not change within 20 s"
        time.sleep(1)
        second = _wait_times(base)
    assert second["updated_at"] >= first["updated_at"]

    busy = requests.get(f"{base}/v1/service-centers/{CENTER}/busy-hours", timeout=10).json()
    assert all(q["days_of_history"] > 0 for q in busy["queues"]), busy
    monitors = requests.get(f"{base}/v1/open-data/queues", timeout=10).json()
    assert {m["serviceId"] for m in monitors if m["id"].split(":")[3] == CENTER} == {
        q["queue"] for q in first["queues"]
    }
