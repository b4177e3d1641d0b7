"""mapper.geo: the one place that reprojects."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from mapper import geo


def test_grid_from_lonlat_is_the_frames_transformation_exactly():
    """The scalar path (web requests) gives bit-for-bit the GeoSeries path's metres."""
    rng = np.random.default_rng(7)
    lons, lats = rng.uniform(-8.5, 1.7, 300), rng.uniform(49.9, 60.8, 300)
    frame = geo.points_from_xy(lons, lats, crs=geo.CRS_DISPLAY)
    for lon, lat, point in zip(lons, lats, frame, strict=True):
        assert geo.grid_from_lonlat(lon, lat) == (point.x, point.y)


def test_grid_from_lonlat_hand_checked_point():
    # Trafalgar Square's fountain, about (530,000, 180,400) on the Ordnance Survey grid
    x, y = geo.grid_from_lonlat(-0.12803, 51.50799)
    assert x == pytest.approx(530_000, abs=200)
    assert y == pytest.approx(180_400, abs=200)


def test_grid_from_lonlat_from_many_threads_agrees():
    """Each thread has its own transformer (pyproj's are not thread-safe)."""
    points = [(-0.1 + i * 1e-3, 51.5 + i * 1e-3) for i in range(200)]
    want = [geo.grid_from_lonlat(lon, lat) for lon, lat in points]
    got: dict[int, list] = {}

    def work(n: int) -> None:
        got[n] = [geo.grid_from_lonlat(lon, lat) for lon, lat in points * 5]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(answers == want * 5 for answers in got.values())
