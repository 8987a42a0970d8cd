"""Coordinates: deterministic positions near a commune's centre, and the Lambert-93 projection
BAN reports as `x`/`y` for mainland France.
"""

from __future__ import annotations

import math
import zlib

# Lambert-93 (RGF93, EPSG:2154): conformal conic on GRS80, constants of the IGN's NTG_71 note.
_E = 0.0818191910428158
_N = 0.7256077650532670
_C = 11_754_255.426096
_XS = 700_000.0
_YS = 12_655_612.049876
_LON0 = math.radians(3.0)


def lambert93(lat: float, lon: float) -> tuple[float, float]:
    """(x, y) in metres for a WGS-84 latitude and longitude."""
    phi = math.radians(lat)
    e_sin = _E * math.sin(phi)
    isometric = math.log(
        math.tan(math.pi / 4 + phi / 2) * ((1 - e_sin) / (1 + e_sin)) ** (_E / 2)
    )
    radius = _C * math.exp(-_N * isometric)
    gamma = _N * (math.radians(lon) - _LON0)
    return round(_XS + radius * math.sin(gamma), 2), round(
        _YS - radius * math.cos(gamma), 2
    )


def stable_fraction(key: str) -> float:
    """A number in [0, 1) that only depends on `key` (unlike `hash`, the same in every run)."""
    return zlib.crc32(key.encode()) / 4_294_967_296


def offset(lat: float, lon: float, key: str, spread_deg: float) -> tuple[float, float]:
    """A point near (lat, lon), at a distance and bearing derived from `key`."""
    angle = 2 * math.pi * stable_fraction(key)
    distance = spread_deg * (0.2 + 0.8 * stable_fraction(key[::-1]))
    return (
        round(lat + distance * math.sin(angle), 6),
        round(lon + distance * math.cos(angle) * 1.4, 6),
    )
