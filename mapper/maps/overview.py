"""The overview map: every ward with a tooltip, borough outlines on top."""

from __future__ import annotations

import html
import json

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement
from folium.template import Template
from pyproj import CRS

from mapper.geo import CRS_ANALYSIS, to_display
from mapper.maps.assets import DEFAULT_BASE_URL, use_local_assets

#: background choices: "none" needs no internet; the others fetch tiles from their hosts
TILE_CHOICES: dict[str, dict] = {
    "none": {},
    "osm": {
        "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attr": '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
        "contributors",
        "max_zoom": 19,
        "name": "OpenStreetMap",
    },
    "light": {
        "tiles": "https://{s}.basemaps.cartocdn.com/light_all/{z}/{x}/{y}{r}.png",
        "attr": '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
        'contributors &copy; <a href="https://carto.com/attributions">CARTO</a>',
        "max_zoom": 20,
        "subdomains": "abcd",
        "name": "CartoDB Positron",
    },
}

WARD_FIELDS = ["ward_name", "ward_code", "borough_name"]
WARD_ALIASES = ["Ward", "Ward code", "Borough"]
BOROUGH_FIELDS = ["borough_code", "borough_name"]

#: display simplification in metres; shared ward edges stay shared (coverage simplify)
SIMPLIFY_M = 5.0
#: decimal places of displayed longitude/latitude (about 0.1 m)
DISPLAY_DECIMALS = 6

_WARD_STYLE = {"color": "#1d70b8", "weight": 1, "fillColor": "#5694ca", "fillOpacity": 0.18}
_WARD_HIGHLIGHT = {"color": "#0b0c0c", "weight": 3, "fillColor": "#ffdd00", "fillOpacity": 0.5}
_BOROUGH_STYLE = {"color": "#0b0c0c", "weight": 2.5, "fill": False}
#: zoom limits of the map itself (folium's min_zoom/max_zoom only reach tile layers, and a
#: map without tiles would otherwise zoom in for ever)
MIN_ZOOM, MAX_ZOOM = 8, 19


