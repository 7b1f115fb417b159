"""Text every service checks the same way: email addresses as one identity, no control characters.

Emails are NFKC-normalised and lower-cased with invisible characters removed, so a fullwidth
`ann@example.org` (U+FF41 U+FF4E U+FF4E) or `ann` + U+200B is the same account as `ann@example.org`.
Text fields refuse control characters (NUL, escape sequences, the bidi embeddings and overrides
U+202A..U+202E); only tab and line breaks are allowed, and only where a field is multi-line.
"""

from __future__ import annotations

import unicodedata

# Zero-width and other invisible characters (Unicode category Cf: ZWSP, ZWJ, BOM, bidi marks, ...).
_INVISIBLE = "Cf"
_CONTROL = "Cc"
MULTILINE_ALLOWED = frozenset("\t\n\r")


def normalise_email(value: str) -> str:
    """The one spelling of an address: NFKC, without invisible characters, trimmed, lower-case."""
    text = unicodedata.normalize("NFKC", value)
    text = "".join(ch for ch in text if unicodedata.category(ch) != _INVISIBLE)
    return text.strip().lower()


def control_character(value: str, *, multiline: bool = False) -> str | None:
    """The first control or bidi-override character in `value` (None when clean), for an error message."""
    for ch in value:
        category = unicodedata.category(ch)
        if category == _CONTROL and not (multiline and ch in MULTILINE_ALLOWED):
            return f"U+{ord(ch):04X}"
        if category == _INVISIBLE and ch in "\u202a\u202b\u202c\u202d\u202e":
            return f"U+{ord(ch):04X}"
    return None
