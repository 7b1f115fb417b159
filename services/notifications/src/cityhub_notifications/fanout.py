"""Set-based fan-out: one INSERT ... SELECT per chunk puts a notification in every recipient's inbox.

The recipients are a SQL subquery (cells, topics, followers), the text is chosen per row by the
resident's language with a CASE over the pre-rendered languages, and the unique
(account_id, source_event_id) constraint with ON CONFLICT DO NOTHING makes a redelivered event a
no-op. RETURNING gives the rows actually inserted, for the live-stream event. No ORM object per row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from cityhub_sdk.languages import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES
from cityhub_sdk.tables import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_notifications.templates import Rendered


@dataclass(frozen=True)
class Recipients:
    """A SELECT returning one column, account_id; its bind parameters; expanding ones named."""

    sql: str
    params: Mapping[str, Any]
    expanding: Sequence[str] = ()


@dataclass(frozen=True)
class FanOut:
    source_event_id: str
    event_type: str
    ref: str
    urgency: int
    rendered: Mapping[str, Rendered]
    data: Mapping[str, str]
    event_time: datetime


def _id_expression(dialect: str) -> str:
    if dialect == "sqlite":
        return "lower(hex(randomblob(16)))"
    return "replace(cast(gen_random_uuid() AS text), '-', '')"


async def insert_notifications(session: AsyncSession, fan_out: FanOut, recipients: Recipients) -> list[tuple[str, str]]:
    """Insert the notification for every recipient who does not have it yet; returns (id, account_id)."""
    connection = await session.connection()
    dialect = connection.dialect.name
    params: dict[str, Any] = dict(recipients.params)
    lang_cases, title_cases, version_cases = [], [], []
    for index, lang in enumerate(SUPPORTED_LANGUAGES):
        rendered = fan_out.rendered.get(lang) or fan_out.rendered[DEFAULT_LANGUAGE]
        params[f"l_{index}"] = rendered.lang
        params[f"t_{index}"] = rendered.title
        params[f"b_{index}"] = rendered.body
        params[f"v_{index}"] = rendered.version
        lang_cases.append(f"WHEN '{lang}' THEN :l_{index}")
        title_cases.append(f"WHEN '{lang}' THEN :t_{index}")
        version_cases.append(f"WHEN '{lang}' THEN CAST(:v_{index} AS INTEGER)")
    default = fan_out.rendered[DEFAULT_LANGUAGE]
    params.update(
        eid=fan_out.source_event_id,
        etype=fan_out.event_type,
        ref=fan_out.ref,
        urgency=fan_out.urgency,
        data=json.dumps(dict(fan_out.data), ensure_ascii=False),
        event_time=fan_out.event_time,
        now=utcnow(),
        l_default=default.lang,
        t_default=default.title,
        b_default=default.body,
        v_default=default.version,
    )
    language = "COALESCE(p.language, 'en')"
    body_case = " ".join(f"WHEN '{lang}' THEN :b_{index}" for index, lang in enumerate(SUPPORTED_LANGUAGES))
    statement = sa.text(
        f"""
        INSERT INTO notifications
            (id, account_id, source_event_id, event_type, ref, urgency, lang, template_version,
             title, body, data, event_time, created_at, read_at)
        SELECT {_id_expression(dialect)}, r.account_id, :eid, :etype, :ref, CAST(:urgency AS INTEGER),
            CASE {language} {" ".join(lang_cases)} ELSE :l_default END,
            CASE {language} {" ".join(version_cases)} ELSE CAST(:v_default AS INTEGER) END,
            CASE {language} {" ".join(title_cases)} ELSE :t_default END,
            CASE {language} {body_case} ELSE :b_default END,
            :data, :event_time, :now, NULL
        FROM ({recipients.sql}) AS r
        LEFT JOIN preferences p ON p.account_id = r.account_id
        WHERE r.account_id IS NOT NULL
        ON CONFLICT (account_id, source_event_id) DO NOTHING
        RETURNING id, account_id
        """
    ).bindparams(
        sa.bindparam("event_time", type_=sa.DateTime(timezone=True)),
        sa.bindparam("now", type_=sa.DateTime(timezone=True)),
        *(sa.bindparam(name, expanding=True) for name in recipients.expanding),
    )
    result = await connection.execute(statement, params)
    return [(str(row[0]), str(row[1])) for row in result.all()]


async def insert_deliveries(session: AsyncSession, source_event_id: str) -> int:
    """Queue the external channels (push, email, ...) for the residents who have a fallback chain."""
    connection = await session.connection()
    now = utcnow()
    statement = sa.text(
        """
        INSERT INTO deliveries
            (notification_id, account_id, urgency, chain, position, channel, status, attempts,
             next_attempt_at, last_error, event_time, handed_at, created_at, updated_at)
        SELECT n.id, n.account_id, n.urgency, p.channels, 0, '', 'created', 0,
            :now, NULL, n.event_time, NULL, :now, :now
        FROM notifications n
        JOIN preferences p ON p.account_id = n.account_id
        WHERE n.source_event_id = :eid AND p.channels <> '[]'
        ON CONFLICT (notification_id) DO NOTHING
        """
    ).bindparams(sa.bindparam("now", type_=sa.DateTime(timezone=True)))
    result = await connection.execute(statement, {"now": now, "eid": source_event_id})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
