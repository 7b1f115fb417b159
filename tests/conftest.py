"""Session fixtures shared by the suites that drive the platform as a newcomer starts it.

`make_run`: one scripts/run.py (what `make run` calls) on free ports, healthy and seeded, shared by
every test that only uses it (e2e, load). It is started with OTEL_EXPORTER_OTLP_ENDPOINT (which the
README documents) at `otlp_receiver`, so the operations tests read its traces without a second
platform.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .e2e.conftest import MakeRun, start_make_run
from .e2e.otlp import Receiver, serving_receiver


@pytest.fixture(scope="session")
def otlp_receiver() -> Iterator[tuple[Receiver, int]]:
    with serving_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def make_run(tmp_path_factory: pytest.TempPathFactory, otlp_receiver: tuple[Receiver, int]) -> Iterator[MakeRun]:
    """One `make run` platform, healthy and seeded, shared by the tests that only use it."""
    _, otlp_port = otlp_receiver
    run = start_make_run(
        tmp_path_factory.mktemp("make-run"), {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_port}"}
    )
    try:
        run.wait_healthy()
        run.wait_seeded()
        yield run
    finally:
        run.stop()
