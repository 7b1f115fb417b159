"""Geometry on the city scale: H3 coverings, the search plan, polygons (validation and distance: SDK).

Proximity is answered in stages: the H3 cells of the first rings around the point are queried
first, and wider rings only when the nearest results could still lie outside them. Each stage
knows the smallest distance any point outside its cells can have ("safe distance"), so a page
whose last row is closer than that is final.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import h3
from cityhub_sdk.geo import distance_m

EARTH_RADIUS_M = 6_371_008.8
METERS_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180.0
Polygon = Sequence[tuple[float, float]]  # (lat, lon) vertices


def point_in_polygon(lat: float, lon: float, polygon: Polygon) -> bool:
    """Ray casting on lat/lon; exact enough for city-sized polygons away from the antimeridian."""
    inside = False
    count = len(polygon)
    for i in range(count):
        lat_i, lon_i = polygon[i]
        lat_j, lon_j = polygon[(i - 1) % count]
        if (lat_i > lat) != (lat_j > lat):
            crossing = lon_i + (lat - lat_i) * (lon_j - lon_i) / (lat_j - lat_i)
            if lon < crossing:
                inside = not inside
    return inside


def cell(lat: float, lon: float, resolution: int) -> str:
    return str(h3.latlng_to_cell(lat, lon, resolution))


def _circumradius_m(cell_id: str) -> float:
    """Largest distance from a cell's centre to its vertices (its edge length, with distortion)."""
    c_lat, c_lon = h3.cell_to_latlng(cell_id)
    return max(distance_m(c_lat, c_lon, v_lat, v_lon) for v_lat, v_lon in h3.cell_to_boundary(cell_id))


def resolution_for(radius_m: float) -> int:
    """Res 9 (~175 m cells) up to 1.5 km keeps the IN list short and tight; res 8 beyond."""
    return 9 if radius_m <= 1500 else 8


@dataclass(frozen=True)
class Stage:
    cells: list[str]
    safe_distance_m: float  # no point outside `cells` is closer than this
    complete: bool  # `cells` covers the whole circle


@dataclass(frozen=True)
class SearchPlan:
    resolution: int
    stages: list[Stage]


def search_plan(lat: float, lon: float, radius_m: float) -> SearchPlan:
    """Growing sets of cells intersecting the circle, each with its safe distance."""
    resolution = resolution_for(radius_m)
    origin = cell(lat, lon, resolution)
    edge = _circumradius_m(origin) * 1.05  # margin for distortion between neighbouring cells
    max_k = math.ceil((radius_m + 2 * edge) / (1.5 * edge * 0.9)) + 1
    kept: list[str] = []
    stages: list[Stage] = []
    next_stage_k = 1
    for k in range(max_k + 1):
        ring = [origin] if k == 0 else list(h3.grid_ring(origin, k))
        for candidate in ring:
            c_lat, c_lon = h3.cell_to_latlng(candidate)
            if distance_m(lat, lon, c_lat, c_lon) <= radius_m + edge:
                kept.append(candidate)
        if k in (next_stage_k, max_k):
            outer = h3.grid_ring(origin, k + 1)
            safe = min(distance_m(lat, lon, *h3.cell_to_latlng(c)) for c in outer) - edge
            complete = k == max_k or safe >= radius_m
            stages.append(Stage(cells=list(kept), safe_distance_m=max(0.0, safe), complete=complete))
            if complete:
                break
            next_stage_k *= 2
    return SearchPlan(resolution=resolution, stages=stages)


def disk_cells(lat: float, lon: float, radius_m: float, resolution: int) -> list[str]:
    """Every cell at `resolution` that may intersect the circle (conservative)."""
    origin = cell(lat, lon, resolution)
    edge = _circumradius_m(origin) * 1.05
    max_k = math.ceil((radius_m + 2 * edge) / (1.5 * edge * 0.9)) + 1
    cells = []
    for candidate in h3.grid_disk(origin, max_k):
        c_lat, c_lon = h3.cell_to_latlng(candidate)
        if distance_m(lat, lon, c_lat, c_lon) <= radius_m + edge:
            cells.append(str(candidate))
    return cells


def polygon_cells(polygon: Polygon, resolution: int) -> list[str]:
    """Cells covering a polygon, including those its edges only clip (one ring of margin)."""
    shape = h3.LatLngPoly(list(polygon))
    inner = set(h3.polygon_to_cells(shape, resolution))
    inner.update(cell(v_lat, v_lon, resolution) for v_lat, v_lon in polygon)
    covering: set[str] = set()
    for c in inner:
        covering.update(h3.grid_disk(c, 1))
    return sorted(covering)


def equirectangular_scale(lat: float) -> tuple[float, float]:
    """Metres per degree of latitude and longitude at `lat`: the SQL distance is planar on these,
    accurate to well under a metre over a few kilometres; the exact distance is applied on the page."""
    return METERS_PER_DEGREE, METERS_PER_DEGREE * math.cos(math.radians(lat))
