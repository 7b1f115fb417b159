"""Catalog tables. Translatable texts are JSON maps from language to text."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

Texts = dict[str, str]


class Department(SQLModel, table=True):
    __tablename__ = "departments"

    slug: str = Field(primary_key=True, max_length=64)
    name: Texts = Field(sa_type=sa.JSON)
    description: Texts = Field(sa_type=sa.JSON)
    phone: str = ""
    email: str = ""
    website: str = ""
