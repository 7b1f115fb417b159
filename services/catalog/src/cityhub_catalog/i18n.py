"""Per-field language fallback: the requested language, else English."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SUPPORTED_LANGUAGES = ("en", "zh-Hant", "vi", "ja", "fa")
RTL_LANGUAGES = frozenset({"fa", "ar", "he", "ur"})
_BY_LOWER = {lang.lower(): lang for lang in SUPPORTED_LANGUAGES}


def resolve_lang(lang: str) -> str:
    """One of the catalog's languages for a requested tag (unknown or empty -> English)."""
    return _BY_LOWER.get(lang.strip().lower(), "en")


def pick(texts: Mapping[str, str] | None, lang: str) -> str:
    if not texts:
        return ""
    return texts.get(lang) or texts.get("en") or ""


def pick_list(texts: Mapping[str, Sequence[str]] | None, lang: str) -> list[str]:
    if not texts:
        return []
    return list(texts.get(lang) or texts.get("en") or [])


def is_rtl(lang: str) -> bool:
    return lang.split("-")[0] in RTL_LANGUAGES
