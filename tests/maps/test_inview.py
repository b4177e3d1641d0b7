"""The size rule and the zoom bands of the maps that load their wards for the view
(mapper/maps/inview.py): both sides of the rule, tile boxes, and each tile's wards
against a brute-force answer."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from factories import grid

from mapper import geojson
from mapper.geo import to_display
from mapper.maps import inview


def _wards(rows: int = 4, cols: int = 5, size: float = 1000.0) -> gpd.GeoDataFrame:
    cells = grid(rows, cols, size=size)
    cells["ward_code"] = [f"E0500{i:04d}" for i in range(len(cells))]
    return cells


def test_size_rule_both_sides_of_each_limit():
    wards = _wards()  # 20 wards of 5 vertices each: 100 vertices
    assert not inview.load_in_view(wards, max_wards=20, max_vertices=100)
    assert inview.load_in_view(wards, max_wards=19, max_vertices=100)
    assert inview.load_in_view(wards, max_wards=20, max_vertices=99)
    # the defaults: a borough or London embeds, England (7,000 wards) does not
    assert inview.INVIEW_WARDS < 7_000 and inview.INVIEW_WARDS > 700


def test_tile_bounds_of_known_tiles():
    assert inview.tile_bounds(0, 0, 0) == pytest.approx((-180, -85.0511, 180, 85.0511),
                                                         abs=1e-4)
    west, south, east, north = inview.tile_bounds(11, 1023, 681)
    assert west == pytest.approx(-0.17578, abs=1e-5) and east == pytest.approx(0.0)
    assert south < 51.5 < north


def test_check_tile_names_the_problem():
    assert inview.check_tile(12, 2047, 1362) is None
    assert "choose one of 5, 7, 8, 10, 12" in inview.check_tile(11, 1, 1)
    assert "outside the map" in inview.check_tile(5, 32, 0)


def test_bands_get_finer_as_zoom_grows():
    tolerances = [b.tolerance_m for b in inview.BANDS]
    assert tolerances == sorted(tolerances, reverse=True)
    assert [b.decimals for b in inview.BANDS] == sorted(b.decimals for b in inview.BANDS)
    assert all(b.tile_zoom < max(b.min_zoom, 6) for b in inview.BANDS)


@pytest.mark.parametrize("band", range(len(inview.BANDS)))
def test_tile_features_are_the_wards_meeting_the_tile(band):
    wards = _wards(6, 8, size=3000.0)
    shapes = inview.BandShapes(wards, inview.BANDS[band])
    properties = geojson.encode_properties(wards[["ward_code"]])
    properties[3] = None  # a ward the page does not show
    displayed = to_display(wards.geometry).values
    z = inview.BANDS[band].tile_zoom
    lon, lat = shapely.get_coordinates(shapely.centroid(shapely.union_all(displayed)))[0]
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - np.log(np.tan(np.radians(lat)) + 1 / np.cos(np.radians(lat))) / np.pi) / 2 * n)
    found = []
    for dx in (-2, -1, 0, 1, 2):
        for dy in (-2, -1, 0, 1, 2):
            box = shapely.box(*inview.tile_bounds(z, x + dx, y + dy))
            features = [geojson.loads(f) for f in
                        inview.tile_features(shapes, properties, z, x + dx, y + dy)]
            codes = {f["properties"]["ward_code"] for f in features}
            # brute force, with the band's simplification (0.01 degrees of slack at the edge)
            expected = {code for i, code in enumerate(wards["ward_code"])
                        if i != 3 and shapely.intersects(displayed[i], box.buffer(-0.01))}
            assert expected <= codes
            assert wards["ward_code"].iloc[3] not in codes
            for f in features:  # coordinates rounded to the band's decimals
                xy = np.asarray(shapely.get_coordinates(shapely.geometry.shape(f["geometry"])))
                assert np.allclose(xy, np.round(xy, inview.BANDS[band].decimals))
            found.extend(codes)
    assert set(found) == set(wards["ward_code"]) - {wards["ward_code"].iloc[3]}
