"""The overview map: every ward with a tooltip, borough outlines on top, and the VCS
groups as a layer of clustered markers to switch on.

The map is light enough to load quickly for all of London: ward and borough shapes are
simplified for display with a tolerance under a pixel at the zoom that fits the area
(coverage simplification, so neighbouring wards keep sharing their edges), written with
5 decimals (about 1 m) as compact JSON, and styled by one constant style rather than a
per-ward lookup table.
"""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import shapely
from folium.utilities import JsCode

from mapper.geo import to_display
from mapper.maps.assets import DEFAULT_BASE_URL, use_local_assets
from mapper.maps.base import (
    AREA_MAX_ZOOM,
    MIN_ZOOM,
    OVERVIEW_DECIMALS,
    AreaLabels,
    AttributionLast,
    FitBoundsNow,
    FixedStyleGeoJson,
    MetricScale,
    Tiles,
    WardLinks,
    add_tiles,
    check_layer,
    check_tiles,
    display_shapes,
    display_tolerance,
    feature_collection,
)
from mapper.maps.context import ContextOverlay, add_context
from mapper.maps.inview import INVIEW_BOROUGH_M, INVIEW_DECIMALS, band_options
from mapper.maps.points import LazyPointCluster

WARD_FIELDS = ["ward_name", "ward_code", "borough_name"]
WARD_ALIASES = ["Ward", "Ward code", "Borough"]
BOROUGH_FIELDS = ["borough_code", "borough_name"]

_WARD_STYLE = {"color": "#1d70b8", "weight": 1, "fillColor": "#5694ca", "fillOpacity": 0.18}
_WARD_HIGHLIGHT = {"color": "#0b0c0c", "weight": 3, "fillColor": "#ffdd00", "fillOpacity": 0.5}
_BOROUGH_STYLE = {"color": "#0b0c0c", "weight": 2.5, "fill": False}


