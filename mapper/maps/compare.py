"""A map of two CAN selections side by side: a draft and the published one.

Wards in a CAN of both, only of the draft, or only of the published selection are drawn
distinctly by fill *and* outline (solid blue fill; orange fill with a dashed outline; no
fill with a heavy dotted outline), so the three read apart without colour; the page's
legend draws the same swatches (:data:`STATUS_STYLES`). Other wards are grey outlines
for orientation.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import shapely

from mapper.analysis.selections import WARD_STATUS
from mapper.maps.assets import DEFAULT_BASE_URL, use_local_assets
from mapper.maps.base import (
    MAX_ZOOM,
    MIN_ZOOM,
    OVERVIEW_DECIMALS,
    SIMPLIFY_M,
    AreaLabels,
    FitBoundsNow,
    MetricScale,
    Tiles,
    add_tiles,
    check_layer,
    check_tiles,
    display_shapes,
    display_tolerance,
    feature_collection,
)
from mapper.maps.context import ContextOverlay, add_context

#: ward status (:data:`mapper.analysis.selections.WARD_STATUS`) -> its Leaflet style
STATUS_STYLES = {
    "both": {"color": "#0b0c0c", "weight": 1.5, "fillColor": "#1d70b8", "fillOpacity": 0.6},
    "draft": {"color": "#6f3a00", "weight": 2.5, "dashArray": "8 5", "fillColor": "#f47738",
              "fillOpacity": 0.55},
    "published": {"color": "#0b0c0c", "weight": 3.5, "dashArray": "2 6", "fill": False},
}
_CONTEXT_STYLE = {"color": "#8a8f93", "weight": 1, "fillColor": "#f3f2f1", "fillOpacity": 0.3}


def comparison_map(wards: gpd.GeoDataFrame, *, tiles: Tiles = "none",
                   context_layers: ContextOverlay | None = None,
                   asset_base_url: str = DEFAULT_BASE_URL) -> folium.Map:
    """Every ward of the study area (EPSG:27700, ``ward_code``, ``ward_name``,
    ``status``: a key of :data:`STATUS_STYLES`, or "" for a ward in neither selection)."""
    check_layer(wards, "wards", ["ward_code", "ward_name", "status"])
    check_tiles(tiles)
    if len(wards) == 0:
        raise ValueError("no wards to map")
    shapes = display_shapes(wards, max(SIMPLIFY_M, display_tolerance(wards)),
                             OVERVIEW_DECIMALS)
    minx, miny, maxx, maxy = (float(b) for b in shapely.total_bounds(shapes))
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=11,
                   tiles=None, prefer_canvas=True, zoom_snap=0.25)
    m.options.update(min_zoom=MIN_ZOOM, max_zoom=MAX_ZOOM)
    MetricScale().add_to(m)
    add_tiles(m, tiles)
    add_context(m, context_layers)  # streets and places under the data, when imported
    frame = wards.assign(label=wards["status"].map(WARD_STATUS).fillna("in neither"))
    fields = ["ward_name", "label", "ward_code"]
    for status, style in [("", _CONTEXT_STYLE), *STATUS_STYLES.items()]:
        part = frame[frame["status"].fillna("") == status]
        if part.empty:
            continue
        layer = folium.GeoJson(
            feature_collection(part, fields, shapes[(frame["status"].fillna("") == status)
                                                     .to_numpy()], ids=False),
            name=WARD_STATUS.get(status, "Other wards"),
            style_function=lambda _feature, style=style: style)
        folium.GeoJsonTooltip(fields=fields, aliases=["Ward", "Selection", "Code"],
                              sticky=True).add_to(layer)
        layer.add_to(m)
    FitBoundsNow([[miny, minx], [maxy, maxx]]).add_to(m)
    AreaLabels(wards).add_to(m)
    return use_local_assets(m, base_url=asset_base_url)
