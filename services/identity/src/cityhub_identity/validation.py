"""Input checks shared by the use cases; each returns a clean value or raises InvalidArgument."""

from __future__ import annotations

import re

from cityhub_sdk.errors import InvalidArgument
from cityhub_sdk.geo import finite_in_range
from cityhub_sdk.languages import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES
from cityhub_sdk.text import control_character, normalise_email

CONSENT_FIELDS = ("name", "email", "phone", "address")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()\-]{6,20}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def email(value: str) -> str:
    """One spelling per address (NFKC, invisible characters removed, case-folded): lookalikes are one account."""
    cleaned = normalise_email(value)
    if len(cleaned) > 254 or not _EMAIL.match(cleaned) or control_character(cleaned) is not None:
        raise InvalidArgument("email is not a valid address")
    return cleaned


def _no_control(name: str, value: str) -> str:
    bad = control_character(value)
    if bad is not None:
        raise InvalidArgument(f"{name} contains a control character ({bad})")
    return value


def language(value: str) -> str:
    """One of the platform's languages, spelled exactly (a profile stores a choice, not a guess)."""
    if not value:
        return DEFAULT_LANGUAGE
    for known in SUPPORTED_LANGUAGES:
        if value.lower() == known.lower():
            return known
    raise InvalidArgument(f"preferred_language must be one of {', '.join(SUPPORTED_LANGUAGES)}")


def display_name(value: str) -> str:
    cleaned = " ".join(_no_control("display_name", value).split())
    if len(cleaned) > 100:
        raise InvalidArgument("display_name must have at most 100 characters")
    return cleaned


def phone(value: str) -> str:
    cleaned = value.strip()
    if cleaned and not _PHONE.match(cleaned):
        raise InvalidArgument("phone is not a valid phone number")
    return cleaned


def slug(value: str, what: str) -> str:
    if not _SLUG.match(value):
        raise InvalidArgument(f"{what} must be a lowercase slug")
    return value


def consent_field(value: str) -> str:
    if value not in CONSENT_FIELDS:
        raise InvalidArgument(f"field must be one of {', '.join(CONSENT_FIELDS)}")
    return value


def place_label(value: str) -> str:
    cleaned = " ".join(_no_control("label", value).split())
    if not cleaned or len(cleaned) > 40:
        raise InvalidArgument("label must have 1 to 40 characters")
    return cleaned


def coordinates(latitude: float, longitude: float) -> tuple[float, float]:
    """A saved place's point; (0, 0) is what an unset protobuf field gives, so it counts as missing."""
    latitude = finite_in_range("latitude", latitude, -90.0, 90.0)
    longitude = finite_in_range("longitude", longitude, -180.0, 180.0)
    if latitude == 0 and longitude == 0:
        raise InvalidArgument("coordinates are missing")
    return latitude, longitude
