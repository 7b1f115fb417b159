"""Catalog queries, kept in one place (dao_* functions take the caller's session)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from cityhub_catalog.models import Department


async def dao_list_departments(session: AsyncSession) -> Sequence[Department]:
    return (await session.exec(select(Department).order_by(col(Department.slug)))).all()


async def dao_upsert_department(session: AsyncSession, department: Department) -> None:
    await session.merge(department)
