"""One event loop for a whole test folder, so services started once per session serve every test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest


def run_on_session_loop(items: list[pytest.Item], folder: Path) -> None:
    """Mark every coroutine test under `folder` to run on the session's loop (from a conftest's
    `pytest_collection_modifyitems`): grpc.aio servers and channels live on the loop that made them."""
    for item in items:
        if folder in Path(str(item.fspath)).parents and inspect.iscoroutinefunction(getattr(item, "function", None)):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)
