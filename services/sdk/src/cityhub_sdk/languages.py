"""The platform's languages: the list, which are right-to-left, negotiation and per-field fallback.

Every service and the gateway use this one list, so "is Persian RTL" has one answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "zh-Hant", "vi", "ja", "fa")
DEFAULT_LANGUAGE = "en"
RTL_LANGUAGES = frozenset({"fa"})
_ALIASES = {
    "en": "en",
    "vi": "vi",
    "ja": "ja",
    "fa": "fa",
    "zh": "zh-Hant",
    "zh-hant": "zh-Hant",
    "zh-tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "zh-mo": "zh-Hant",
}
_SIMPLIFIED = ("zh-hans", "zh-cn", "zh-sg")


def match_language(tag: str) -> str | None:
    """The supported language a BCP 47 tag asks for, or None (Simplified Chinese is not zh-Hant)."""
    tag = tag.strip().lower().replace("_", "-")
    if tag in _ALIASES:
        return _ALIASES[tag]
    if tag.startswith(_SIMPLIFIED):
        return None
    return _ALIASES.get(tag.split("-")[0])


def resolve_language(tag: str | None) -> str:
    """A supported language for one tag; unknown or empty is English."""
    return (match_language(tag) if tag else None) or DEFAULT_LANGUAGE


def negotiate(lang: str | None, accept_language: str | None) -> str:
    """`lang=` wins, then the best Accept-Language entry we offer, then English."""
    if lang:
        return resolve_language(lang)
    if not accept_language:
        return DEFAULT_LANGUAGE
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        piece, _, params = part.partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if quality > 0:
            weighted.append((-quality, index, piece))
    for _, _, piece in sorted(weighted):
        matched = match_language(piece)
        if matched:
            return matched
    return DEFAULT_LANGUAGE


def is_rtl(lang: str) -> bool:
    return lang.split("-")[0] in RTL_LANGUAGES


def pick(texts: Mapping[str, str] | None, lang: str) -> str:
    """The text in `lang`, else English, else ""."""
    if not texts:
        return ""
    return texts.get(lang) or texts.get(DEFAULT_LANGUAGE) or ""


def pick_list(texts: Mapping[str, Sequence[str]] | None, lang: str) -> list[str]:
    if not texts:
        return []
    return list(texts.get(lang) or texts.get(DEFAULT_LANGUAGE) or [])
