"""Proximity: narrow a search circle to H3 cells; the SDK validates circles and measures distance.

The H3 disk around the query point is sized conservatively (half the average cell spacing), so
every centre within the radius lies in one of its cells; the exact great-circle distance
(`cityhub_sdk.geo.distance_m`) then decides. Short radii use the fine resolution-7 column, wide
ones the coarse resolution-5 column, which keeps the IN-list at a few hundred cells at most.
"""

from __future__ import annotations

import math

import h3
from cityhub_sdk.geo import Circle, valid_circle

from cityhub_catalog.content import H3_COARSE_RESOLUTION, H3_RESOLUTION

MAX_RADIUS_M = 50_000.0
_FINE_MAX_RADIUS_M = 5_000.0


def search_circle(lat: float, lon: float, radius_m: float) -> Circle:
    """A centre search circle: finite coordinates on Earth and a radius in (0, 50 km]."""
    return valid_circle(lat, lon, radius_m, max_radius_m=MAX_RADIUS_M)


def covering_cells(circle: Circle) -> tuple[bool, set[str]]:
    """(coarse?, cells) whose union contains the whole circle."""
    coarse = circle.radius_m > _FINE_MAX_RADIUS_M
    resolution = H3_COARSE_RESOLUTION if coarse else H3_RESOLUTION
    edge_m = h3.average_hexagon_edge_length(resolution, unit="m")
    spacing_m = math.sqrt(3.0) * edge_m * 0.5  # half the mean centre spacing: safe for distorted cells
    k = math.ceil((circle.radius_m + 2.0 * edge_m) / spacing_m)
    origin = h3.latlng_to_cell(circle.lat, circle.lon, resolution)
    return coarse, set(h3.grid_disk(origin, k))
