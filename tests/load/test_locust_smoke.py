"""The load scenario (tests/load/locustfile.py) as a smoke test: a few residents for ~15 s against
`make run`, as `locust --headless` is run against any deployment. It must exit 0 (at most 1 % of
requests failed, no user stopped on an unexpected answer) and every screen of the mix must have been
used, read from locust's --csv statistics. Locust runs in its own process: it monkey-patches the
standard library with gevent, which pytest's asyncio must not meet."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..e2e.conftest import UNSTARTED_PEER, MakeRun

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# One request per screen of the mix (the `name` each task gives its requests).
EVERY_TASK = {
    ("GET", "/v1/services"),  # browse the catalog
    ("GET", "/v1/services/{slug}"),  # a service page
    ("GET", "/v1/services?q="),  # search
    ("GET", "/v1/service-centers?lat&lon&radius_m"),  # centres nearby ...
    ("GET", "/v1/service-centers/{id}/wait-times"),  # ... and their wait times
    ("GET", "/v1/service-centers/{id}/busy-hours"),
    ("GET", "/v1/incidents?lat&lon&radius_m"),  # the map
    ("POST", "/v1/incidents (report)"),
    ("GET", "/v1/me/notifications"),  # the inbox ...
    ("POST", "/v1/me/notifications/{id}/read"),  # ... and a notification caused by a report, read
    ("POST", "/v1/auth/register"),  # the run's own residents
    ("POST", "/v1/auth/token"),
}


def locust(host: str, workdir: Path, seconds: int, users: int = 4) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`locust --headless` as the README shows it, with --csv statistics under `workdir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}  # only the command line counts
    prefix = workdir / "locust"
    command = [
        *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"),
        *("-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", host),
        *("--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"),
    ]
    result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=seconds + 60)
    return result, prefix.with_name("locust_stats.csv")


def ran(stats_csv: Path) -> dict[tuple[str, str], tuple[int, int]]:
    """(method, name) -> (requests, failures), from locust's statistics (without the Aggregated row)."""
    with stats_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        (row["Type"], row["Name"]): (int(row["Request Count"]), int(row["Failure Count"]))
        for row in rows
        if row["Name"] != "Aggregated"
    }


@pytest.mark.slow
@pytest.mark.e2e
def test_the_realistic_mix_runs_clean_against_make_run(load_platform: MakeRun, tmp_path: Path) -> None:
    result, stats_csv = locust(load_platform.base_url, tmp_path, seconds=15)
    output = result.stdout[-3000:] + result.stderr[-5000:]
    assert result.returncode == 0, output
    assert "cityhub smoke test: ok" in result.stdout + result.stderr, output
    counts = ran(stats_csv)
    missing = sorted(task for task in EVERY_TASK if counts.get(task, (0, 0))[0] == 0)
    assert not missing, f"never ran: {missing}\n{counts}\n{output}"


def test_a_deployment_that_does_not_answer_fails_the_smoke_test(tmp_path: Path) -> None:
    result, _ = locust(f"http://{UNSTARTED_PEER}", tmp_path, seconds=3, users=1)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "cityhub smoke test: FAILED" in result.stdout + result.stderr
