"""maps/base.py AreaLabels: where each area's name goes and what the map is handed."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Polygon, box

from mapper.maps.base import BOROUGH_LABEL_ZOOMS, WARD_LABEL_ZOOM, AreaLabels, label_points

X0, Y0 = 530000.0, 180000.0  # central London, EPSG:27700


def frame(rows) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:27700")


def test_names_sit_inside_their_areas_largest_first():
    # an L whose centroid falls in its notch, and a small square
    ell = Polygon([(X0, Y0), (X0 + 3000, Y0), (X0 + 3000, Y0 + 500), (X0 + 500, Y0 + 500),
                   (X0 + 500, Y0 + 3000), (X0, Y0 + 3000)])
    square = box(X0 + 4000, Y0, X0 + 5000, Y0 + 1000)
    wards = frame([{"ward_name": "Small", "geometry": square},
                   {"ward_name": "Ell", "geometry": ell},
                   {"ward_name": None, "geometry": box(X0, Y0 - 2000, X0 + 9000, Y0 - 1000)}])
    assert not ell.contains(ell.centroid)
    points = label_points(wards, "ward_name")
    assert [p[2] for p in points] == ["Ell", "Small"]  # unnamed left out; larger first
    assert [p[3] for p in points] == [3000, 1000]  # east-west extent in metres
    back = gpd.GeoSeries(gpd.points_from_xy([p[0] for p in points], [p[1] for p in points]),
                         crs="EPSG:4326").to_crs(27700)
    assert ell.buffer(2).contains(back.iloc[0])  # not the centroid in the notch
    assert back.iloc[1].distance(square.centroid) == pytest.approx(0, abs=2)


def test_the_map_gets_boroughs_then_wards_with_their_zooms():
    wards = frame([{"ward_name": "A <b>&", "borough_name": "B",
                    "geometry": box(X0, Y0, X0 + 1000, Y0 + 1000)}])
    boroughs = frame([{"borough_name": "Borough", "geometry": box(X0, Y0, X0 + 9000, Y0 + 9000)}])
    labels = AreaLabels(wards, boroughs)
    (borough_set, ward_set) = labels.sets
    assert (borough_set["min"], borough_set["max"]) == BOROUGH_LABEL_ZOOMS
    assert ward_set["min"] == WARD_LABEL_ZOOM
    assert [i[2] for i in ward_set["items"]] == ["A &lt;b&gt;&amp;"]  # as the tooltips
    import folium

    m = folium.Map(tiles=None)
    labels.add_to(m)
    html = m.get_root().render()
    assert "<b>" not in html and "\\u003cb" not in html  # never markup
    assert AreaLabels(None, None).sets == []
