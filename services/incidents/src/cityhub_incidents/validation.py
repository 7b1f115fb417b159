"""Input checks shared by the use cases: everything is refused before anything is written."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from cityhub_sdk.errors import InvalidArgument
from cityhub_sdk.geo import Point, valid_point
from cityhub_sdk.text import control_character

from cityhub_incidents.categories import Category
from cityhub_incidents.geo import Polygon, point_in_polygon
from cityhub_incidents.models import STATUSES

MAX_DESCRIPTION = 4000
MAX_ADDRESS = 300
MAX_ATTRIBUTE = 1000
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d\s().-]{7,}\d(?!\w)")


def check_point(lat: float, lon: float, boundary: Polygon | None = None) -> Point:
    """A finite, in-range point (the SDK's check), inside the city's boundary when one is given."""
    point = valid_point(lat, lon)
    if boundary and not point_in_polygon(point.lat, point.lon, boundary):
        raise InvalidArgument("the location is outside the city")
    return point


def check_statuses(statuses: Sequence[str]) -> None:
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise InvalidArgument(f"unknown status {unknown[0]!r}; use one of {', '.join(STATUSES)}")


def check_text(name: str, value: str, maximum: int, *, multiline: bool = False) -> str:
    """Bounded text without control characters (tabs and line breaks only where `multiline`)."""
    if len(value) > maximum:
        raise InvalidArgument(f"{name} longer than {maximum} characters")
    bad = control_character(value, multiline=multiline)
    if bad is not None:
        raise InvalidArgument(f"{name} contains a control character ({bad})")
    return value.strip()


def redact_contact(text: str) -> str:
    """Public descriptions never carry e-mail addresses or phone numbers someone typed into them."""
    return _PHONE.sub("[redacted]", _EMAIL.sub("[redacted]", text))


def check_attributes(category: Category, attributes: Mapping[str, str]) -> dict[str, str]:
    """Open311 attribute[code] values against the service definition."""
    fields = {f.code: f for f in category.form}
    unknown = sorted(set(attributes) - set(fields))
    if unknown:
        shown = unknown[0] if len(unknown[0]) <= 64 else unknown[0][:64] + "..."
        raise InvalidArgument(f"unknown attribute {shown!r} for service {category.service_code}")
    clean: dict[str, str] = {}
    for code, form_field in fields.items():
        value = (attributes.get(code) or "").strip()
        if not value:
            if form_field.required:
                raise InvalidArgument(f"attribute {code!r} is required")
            continue
        check_text(f"attribute {code!r}", value, MAX_ATTRIBUTE)
        if form_field.datatype == "singlevaluelist" and value not in form_field.values:
            raise InvalidArgument(f"attribute {code!r} must be one of {', '.join(sorted(form_field.values))}")
        if form_field.datatype == "multivaluelist":
            picked = [v.strip() for v in value.split(",") if v.strip()]
            if not picked or any(v not in form_field.values for v in picked):
                raise InvalidArgument(f"attribute {code!r} values must be among {', '.join(sorted(form_field.values))}")
            value = ",".join(picked)
        if form_field.datatype == "datetime":
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as exc:
                raise InvalidArgument(f"attribute {code!r} must be an ISO 8601 date-time") from exc
        if form_field.datatype == "number":
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise InvalidArgument(f"attribute {code!r} must be a number")
        clean[code] = value
    return clean