def ward_map(
    wards: gpd.GeoDataFrame,
    boroughs: gpd.GeoDataFrame | None,
    *,
    tiles: Tiles = "none",
    context_layers: ContextOverlay | None = None,
    simplify_m: float | None = None,
    decimals: int = OVERVIEW_DECIMALS,
    asset_base_url: str = DEFAULT_BASE_URL,
    ward_url: str | None = None,
    groups_url: str | None = None,
    groups_count: int | None = None,
    json_strings: bool = False,
    groups_per_ward: list | None = None,
    inview_url: str | None = None,
    outline_urls: dict[str, str] | None = None,
) -> folium.Map:
    """A map of every ward (with a tooltip) under the borough outlines.

    With `ward_url` (e.g. "/ward/"), clicking a ward opens ``ward_url + ward_code``.
    With `groups_url`, the VCS groups are a layer of clustered markers (off until switched
    on in the layer list), their rows fetched from that URL in the background while the
    page loads (``{"rows": [[lat, lon, name, category], ...]}``, see
    :func:`mapper.maps.points.point_rows` and
    :class:`mapper.maps.points.LazyPointCluster`).

    Parameters
    ----------
    wards : ward polygons in EPSG:27700 with ``ward_code``, ``ward_name``,
        ``borough_name``
    boroughs : borough polygons in EPSG:27700, drawn as outlines; None for none
    tiles : background, a key of :data:`TILE_CHOICES` or LocalTiles; "none" works offline
    context_layers : the imported roads, water, rail, buildings and places to draw
        under the data (:mod:`mapper.maps.context`); None: none
    simplify_m : display simplification tolerance in metres (0 keeps every vertex; None:
        under a pixel at the zoom that fits the wards, see
        :func:`mapper.maps.base.display_tolerance`)
    decimals : decimal places of the coordinates
    asset_base_url : URL prefix the app serves the vendored Leaflet files under
    groups_url, groups_count : where the groups layer's rows are fetched from, and how
        many there are (shown in the layer list)
    groups_per_ward : rows of :func:`mapper.maps.points.ward_count_rows`: zoomed out, the
        groups layer shows these counts per ward instead of the markers
    json_strings : write the layers' data as JSON text in a string handed to
        ``JSON.parse`` rather than as a JavaScript object literal: browsers read large
        data much faster that way (the web page uses it; the default keeps the
        ``_add({...})`` literal)
    inview_url : the URL of the ward layer's tiles (``{z}/{x}/{y}`` in it): the page
        embeds no ward shape, the browser fetches those of its view
        (:mod:`mapper.maps.inview`; the caller applies the size rule)
    outline_urls : with `inview_url`, where the borough outlines' tiles (``boroughs``,
        ``{z}/{x}/{y}`` in it), the area names (``labels``) and the groups' counts per
        ward (``groups_per_ward``) are fetched from instead of being embedded

    The map is drawn on a canvas (``prefer_canvas``) and fitted to the wards.
    """
    check_layer(wards, "wards", WARD_FIELDS)
    if boroughs is not None:
        check_layer(boroughs, "boroughs", BOROUGH_FIELDS)
    check_tiles(tiles)
    if len(wards) == 0:
        raise ValueError("there are no wards to map")
    if simplify_m is None:
        simplify_m = display_tolerance(wards)

    if inview_url is None:
        ward_shapes = display_shapes(wards, simplify_m, decimals)
        minx, miny, maxx, maxy = (float(b) for b in shapely.total_bounds(ward_shapes))
        ward_data = feature_collection(wards, WARD_FIELDS, ward_shapes, ids=False)
        inview = None
    else:  # one shapeless feature: folium checks the tooltip's fields against it
        corners = to_display(gpd.GeoSeries(shapely.points(
            [wards.total_bounds[:2], wards.total_bounds[2:]]), crs=wards.crs))
        (minx, miny), (maxx, maxy) = shapely.get_coordinates(corners.values).tolist()
        ward_data = feature_collection(wards.iloc[:1], WARD_FIELDS, [None], ids=False)
        inview = {"url": inview_url, "bands": band_options()}
        simplify_m, decimals = INVIEW_BOROUGH_M, INVIEW_DECIMALS  # the borough outlines
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=12,
        tiles=None,
        prefer_canvas=True,
        zoom_snap=0.25,  # fit the area snugly rather than to the next whole zoom level
    )
    m.options.update(min_zoom=MIN_ZOOM, max_zoom=AREA_MAX_ZOOM, attribution_control=False)
    MetricScale().add_to(m)
    # fitted before any layer is added, so Leaflet projects the shapes once, at the zoom
    # they are shown at (fitting afterwards projects every vertex twice)
    FitBoundsNow([[miny, minx], [maxy, maxx]]).add_to(m)
    add_tiles(m, tiles)
    add_context(m, context_layers)  # streets and places under the data, when imported

    ward_layer = FixedStyleGeoJson(
        ward_data,
        name="Wards",
        style=_WARD_STYLE,
        highlight=_WARD_HIGHLIGHT,
        tooltip=folium.GeoJsonTooltip(fields=WARD_FIELDS, aliases=WARD_ALIASES, sticky=True),
        json_string=json_strings,
        inview=inview,
    ).add_to(m)
    if ward_url:
        WardLinks(ward_layer, ward_url).add_to(m)
    urls = (outline_urls or {}) if inview_url is not None else {}
    if boroughs is not None and len(boroughs):
        url = urls.get("boroughs")
        FixedStyleGeoJson(
            feature_collection(boroughs.iloc[:1], BOROUGH_FIELDS, [None], ids=False)
            if url else
            feature_collection(boroughs, BOROUGH_FIELDS,
                               display_shapes(boroughs, simplify_m, decimals), ids=False),
            name="Borough boundaries",
            style=_BOROUGH_STYLE,
            json_string=json_strings,
            interactive=False,  # hovering goes through to the wards underneath
            inview=None if url is None else {"url": url, "bands": band_options(),
                                             "key": "borough_code", "attr": "boroughs"},
        ).add_to(m)
    if groups_url:
        label = "VCS groups" + (f" ({groups_count:,})" if groups_count is not None else "")
        LazyPointCluster("groups", url=groups_url, prefetch=True,
                         point_class="map-group", cluster_class="map-group-cluster",
                         counts=None if urls.get("groups_per_ward") else groups_per_ward,
                         counts_url=urls.get("groups_per_ward"), count_class="map-count",
                         name=f'<span class="map-key__swatch map-key__swatch--group" '
                         f'aria-hidden="true"></span> {html.escape(label)}').add_to(m)
        # folded on phones, where it would cover the map
        # folium annotates `collapsed` as bool, but renders a JsCode as code (folium >= 0.15)
        folium.LayerControl(
            position="topright",
            collapsed=JsCode("document.documentElement.clientWidth < 700"),  # type: ignore[arg-type]
        ).add_to(m)
    AreaLabels(wards, boroughs, url=urls.get("labels")).add_to(m)
    AttributionLast().add_to(m)
    return use_local_assets(m, base_url=asset_base_url)
