"""Rendering: the latest template version per (event type, language), English as the fallback."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cityhub_sdk import languages
from cityhub_sdk.db import Database
from cityhub_sdk.languages import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES
from sqlmodel import select

from cityhub_notifications.models import Template
from cityhub_notifications.template_data import STATUS_LABELS, TEMPLATES

# A placeholder value: one text for every language, or a map language -> text.
Param = str | Mapping[str, str]


@dataclass(frozen=True)
class Rendered:
    lang: str
    version: int
    title: str
    body: str


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def pick(value: Param, lang: str) -> str:
    """A placeholder's text in `lang` (English fallback); any text beats none."""
    if isinstance(value, str):
        return value
    return languages.pick(value, lang) or next(iter(value.values()), "")


def status_label(status: str) -> dict[str, str]:
    return STATUS_LABELS.get(status, {DEFAULT_LANGUAGE: status.replace("_", " ")})


def category_label(slug: str) -> str:
    return slug.replace("_", " ").replace("-", " ")


class Renderer:
    """Holds the current templates in memory; `load` refreshes them from the database."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], Template] = {}

    async def load(self, db: Database) -> None:
        async with db.session() as session:
            rows = (await session.exec(select(Template))).all()
        latest: dict[tuple[str, str], Template] = {}
        for row in rows:
            key = (row.event_type, row.lang)
            if key not in latest or latest[key].version < row.version:
                latest[key] = row
        self._latest = latest

    def render(self, event_type: str, lang: str, params: Mapping[str, Param]) -> Rendered:
        template = self._latest.get((event_type, lang))
        if template is None:
            lang = DEFAULT_LANGUAGE
            template = self._latest.get((event_type, lang))
        if template is None:
            raise LookupError(f"no template for {event_type}")
        values = _Blank({name: pick(value, lang) for name, value in params.items()})
        return Rendered(
            lang=lang,
            version=template.version,
            title=template.title.format_map(values).strip(),
            body=template.body.format_map(values).strip(),
        )

    def render_all(self, event_type: str, params: Mapping[str, Param]) -> dict[str, Rendered]:
        """The text in every language, for set-based inserts that pick by each resident's language."""
        return {lang: self.render(event_type, lang, params) for lang in SUPPORTED_LANGUAGES}


async def ensure_templates(db: Database) -> int:
    """Insert the shipped templates that are missing (idempotent; never overwrites a version)."""
    async with db.transaction() as session:
        existing = {(t.event_type, t.version, t.lang) for t in (await session.exec(select(Template))).all()}
        added = 0
        for event_type, texts in TEMPLATES.items():
            for lang, (title, body) in texts.items():
                if (event_type, 1, lang) not in existing:
                    session.add(Template(event_type=event_type, version=1, lang=lang, title=title, body=body))
                    added += 1
    return added
