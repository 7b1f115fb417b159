"""Coordinates: validation (finite, in range) and great-circle distance, for every service.

Distance comes from h3 (`great_circle_distance`), the library that already indexes our cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import h3

from cityhub_sdk.errors import InvalidArgument


def finite_in_range(name: str, value: float, low: float, high: float) -> float:
    """`value` if it is a finite number within [low, high], else INVALID_ARGUMENT naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{name} must be a number")
    if not (math.isfinite(value) and low <= value <= high):
        raise InvalidArgument(f"{name} must be a finite number within [{low:g}, {high:g}]")
    return float(value)


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius_m: float


def valid_point(lat: float, lon: float) -> Point:
    return Point(finite_in_range("lat", lat, -90.0, 90.0), finite_in_range("lon", lon, -180.0, 180.0))


def valid_circle(lat: float, lon: float, radius_m: float, *, max_radius_m: float) -> Circle:
    """A search circle; a radius of 0 or above `max_radius_m` is refused."""
    point = valid_point(lat, lon)
    radius = finite_in_range("radius_m", radius_m, 0.0, max_radius_m)
    if radius <= 0:
        raise InvalidArgument("radius_m must be greater than 0")
    return Circle(point.lat, point.lon, radius)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    return float(h3.great_circle_distance((lat1, lon1), (lat2, lon2), unit="m"))
