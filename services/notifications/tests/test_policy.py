"""Units without I/O: quiet hours in the resident's time zone, the delivery state machine, coverings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cityhub_notifications.cells import cell_at, covering_cells
from cityhub_notifications.dispatcher import transition
from cityhub_notifications.models import Delivery
from cityhub_notifications.policy import quiet_until
from cityhub_sdk.languages import resolve_language

LA = "America/Los_Angeles"


def test_quiet_hours_across_midnight_hold_until_the_local_end() -> None:
    # 23:30 in Los Angeles (PST, UTC-8) is 07:30 UTC the next day.
    late = datetime(2026, 1, 15, 7, 30, tzinfo=UTC)
    assert quiet_until(late, "22:00", "07:00", LA) == datetime(2026, 1, 15, 15, 0, tzinfo=UTC)
    noon = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)
    assert quiet_until(noon, "22:00", "07:00", LA) is None
    assert quiet_until(late, "", "", LA) is None


def test_delivery_state_machine_refuses_illegal_moves() -> None:
    delivery = Delivery(notification_id="n", account_id="a", channel="", event_time=datetime.now(UTC))
    transition(delivery, "sending")
    transition(delivery, "failed_temporary")
    transition(delivery, "sending")
    transition(delivery, "delivered")
    with pytest.raises(ValueError):
        transition(delivery, "sending")


def test_covering_includes_200_m_and_excludes_3_km() -> None:
    cells = covering_cells(47.6062, -122.3321, 500)
    assert cell_at(47.6062 + 200 / 111_195, -122.3321) in cells
    assert cell_at(47.6062 + 3000 / 111_195, -122.3321) not in cells


@pytest.mark.parametrize(
    ("raw", "expected"), [("zh-TW", "zh-Hant"), ("vi-VN", "vi"), ("FA", "fa"), ("de", "en"), ("", "en")]
)
def test_profile_languages_map_onto_the_five(raw: str, expected: str) -> None:
    assert resolve_language(raw) == expected
