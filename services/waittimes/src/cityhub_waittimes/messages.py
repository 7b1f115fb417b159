"""The one mapper from stored figures and rows to protobuf messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cityhub.waittimes.v1 import waittimes_pb2 as pb
from cityhub_sdk.timestamps import to_timestamp

from cityhub_waittimes.estimator import STATE_ESTIMATED, STATE_NO_COUNTER_OPEN, STATE_NOT_ENOUGH_DATA
from cityhub_waittimes.models import CheckInRow

ESTIMATE_STATES = {
    STATE_ESTIMATED: pb.ESTIMATE_STATE_ESTIMATED,
    STATE_NOT_ENOUGH_DATA: pb.ESTIMATE_STATE_NOT_ENOUGH_DATA,
    STATE_NO_COUNTER_OPEN: pb.ESTIMATE_STATE_NO_COUNTER_OPEN,
}
CHECK_IN_STATUSES = {
    "waiting": pb.CHECK_IN_STATUS_WAITING,
    "called": pb.CHECK_IN_STATUS_CALLED,
    "served": pb.CHECK_IN_STATUS_SERVED,
    "no_show": pb.CHECK_IN_STATUS_NO_SHOW,
    "cancelled": pb.CHECK_IN_STATUS_CANCELLED,
}
EMPTY_CURRENT: dict[str, Any] = {
    "people_waiting": 0,
    "counters_open": 0,
    "being_served": 0,
    "estimate": {"state": STATE_NOT_ENOUGH_DATA},
    "updated_at": None,
    "last_issued": "",
    "last_called": "",
    "served_today": 0,
}


def estimate_message(estimate: dict[str, Any]) -> pb.WaitEstimate:
    state = ESTIMATE_STATES.get(str(estimate.get("state")), pb.ESTIMATE_STATE_NOT_ENOUGH_DATA)
    message = pb.WaitEstimate(state=state, samples=int(estimate.get("samples", 0)))
    message.confidence = float(estimate.get("confidence", 0.0))
    if state == pb.ESTIMATE_STATE_ESTIMATED:
        message.low_s = int(estimate["low_s"])
        message.expected_s = int(estimate["expected_s"])
        message.high_s = int(estimate["high_s"])
    return message


def queue_state_message(center_id: str, queue: str, current: dict[str, Any] | None, version: int) -> pb.QueueState:
    figures = current or EMPTY_CURRENT
    message = pb.QueueState(
        center_id=center_id,
        queue=queue,
        people_waiting=int(figures["people_waiting"]),
        counters_open=int(figures["counters_open"]),
        being_served=int(figures["being_served"]),
        estimate=estimate_message(figures["estimate"]),
        version=version,
        last_ticket_issued=str(figures["last_issued"]),
        last_ticket_called=str(figures["last_called"]),
        served_today=int(figures["served_today"]),
    )
    if figures["updated_at"] is not None:
        message.updated_at.FromDatetime(datetime.fromtimestamp(float(figures["updated_at"]), UTC))
    return message


def check_in_message(row: CheckInRow) -> pb.CheckIn:
    message = pb.CheckIn(
        check_in_id=row.id,
        center_id=row.center_id,
        queue=row.queue,
        ticket=row.ticket,
        appointment=row.appointment,
        status=CHECK_IN_STATUSES[row.status],
        people_ahead=row.people_ahead,
        counter=row.counter,
        created_at=to_timestamp(row.created_at),
        called_at=to_timestamp(row.called_at),
        ended_at=to_timestamp(row.ended_at),
    )
    if row.status == "waiting" and row.estimate:
        message.estimate.CopyFrom(estimate_message(row.estimate))
    return message
