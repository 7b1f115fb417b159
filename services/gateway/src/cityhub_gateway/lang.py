"""Language negotiation: `lang=` wins, then Accept-Language, then English."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter, QueryParameter

SUPPORTED = ("en", "zh-Hant", "vi", "ja", "fa")
_ALIASES = {
    "zh": "zh-Hant",
    "zh-hant": "zh-Hant",
    "zh-tw": "zh-Hant",
    "zh-hk": "zh-Hant",
    "zh-mo": "zh-Hant",
    "en": "en",
    "vi": "vi",
    "ja": "ja",
    "fa": "fa",
}


def _match(tag: str) -> str | None:
    tag = tag.strip().lower()
    if tag in _ALIASES:
        return _ALIASES[tag]
    primary = tag.split("-")[0]
    if primary == "zh" and ("hans" in tag or tag in ("zh-cn", "zh-sg")):
        return None  # Simplified Chinese is not offered; do not pretend zh-Hant is it
    return _ALIASES.get(primary)


def negotiate(lang: str | None, accept_language: str | None) -> str:
    if lang:
        return _match(lang) or "en"
    if accept_language:
        weighted = []
        for index, part in enumerate(accept_language.split(",")):
            piece, _, params = part.partition(";")
            quality = 1.0
            if params.strip().startswith("q="):
                try:
                    quality = float(params.strip()[2:])
                except ValueError:
                    quality = 0.0
            weighted.append((-quality, index, piece))
        for _, _, piece in sorted(weighted):
            matched = _match(piece)
            if matched:
                return matched
    return "en"


LangQuery = Annotated[
    str | None,
    QueryParameter(
        name="lang", required=False, description="Language: en, zh-Hant, vi, ja or fa (wins over Accept-Language)"
    ),
]
AcceptLanguage = Annotated[str | None, HeaderParameter(name="Accept-Language", required=False)]
