"""H3 coverings: an area subscription becomes the res-9 cells that cover its circle.

Matching then is an index lookup by cell (a report's res-9 cell, or an alert's res-7 cells via
each stored cell's res-7 parent) instead of a distance computation per subscriber, which is what
lets one alert fan out to 100,000 residents with a single set-based statement per chunk.
"""

from __future__ import annotations

import math

import h3
from cityhub_sdk.geo import distance_m

RESOLUTION = 9
ALERT_RESOLUTION = 7


def covering_cells(lat: float, lon: float, radius_m: float, resolution: int = RESOLUTION) -> list[int]:
    """Cells whose hexagon touches the circle: centre within radius plus one circumradius."""
    origin = h3.latlng_to_cell(lat, lon, resolution)
    edge_m = h3.average_hexagon_edge_length(resolution, unit="m")
    rings = math.ceil(radius_m / (edge_m * math.sqrt(3))) + 1
    reach = radius_m + edge_m
    cells = []
    for cell in h3.grid_disk(origin, rings):
        center_lat, center_lon = h3.cell_to_latlng(cell)
        if distance_m(lat, lon, center_lat, center_lon) <= reach:
            cells.append(h3.str_to_int(cell))
    return cells


def parent_r7(cell: int) -> int:
    return int(h3.str_to_int(h3.cell_to_parent(h3.int_to_str(cell), ALERT_RESOLUTION)))


def cell_from_string(cell: str) -> int | None:
    """A report's res-9 cell as the integer we store; None for anything that is not one."""
    try:
        if not h3.is_valid_cell(cell):
            return None
        value = cell if h3.get_resolution(cell) == RESOLUTION else None
    except (ValueError, TypeError):
        return None
    return int(h3.str_to_int(value)) if value else None


def cell_at(lat: float, lon: float, resolution: int = RESOLUTION) -> int:
    return int(h3.str_to_int(h3.latlng_to_cell(lat, lon, resolution)))


def r7_cells(cells: list[str]) -> list[int]:
    """Valid res-7 cells of an alert (finer cells are lifted to their res-7 parent)."""
    found: set[int] = set()
    for cell in cells:
        try:
            if not h3.is_valid_cell(cell):
                continue
            resolution = h3.get_resolution(cell)
        except (ValueError, TypeError):
            continue
        if resolution == ALERT_RESOLUTION:
            found.add(int(h3.str_to_int(cell)))
        elif resolution > ALERT_RESOLUTION:
            found.add(int(h3.str_to_int(h3.cell_to_parent(cell, ALERT_RESOLUTION))))
        else:
            found.update(int(h3.str_to_int(child)) for child in h3.cell_to_children(cell, ALERT_RESOLUTION))
    return sorted(found)
