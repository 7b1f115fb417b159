"""Queries (`dao_*`), each taking the caller's session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import and_, col, delete, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_waittimes.estimator import HourStats
from cityhub_waittimes.models import ACTIVE_CHECK_IN, CheckInRow, QueueEventRow, QueueHourRow, QueueStateRow

CHUNK = 500


def _insert(session: AsyncSession, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


async def dao_existing_event_ids(session: AsyncSession, center_id: str, event_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(event_ids), CHUNK):
        chunk = event_ids[start : start + CHUNK]
        rows = await session.exec(
            select(QueueEventRow.event_id).where(
                QueueEventRow.center_id == center_id, col(QueueEventRow.event_id).in_(chunk)
            )
        )
        found.update(rows.all())
    return found


async def dao_get_state(session: AsyncSession, center_id: str, queue: str) -> QueueStateRow | None:
    return await session.get(QueueStateRow, (center_id, queue))


async def dao_lock_state(session: AsyncSession, center_id: str, queue: str, *, for_update: bool) -> QueueStateRow:
    """The queue's state row, created if missing; locked until commit on PostgreSQL."""
    table = QueueStateRow.__table__  # type: ignore[attr-defined]
    await session.exec(
        _insert(session, table)
        .values(center_id=center_id, queue=queue, checkpoint={}, watermark_id="", published={}, version=0)
        .on_conflict_do_nothing()
    )
    query = select(QueueStateRow).where(QueueStateRow.center_id == center_id, QueueStateRow.queue == queue)
    if for_update:
        query = query.with_for_update()
    return (await session.exec(query.execution_options(populate_existing=True))).one()


async def dao_events_after(
    session: AsyncSession, center_id: str, queue: str, after_at: datetime | None, after_id: str
) -> list[QueueEventRow]:
    query = select(QueueEventRow).where(QueueEventRow.center_id == center_id, QueueEventRow.queue == queue)
    if after_at is not None:
        query = query.where(
            or_(
                col(QueueEventRow.occurred_at) > after_at,
                and_(col(QueueEventRow.occurred_at) == after_at, col(QueueEventRow.event_id) > after_id),
            )
        )
    query = query.order_by(col(QueueEventRow.occurred_at), col(QueueEventRow.event_id))
    return list((await session.exec(query)).all())


async def dao_add_hours(session: AsyncSession, center_id: str, queue: str, stats: Mapping[float, HourStats]) -> None:
    """Add settled arrivals and waits to their hours (each event is settled once)."""
    table = QueueHourRow.__table__  # type: ignore[attr-defined]
    for hour, figures in sorted(stats.items()):
        statement = _insert(session, table).values(
            center_id=center_id,
            queue=queue,
            hour_start=datetime.fromtimestamp(hour, UTC),
            arrivals=figures.arrivals,
            waits=figures.waits,
            wait_sum_s=figures.wait_sum_s,
        )
        await session.exec(
            statement.on_conflict_do_update(
                index_elements=["center_id", "queue", "hour_start"],
                set_={
                    "arrivals": table.c.arrivals + statement.excluded.arrivals,
                    "waits": table.c.waits + statement.excluded.waits,
                    "wait_sum_s": table.c.wait_sum_s + statement.excluded.wait_sum_s,
                },
            )
        )


async def dao_put_hour(session: AsyncSession, row: QueueHourRow) -> None:
    """An imported hour replaces what was there (importing the same report twice is a no-op)."""
    table = QueueHourRow.__table__  # type: ignore[attr-defined]
    statement = _insert(session, table).values(
        center_id=row.center_id,
        queue=row.queue,
        hour_start=row.hour_start,
        arrivals=row.arrivals,
        waits=row.waits,
        wait_sum_s=row.wait_sum_s,
    )
    await session.exec(
        statement.on_conflict_do_update(
            index_elements=["center_id", "queue", "hour_start"],
            set_={"arrivals": row.arrivals, "waits": row.waits, "wait_sum_s": row.wait_sum_s},
        )
    )


async def dao_hours_since(session: AsyncSession, center_id: str, since: datetime) -> list[QueueHourRow]:
    query = select(QueueHourRow).where(QueueHourRow.center_id == center_id, col(QueueHourRow.hour_start) >= since)
    return list((await session.exec(query)).all())


async def dao_states(session: AsyncSession, center_id: str | None = None) -> list[QueueStateRow]:
    query = select(QueueStateRow)
    if center_id is not None:
        query = query.where(QueueStateRow.center_id == center_id)
    return list((await session.exec(query)).all())


async def dao_active_check_ins(session: AsyncSession, center_id: str, queue: str) -> list[CheckInRow]:
    query = select(CheckInRow).where(
        CheckInRow.center_id == center_id, CheckInRow.queue == queue, col(CheckInRow.status).in_(ACTIVE_CHECK_IN)
    )
    return list((await session.exec(query.order_by(col(CheckInRow.created_at)))).all())


async def dao_check_ins_of(session: AsyncSession, account_id: str, *, active_only: bool = False) -> list[CheckInRow]:
    query = select(CheckInRow).where(CheckInRow.account_id == account_id)
    if active_only:
        query = query.where(col(CheckInRow.status).in_(ACTIVE_CHECK_IN))
    return list((await session.exec(query.order_by(col(CheckInRow.created_at).desc()))).all())


async def dao_check_in_by_key(session: AsyncSession, account_id: str, key: str) -> CheckInRow | None:
    query = select(CheckInRow).where(CheckInRow.account_id == account_id, CheckInRow.idempotency_key == key)
    return (await session.exec(query)).first()


async def dao_overdue_called(session: AsyncSession, called_before: datetime) -> list[CheckInRow]:
    query = select(CheckInRow).where(CheckInRow.status == "called", col(CheckInRow.called_at) < called_before)
    return list((await session.exec(query)).all())


async def dao_delete_check_ins_of(session: AsyncSession, account_id: str) -> None:
    await session.exec(delete(CheckInRow).where(col(CheckInRow.account_id) == account_id))


async def dao_prune_events(session: AsyncSession, before: datetime) -> None:
    """Drop raw events older than `before` that their queue's checkpoint already holds."""
    settled = (
        select(QueueStateRow.center_id)
        .where(
            QueueStateRow.center_id == QueueEventRow.center_id,
            QueueStateRow.queue == QueueEventRow.queue,
            col(QueueStateRow.watermark_at) > QueueEventRow.occurred_at,
        )
        .exists()
    )
    await session.exec(delete(QueueEventRow).where(col(QueueEventRow.occurred_at) < before, settled))
