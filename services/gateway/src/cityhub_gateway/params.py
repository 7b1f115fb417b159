"""Typed, bounded request parameters shared by every route.

Litestar validates these before a handler runs: a latitude of "nan", "inf", "1e999" or 91 fails
its bounds and answers 422 problem+json. This is the one place where numbers are checked finite.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter, Parameter, QueryParameter

MAX_RADIUS_M = 5000.0

Latitude = Annotated[float, QueryParameter(name="lat", ge=-90.0, le=90.0, description="WGS84 latitude")]
Longitude = Annotated[float, QueryParameter(name="lon", ge=-180.0, le=180.0, description="WGS84 longitude")]
OptionalLatitude = Annotated[
    float | None, QueryParameter(name="lat", required=False, ge=-90.0, le=90.0, description="WGS84 latitude")
]
OptionalLongitude = Annotated[
    float | None, QueryParameter(name="lon", required=False, ge=-180.0, le=180.0, description="WGS84 longitude")
]
RadiusM = Annotated[
    float,
    QueryParameter(name="radius_m", gt=0.0, le=MAX_RADIUS_M, description="Search radius in metres (at most 5,000)"),
]
PageSize = Annotated[int | None, QueryParameter(name="page_size", required=False, ge=1, le=100)]
PageToken = Annotated[
    str | None,
    QueryParameter(
        name="page_token", required=False, max_length=200, description="`next_page_token` of the page before"
    ),
]
LangQuery = Annotated[
    str | None,
    QueryParameter(
        name="lang",
        required=False,
        max_length=35,
        description="Language: en, zh-Hant, vi, ja or fa (wins over Accept-Language)",
    ),
]
AcceptLanguage = Annotated[str | None, HeaderParameter(name="Accept-Language", required=False, max_length=500)]
# Clients retry a create safely by repeating this header (a UUID); the owning service remembers it.
IdempotencyKey = Annotated[
    str | None, HeaderParameter(name="Idempotency-Key", required=False, min_length=8, max_length=100)
]
ObjectId = Annotated[str, Parameter(min_length=1, max_length=64)]
