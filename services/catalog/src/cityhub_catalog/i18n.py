"""Per-field language fallback: the requested language, else English."""

from __future__ import annotations

from collections.abc import Mapping

RTL_LANGUAGES = frozenset({"fa", "ar", "he", "ur"})


def pick(texts: Mapping[str, str] | None, lang: str) -> str:
    if not texts:
        return ""
    return texts.get(lang) or texts.get("en") or ""


def is_rtl(lang: str) -> bool:
    return lang.split("-")[0] in RTL_LANGUAGES
