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