class MetricScale(MacroElement):
    """A scale bar in metres and kilometres only (folium's also shows feet and miles)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )


class FitBoundsNow(MacroElement):
    """Fit the map to `bounds` at once: folium's FitBounds animates the zoom, and a canvas
    drawn mid-animation shows only part of the area until the next redraw."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.fitBounds(
            {{ this.bounds|tojson }}, {padding: [12, 12], animate: false}
        );
        {% endmacro %}
        """
    )

    def __init__(self, bounds):
        super().__init__()
        self._name = "FitBoundsNow"
        self.bounds = bounds


def ward_map(
    wards: gpd.GeoDataFrame,
    boroughs: gpd.GeoDataFrame | None,
    *,
    tiles: str = "none",
    simplify_m: float = SIMPLIFY_M,
    asset_base_url: str = DEFAULT_BASE_URL,
    ward_url: str | None = None,
) -> folium.Map:
    """A map of every ward (with a tooltip) under the borough outlines.

    With `ward_url` (e.g. "/ward/"), clicking a ward opens ``ward_url + ward_code``.

    Parameters
    ----------
    wards : ward polygons in EPSG:27700 with ``ward_code``, ``ward_name``,
        ``borough_name``
    boroughs : borough polygons in EPSG:27700, drawn as outlines; None for none
    tiles : background, one of :data:`TILE_CHOICES`; "none" works offline
    simplify_m : display simplification tolerance in metres (0 keeps every vertex)
    asset_base_url : URL prefix the app serves the vendored Leaflet files under

    The map is drawn on a canvas (``prefer_canvas``) and fitted to the wards.
    """
    _check_layer(wards, "wards", WARD_FIELDS)
    if boroughs is not None:
        _check_layer(boroughs, "boroughs", BOROUGH_FIELDS)
    if tiles not in TILE_CHOICES:
        raise ValueError(f"tiles must be one of {', '.join(TILE_CHOICES)}; got {tiles!r}")
    if len(wards) == 0:
        raise ValueError("there are no wards to map")

    ward_shapes = _display_shapes(wards, simplify_m)
    minx, miny, maxx, maxy = (float(b) for b in shapely.total_bounds(ward_shapes))
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=12,
        tiles=None,
        prefer_canvas=True,
        zoom_snap=0.25,  # fit the area snugly rather than to the next whole zoom level
    )
    m.options.update(min_zoom=MIN_ZOOM, max_zoom=MAX_ZOOM)
    MetricScale().add_to(m)
    if TILE_CHOICES[tiles]:
        folium.TileLayer(**TILE_CHOICES[tiles]).add_to(m)

    ward_layer = folium.GeoJson(
        _feature_collection(wards, WARD_FIELDS, ward_shapes),
        name="Wards",
        style_function=lambda _feature: _WARD_STYLE,
        highlight_function=lambda _feature: _WARD_HIGHLIGHT,
        tooltip=folium.GeoJsonTooltip(fields=WARD_FIELDS, aliases=WARD_ALIASES, sticky=True),
    ).add_to(m)
    if ward_url:
        WardLinks(ward_layer, ward_url).add_to(m)
    if boroughs is not None and len(boroughs):
        folium.GeoJson(
            _feature_collection(boroughs, BOROUGH_FIELDS, _display_shapes(boroughs, simplify_m)),
            name="Borough boundaries",
            style_function=lambda _feature: _BOROUGH_STYLE,
            interactive=False,  # hovering goes through to the wards underneath
        ).add_to(m)
    FitBoundsNow([[miny, minx], [maxy, maxx]]).add_to(m)
    return use_local_assets(m, base_url=asset_base_url)


def _check_layer(frame, label: str, fields: list[str]) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise TypeError(f"{label} must be a GeoDataFrame, got {type(frame).__name__}")
    if frame.crs is None or CRS.from_user_input(frame.crs) != CRS.from_user_input(CRS_ANALYSIS):
        raise ValueError(f"{label} must be in {CRS_ANALYSIS}, got {frame.crs}")
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        present = ", ".join(map(str, frame.columns))
        raise ValueError(f"{label} lacks column(s) {', '.join(missing)} (has: {present})")


def _display_shapes(frame: gpd.GeoDataFrame, simplify_m: float) -> np.ndarray:
    """Geometry simplified in metres, then in lon/lat rounded to 6 decimals (~0.1 m)."""
    geometry = frame.geometry
    if simplify_m > 0:
        # Coverage simplification moves a shared edge once for both neighbours, so no gaps
        # or slivers open between wards. It assumes the polygons tile without overlaps;
        # where GEOS refuses, fall back to simplifying each shape on its own.
        try:
            geometry = geometry.simplify_coverage(simplify_m)
        except Exception:  # noqa: BLE001 - GEOS rejects some invalid coverages
            geometry = geometry.simplify(simplify_m, preserve_topology=True)
    shapes = to_display(geometry).values
    return shapely.transform(shapes, lambda xy: np.round(xy, DISPLAY_DECIMALS))


def _feature_collection(frame: gpd.GeoDataFrame, fields: list[str], shapes) -> dict:
    """GeoJSON of `fields` and `shapes` (handing folium a dict, not a GeoDataFrame, keeps
    reprojection in :func:`mapper.geo.to_display` and is several times faster).

    Text is HTML-escaped: folium's tooltips insert property values as HTML, and a name
    in a data file must show as text, never become markup.
    """
    properties = json.loads(frame[fields].to_json(orient="records", force_ascii=False))
    for props in properties:
        for key, value in props.items():
            if isinstance(value, str):
                props[key] = html.escape(value)
    texts = shapely.to_geojson(shapes)
    features = [
        {
            "type": "Feature",
            "id": str(i),
            "properties": props,
            "geometry": json.loads(text) if text is not None else None,
        }
        for i, (props, text) in enumerate(zip(properties, texts, strict=True))
    ]
    return {"type": "FeatureCollection", "features": features}


class WardLinks(MacroElement):
    """Clicking a ward of `layer` opens its profile page: `url_prefix` + ward code.

    The same pages are reachable from the keyboard through the ward tables' links.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this.layer.get_name() }}.eachLayer(function (ward) {
            ward.on("click", function () {
                window.location.href = {{ this.url_prefix|tojson }}
                    + encodeURIComponent(ward.feature.properties.ward_code);
            });
        });
        {% endmacro %}
    """)

    def __init__(self, layer, url_prefix: str):
        super().__init__()
        self._name = "WardLinks"
        self.layer = layer
        self.url_prefix = url_prefix
