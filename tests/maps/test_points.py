"""Point layers at low zoom gather points from further, so a city shows a few dozen
counts instead of hundreds of badges; closer in, the usual clusters."""

from __future__ import annotations

import folium

from mapper.maps.points import CLOSE_ZOOM, LazyPointCluster


def test_cluster_radius_depends_on_the_zoom():
    m = folium.Map()
    LazyPointCluster("incidents", name="Incidents", rows=[[51.5, -0.1, "Burglary", "2024-01"]],
                     point_class="p", cluster_class="c").add_to(m)
    page = m.get_root().render()
    assert (f'"maxClusterRadius": function (zoom) {{ return zoom < {CLOSE_ZOOM} '
            "? 150 : 50; }") in page


# -- counts per ward (issue 18: layers that work together) ----------------------------

def _wards():
    import numpy as np
    from factories import grid_wards
    from shapely.geometry import Polygon

    wards = grid_wards()
    wards["ward_name"] = [f"Ward {n}" for n in range(1, 10)]
    wards["groups_total"] = [3, 0, 1, 0, 0, 0, 0, 0, 12]
    wards["incidents"] = [np.nan] * 9
    # ward 5 a thin L (two 100 m arms along its south and west edges): its centroid falls
    # outside it, so the count goes at a point on its surface
    x, y = 531_000.0, 181_000.0
    wards.loc[4, "geometry"] = Polygon([(x, y), (x + 1000, y), (x + 1000, y + 100),
                                        (x + 100, y + 100), (x + 100, y + 1000),
                                        (x, y + 1000)])
    return wards


def test_ward_count_rows_one_row_per_ward_with_a_count_at_its_centroid():
    import geopandas as gpd
    import pytest

    from mapper.geo import to_display
    from mapper.maps.points import ward_count_rows

    wards = _wards()
    rows = ward_count_rows(wards, "groups")
    assert [(r[2], r[3]) for r in rows] == [("Ward 1", 3), ("Ward 3", 1), ("Ward 9", 12)]
    centre = to_display(gpd.GeoSeries(wards.geometry.iloc[[0]].centroid, crs=wards.crs))
    assert rows[0][0] == pytest.approx(centre.y.iloc[0], abs=1e-6)
    assert rows[0][1] == pytest.approx(centre.x.iloc[0], abs=1e-6)
    assert all(isinstance(r[3], int) for r in rows)
    assert ward_count_rows(wards, "incidents") == []  # none counted: no circle at all


def test_ward_count_rows_put_the_count_inside_a_concave_ward():
    import pandas as pd
    from shapely.geometry import Point

    from mapper.geo import CRS_ANALYSIS
    from mapper.maps.points import ward_count_rows

    wards = _wards()
    rows = ward_count_rows(wards, "incidents", pd.Series({"E05900005": 6}))
    assert len(rows) == 1 and rows[0][2:] == ["Ward 5", 6]
    spot = gpd_point(rows[0][1], rows[0][0], CRS_ANALYSIS)
    assert wards.geometry.iloc[4].contains(Point(spot))
    assert not wards.geometry.iloc[4].contains(wards.geometry.iloc[4].centroid)


def gpd_point(lon, lat, crs):
    import geopandas as gpd
    from shapely.geometry import Point

    point = gpd.GeoSeries([Point(lon, lat)], crs="EPSG:4326").to_crs(crs).iloc[0]
    return point.x, point.y


def test_the_cluster_layer_switches_to_counts_through_maplayers_js():
    from mapper.maps.points import COUNTS_ZOOM, ward_count_rows

    m = folium.Map()
    counts = ward_count_rows(_wards(), "groups")
    LazyPointCluster("groups", name="VCS groups", url="/g.json", point_class="p",
                     cluster_class="c", counts=counts).add_to(m)
    page = m.get_root().render()
    assert "MapLayers.pointSwitch(" in page and f"closeZoom: {COUNTS_ZOOM}" in page
    assert '"Ward 9", 12]' in page and '["group", "groups"]' in page
    # without the script (a map saved as a file) the markers show at every zoom
    assert "holder.addLayer(group);" in page
    m = folium.Map()
    LazyPointCluster("groups", name="VCS groups", url="/g.json", point_class="p",
                     cluster_class="c").add_to(m)
    assert "MapLayers.pointSwitch(" not in m.get_root().render()
