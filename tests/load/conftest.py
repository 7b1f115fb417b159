"""The platform the load smoke test drives: the session's `make run` (tests/conftest.py), started
as a newcomer starts it. Sharing it costs no second start-up; the scenario stays inside the
documented limits (three residents of its own, at most ten reports, a quota 429 is the documented
answer), so the other suites on that platform are not disturbed."""

from __future__ import annotations

import pytest

from ..e2e.conftest import MakeRun


@pytest.fixture(scope="module")
def load_platform(make_run: MakeRun) -> MakeRun:
    return make_run
