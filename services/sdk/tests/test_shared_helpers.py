"""The helpers every service shares: error mapping on a real gRPC server, page tokens, languages,
coordinates and periodic background work."""

from __future__ import annotations

import asyncio
import math

import grpc
import pytest
from cityhub_sdk import errors
from cityhub_sdk.geo import distance_m, finite_in_range, valid_circle, valid_point
from cityhub_sdk.grpc_client import create_channel
from cityhub_sdk.grpc_server import GrpcServer
from cityhub_sdk.languages import SUPPORTED_LANGUAGES, is_rtl, negotiate, pick, resolve_language
from cityhub_sdk.paging import page_window
from cityhub_sdk.worker import PeriodicTask


def _raising_handler() -> grpc.GenericRpcHandler:
    async def find(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if request == b"missing":
            raise errors.NotFound("thing not found")
        if request == b"bad":
            raise errors.InvalidArgument("lat must be a finite number")
        if request == b"crash":
            raise RuntimeError("secret internals /etc/passwd")
        return request

    handler = grpc.unary_unary_rpc_method_handler(find)
    return grpc.method_handlers_generic_handler("tests.Things", {"Find": handler})


@pytest.mark.parametrize(
    ("payload", "code", "detail"),
    [
        (b"missing", grpc.StatusCode.NOT_FOUND, "thing not found"),
        (b"bad", grpc.StatusCode.INVALID_ARGUMENT, "lat must be a finite number"),
    ],
)
async def test_service_errors_become_their_status_on_every_server(
    payload: bytes, code: grpc.StatusCode, detail: str
) -> None:
    server = GrpcServer(
        host="127.0.0.1",
        port=0,
        service_names=["tests.Things"],
        registrations=[lambda s: s.add_generic_rpc_handlers((_raising_handler(),))],
    )
    await server.start()
    channel = create_channel(server.address, default_timeout_s=5)
    try:
        find = channel.unary_unary("/tests.Things/Find")
        assert await find(b"ok") == b"ok"
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await find(payload)
        assert raised.value.code() == code
        assert raised.value.details() == detail
        with pytest.raises(grpc.aio.AioRpcError) as crashed:
            await find(b"crash")
        assert crashed.value.code() == grpc.StatusCode.INTERNAL
        assert crashed.value.details() == "internal error"  # no exception class, text or path
    finally:
        await channel.close()
        await server.stop(0)


def test_page_tokens_round_trip_and_refuse_garbage() -> None:
    first = page_window(10, "")
    assert (first.offset, first.size) == (0, 10)
    token = first.next_token(total=25)
    second = page_window(10, token)
    assert (second.offset, second.size) == (10, 10)
    assert page_window(10, second.next_token(total=25)).offset == 20
    assert page_window(10, "").next_token(total=10) == ""
    assert page_window(0, "").size == 50 and page_window(10_000, "").size == 100
    for garbage in ("%%%", "bm90LWFuLW9mZnNldA", "b:12", "x" * 300):
        with pytest.raises(errors.InvalidArgument):
            page_window(10, garbage)
    with pytest.raises(errors.InvalidArgument):
        page_window(-1, "")


def test_language_negotiation() -> None:
    assert SUPPORTED_LANGUAGES == ("en", "zh-Hant", "vi", "ja", "fa")
    assert negotiate("vi", "ja") == "vi"
    assert negotiate(None, "de-DE, ja;q=0.8, en;q=0.5") == "ja"
    assert negotiate(None, "zh-TW") == "zh-Hant"
    assert negotiate(None, "zh-CN") == "en"  # Simplified Chinese is not offered as Traditional
    assert negotiate(None, "fa;q=0, vi;q=0.1") == "vi"
    assert negotiate("xx", None) == "en" and resolve_language("ZH-hant") == "zh-Hant"
    assert is_rtl("fa") and not is_rtl("ja")
    assert pick({"en": "Pothole", "vi": "Ổ gà"}, "vi") == "Ổ gà"
    assert pick({"en": "Pothole"}, "ja") == "Pothole"


def test_coordinates_are_finite_and_in_range() -> None:
    assert valid_point(47.6, -122.3).lat == 47.6
    for lat, lon in ((math.nan, 0.0), (91.0, 0.0), (0.0, math.inf), (0.0, -180.5)):
        with pytest.raises(errors.InvalidArgument):
            valid_point(lat, lon)
    with pytest.raises(errors.InvalidArgument):
        valid_circle(47.6, -122.3, 0.0, max_radius_m=5000)
    with pytest.raises(errors.InvalidArgument):
        valid_circle(47.6, -122.3, 5001.0, max_radius_m=5000)
    with pytest.raises(errors.InvalidArgument):
        finite_in_range("radius_m", True, 0, 10)  # type: ignore[arg-type]
    # One degree of latitude is about 111.2 km on the mean-radius sphere.
    assert 111_000 < distance_m(47.0, -122.0, 48.0, -122.0) < 111_400


async def test_periodic_task_runs_again_after_a_failure_and_on_wake() -> None:
    runs: list[int] = []

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("first round fails")

    task = PeriodicTask(job, name="test-periodic", interval_s=60)
    await task.start()
    try:
        for _ in range(3):
            await _until(lambda: len(runs) >= 1)
            task.wake()
        await _until(lambda: len(runs) >= 2)
    finally:
        await task.stop()
    assert len(runs) >= 2  # the failed first round did not end the loop; wake() ran it early


async def _until(condition: object, attempts: int = 200) -> None:
    for _ in range(attempts):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_a_wake_during_a_round_starts_the_next_round_at_once() -> None:
    """A commit that lands while a round runs is not lost until the next poll."""
    rounds: list[int] = []
    started = asyncio.Event()
    release = asyncio.Event()

    async def job() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            started.set()
            await release.wait()

    task = PeriodicTask(job, name="test-lost-wake", interval_s=3600)
    await task.start()
    try:
        await asyncio.wait_for(started.wait(), 5)
        task.wake()  # arrives while the first round is still running
        release.set()
        await _until(lambda: len(rounds) >= 2)  # without the fix this waits for the hour-long poll
    finally:
        await task.stop()
