"""Proximity: validate a search circle, narrow by H3 cells, measure exactly with haversine.

The H3 disk around the query point is sized conservatively (half the average cell spacing), so
every centre within the radius lies in one of its cells; the haversine distance then decides.
Short radii use the fine resolution-7 column, wide ones the coarse resolution-5 column, which
keeps the IN-list at a few hundred cells at most.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import h3

from cityhub_catalog.content import H3_COARSE_RESOLUTION, H3_RESOLUTION
from cityhub_catalog.errors import InvalidArgument

EARTH_RADIUS_M = 6_371_008.8
MAX_RADIUS_M = 50_000.0
DEFAULT_RADIUS_M = 5_000.0
_FINE_MAX_RADIUS_M = 5_000.0


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_m: float


def validate_circle(lat: float, lon: float, radius_m: float) -> Circle:
    """Refuse anything but finite coordinates on Earth and a radius in (0, 50 km]."""
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise InvalidArgument("lat must be a finite number between -90 and 90")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise InvalidArgument("lon must be a finite number between -180 and 180")
    if not (math.isfinite(radius_m) and 0.0 < radius_m <= MAX_RADIUS_M):
        raise InvalidArgument(f"radius_m must be greater than 0 and at most {int(MAX_RADIUS_M)}")
    return Circle(lat, lon, radius_m)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def covering_cells(circle: Circle) -> tuple[bool, set[str]]:
    """(coarse?, cells) whose union contains the whole circle."""
    coarse = circle.radius_m > _FINE_MAX_RADIUS_M
    resolution = H3_COARSE_RESOLUTION if coarse else H3_RESOLUTION
    edge_m = h3.average_hexagon_edge_length(resolution, unit="m")
    spacing_m = math.sqrt(3.0) * edge_m * 0.5  # half the mean centre spacing: safe for distorted cells
    k = math.ceil((circle.radius_m + 2.0 * edge_m) / spacing_m)
    origin = h3.latlng_to_cell(circle.lat, circle.lon, resolution)
    return coarse, set(h3.grid_disk(origin, k))
