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


def test_outline_bands_follow_the_groups_wards_in_every_band():
    # a 3 x 2 block of 1 km squares: two of the bottom row one group, the top row another
    squares = [shapely.box(x * 1000, y * 1000, (x + 1) * 1000, (y + 1) * 1000)
               for y in range(2) for x in range(3)]
    wards = gpd.GeoDataFrame(geometry=gpd.GeoSeries(squares, crs=27700).translate(
        530_000, 180_000))
    groups = np.asarray(["CAN-10", "CAN-10", None, "CAN-2", "CAN-2", "CAN-2"], dtype=object)
    bands = inview.all_bands(wards)
    names, outlines, labels = inview.outline_bands(bands, groups)
    assert names == ["CAN-2", "CAN-10"]  # in id order, not text order; None is no group
    assert len(outlines) == len(inview.BANDS) and len(labels) == 2
    for band, ward_shapes, lines in zip(inview.BANDS, bands, outlines, strict=True):
        assert lines.band == band
        expected = [shapely.boundary(shapely.union_all(ward_shapes.shapes[rows]))
                    for rows in ([3, 4, 5], [0, 1])]
        for got, want in zip(lines.shapes, expected, strict=True):
            assert got.geom_type in ("LineString", "MultiLineString", "LinearRing")
            assert shapely.hausdorff_distance(got, want) < 10 ** -band.decimals
        # a box inside the first ward meets no outline (a line, not an area); one over
        # its west edge only its group's
        west, south, east, north = ward_shapes.shapes[0].bounds
        w, h = east - west, north - south
        inner = (west + w / 4, south + h / 4, west + w / 2, south + h / 2)
        assert lines.rows_in(inner).tolist() == []
        edge = (west - w / 4, south + h / 4, west + w / 4, south + h / 2)
        assert lines.rows_in(edge).tolist() == [1]
    for (lat, lon), rows in zip(labels, ([3, 4, 5], [0, 1]), strict=True):
        area = shapely.union_all(bands[-1].shapes[rows])
        assert area.buffer(1e-9).contains(shapely.Point(lon, lat))
