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
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template
from folium.utilities import JsCode
from pyproj import CRS

from mapper import geojson
from mapper.geo import CRS_ANALYSIS, to_display
from mapper.maps.assets import DEFAULT_BASE_URL, use_local_assets
from mapper.maps.points import LazyPointCluster

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
#: decimal places of the overview's coordinates: 5 is about 1 m, far under a pixel at any
#: zoom the simplified shapes are meant for
OVERVIEW_DECIMALS = 5

_WARD_STYLE = {"color": "#1d70b8", "weight": 1, "fillColor": "#5694ca", "fillOpacity": 0.18}
_WARD_HIGHLIGHT = {"color": "#0b0c0c", "weight": 3, "fillColor": "#ffdd00", "fillOpacity": 0.5}
_BOROUGH_STYLE = {"color": "#0b0c0c", "weight": 2.5, "fill": False}
#: zoom limits of the map itself (folium's min_zoom/max_zoom only reach tile layers, and a
#: map without tiles would otherwise zoom in for ever). MIN_ZOOM only lets the first fit
#: show a large area (England fits at about 6); once fitted, a map can be zoomed out one
#: level beyond its area, or to CONTEXT_ZOOM (about all of London) when that is farther
#: (see FIT_MIN_ZOOM_JS)
MIN_ZOOM, MAX_ZOOM = 4, 19
CONTEXT_ZOOM = 9
#: after fitting `map`: the closest zoom out users need (a whole zoom level costs the
#: point layers' clustering time when they are filled)
FIT_MIN_ZOOM_JS = (
    "map.setMinZoom(Math.max(map.getMinZoom(), "
    f"Math.min(Math.floor(map.getZoom()) - 1, {CONTEXT_ZOOM})));"
)
#: the closest zoom of the maps of a whole study area (the overview, the priority map; about
#: a metre a pixel in London): their shapes are simplified to tens of metres, so closer
#: zooms show nothing more, and every zoom level costs the point layers' clustering time
#: when they are filled
AREA_MAX_ZOOM = 17


class MetricScale(MacroElement):
    """A scale bar in metres and kilometres only (folium's also shows feet and miles)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )


class AttributionLast(MacroElement):
    """The map's attribution box, added after the layers above it (give the map
    ``attribution_control=False``).

    Leaflet's box listens for every layer added to the map and hangs a listener on each
    (to take its credit off when it goes): for hundreds of ward shapes that is measurable
    page-load time for credits they do not have. Added last, it collects the credits of
    the layers already there (the background tiles') in one pass, and still hears of
    layers added later."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (box) {
            // at the foot of its corner, below any key added before it, as Leaflet's own
            var element = box.getContainer();
            element.parentNode.appendChild(element);
        })(L.control.attribution().addTo({{ this._parent.get_name() }}));
        {% endmacro %}
        """
    )

    def __init__(self):
        super().__init__()
        self._name = "AttributionLast"


class FitBoundsNow(MacroElement):
    """Fit the map to `bounds` at once: folium's FitBounds animates the zoom, and a canvas
    drawn mid-animation shows only part of the area until the next redraw."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            map.fitBounds({{ this.bounds|tojson }}, {padding: [12, 12], animate: false});
            {{ this.min_zoom_js }}
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, bounds):
        super().__init__()
        self._name = "FitBoundsNow"
        self.bounds = bounds
        self.min_zoom_js = FIT_MIN_ZOOM_JS


def ward_map(
    wards: gpd.GeoDataFrame,
    boroughs: gpd.GeoDataFrame | None,
    *,
    tiles: str = "none",
    simplify_m: float | None = None,
    decimals: int = OVERVIEW_DECIMALS,
    asset_base_url: str = DEFAULT_BASE_URL,
    ward_url: str | None = None,
    groups_url: str | None = None,
    groups_count: int | None = None,
    json_strings: bool = False,
) -> folium.Map:
    """A map of every ward (with a tooltip) under the borough outlines.

    With `ward_url` (e.g. "/ward/"), clicking a ward opens ``ward_url + ward_code``.
    With `groups_url`, the VCS groups are a layer of clustered markers (off until switched
    on in the layer list), their rows fetched from that URL in the background while the
    page loads (``{"rows": [[lat, lon, name, category], ...]}``, see
    :func:`mapper.maps.priority.point_rows` and
    :class:`mapper.maps.points.LazyPointCluster`).

    Parameters
    ----------
    wards : ward polygons in EPSG:27700 with ``ward_code``, ``ward_name``,
        ``borough_name``
    boroughs : borough polygons in EPSG:27700, drawn as outlines; None for none
    tiles : background, one of :data:`TILE_CHOICES`; "none" works offline
    simplify_m : display simplification tolerance in metres (0 keeps every vertex; None:
        under a pixel at the zoom that fits the wards, see
        :func:`mapper.maps.priority.display_tolerance`)
    decimals : decimal places of the coordinates
    asset_base_url : URL prefix the app serves the vendored Leaflet files under
    groups_url, groups_count : where the groups layer's rows are fetched from, and how
        many there are (shown in the layer list)
    json_strings : write the layers' data as JSON text in a string handed to
        ``JSON.parse`` rather than as a JavaScript object literal: browsers read large
        data much faster that way (the web page uses it; the default keeps the
        ``_add({...})`` literal)

    The map is drawn on a canvas (``prefer_canvas``) and fitted to the wards.
    """
    _check_layer(wards, "wards", WARD_FIELDS)
    if boroughs is not None:
        _check_layer(boroughs, "boroughs", BOROUGH_FIELDS)
    if tiles not in TILE_CHOICES:
        raise ValueError(f"tiles must be one of {', '.join(TILE_CHOICES)}; got {tiles!r}")
    if len(wards) == 0:
        raise ValueError("there are no wards to map")
    if simplify_m is None:
        from mapper.maps.priority import display_tolerance

        simplify_m = display_tolerance(wards)

    ward_shapes = _display_shapes(wards, simplify_m, decimals)
    minx, miny, maxx, maxy = (float(b) for b in shapely.total_bounds(ward_shapes))
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
    if TILE_CHOICES[tiles]:
        folium.TileLayer(**TILE_CHOICES[tiles]).add_to(m)

    ward_layer = FixedStyleGeoJson(
        _feature_collection(wards, WARD_FIELDS, ward_shapes, ids=False),
        name="Wards",
        style=_WARD_STYLE,
        highlight=_WARD_HIGHLIGHT,
        tooltip=folium.GeoJsonTooltip(fields=WARD_FIELDS, aliases=WARD_ALIASES, sticky=True),
        json_string=json_strings,
    ).add_to(m)
    if ward_url:
        WardLinks(ward_layer, ward_url).add_to(m)
    if boroughs is not None and len(boroughs):
        FixedStyleGeoJson(
            _feature_collection(boroughs, BOROUGH_FIELDS,
                                _display_shapes(boroughs, simplify_m, decimals), ids=False),
            name="Borough boundaries",
            style=_BOROUGH_STYLE,
            json_string=json_strings,
            interactive=False,  # hovering goes through to the wards underneath
        ).add_to(m)
    if groups_url:
        label = "VCS groups" + (f" ({groups_count:,})" if groups_count is not None else "")
        LazyPointCluster("groups", url=groups_url, prefetch=True,
                         point_class="map-group", cluster_class="map-group-cluster",
                         name=f'<span class="map-key__swatch map-key__swatch--group" '
                         f'aria-hidden="true"></span> {html.escape(label)}').add_to(m)
        # folded on phones, where it would cover the map
        folium.LayerControl(
            position="topright",
            collapsed=JsCode("document.documentElement.clientWidth < 700"),
        ).add_to(m)
    AttributionLast().add_to(m)
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


def _display_shapes(frame: gpd.GeoDataFrame, simplify_m: float,
                    decimals: int = DISPLAY_DECIMALS) -> np.ndarray:
    """Geometry simplified in metres, then in lon/lat rounded to `decimals` (6: ~0.1 m).

    Shared vertices round to the same place, so rounding opens no gaps either."""
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
    return shapely.transform(shapes, lambda xy: np.round(xy, decimals))


def _feature_collection(frame: gpd.GeoDataFrame, fields: list[str], shapes, *,
                        ids: bool = True, escape: bool = True) -> dict:
    """GeoJSON of `fields` and `shapes` (handing folium a dict, not a GeoDataFrame, keeps
    reprojection in :func:`mapper.geo.to_display` and is several times faster).

    Text is HTML-escaped: folium's tooltips insert property values as HTML, and a name
    in a data file must show as text, never become markup. ``ids=False`` leaves out the
    features' ``id`` (only folium's per-feature style lookup needs it); ``escape=False``
    keeps text as it is (for a layer whose tooltips write text nodes). Written by
    :mod:`mapper.geojson`; `shapes` are already in lon/lat and rounded
    (:func:`_display_shapes`).
    """
    shown = gpd.GeoDataFrame(pd.DataFrame(frame)[fields].reset_index(drop=True),
                             geometry=np.asarray(shapes, dtype=object), crs=geojson.CRS)
    features = geojson.encode_features(
        shown, decimals=None, escape=escape,
        ids=[str(i) for i in range(len(shown))] if ids else None)
    return geojson.loads(geojson.collection(features))


def compact_json(value) -> str:
    """`value` as JSON without spaces, safe inside a ``<script>`` element (``<``, ``>``,
    ``&`` and ``'`` written as ``\\u`` escapes, as Jinja's ``tojson`` does), by
    :func:`mapper.geojson.dumps_html` (orjson)."""
    return geojson.dumps_html(value)


class FixedStyleGeoJson(folium.GeoJson):
    """A GeoJson layer styled without a per-feature lookup, its data written as compact JSON.

    folium's GeoJson writes its data with spaces after every comma and colon and looks
    each feature's style up in a table by feature id (kilobytes of ``case "17":`` for
    633 wards); a layer whose features all look alike needs neither, and one whose
    features take one of a few styles (the classes of a choropleth) needs only those
    styles: give them as `styles` and each feature's index into them as its
    ``STYLE_PROPERTY`` property. The tooltip, options (``interactive``...) and the layer
    list work as for folium's GeoJson.

    With ``json_string``, the data is a string handed to ``JSON.parse``: for a megabyte
    of coordinates the browser's JSON parser is much quicker than its JavaScript parser
    building the same object literal.
    """

    #: the feature property holding the index of its style in `styles`
    STYLE_PROPERTY = "_style"

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson(null, {
            {%- if this.fixed_styles %}
            style: (function (styles) {
                return function (feature) {
                    return styles[feature.properties.{{ this.STYLE_PROPERTY }}];
                };
            })({{ this.fixed_styles|tojson }}),
            {%- else %}
            style: function () { return {{ this.fixed_style|tojson }}; },
            {%- endif %}
            ...{{ this.options|tojavascript }}
        });
        {%- if this.fixed_highlight %}
        // one pair of listeners on the layer, not a pair per feature: a feature's events
        // reach its layer group, with the feature as e.layer
        {{ this.get_name() }}.on({
            mouseout: function (e) { {{ this.get_name() }}.resetStyle(e.layer); },
            mouseover: function (e) { e.layer.setStyle({{ this.fixed_highlight|tojson }}); }
        });
        {%- endif %}
        function {{ this.get_name() }}_add(data) {
            {{ this.get_name() }}.addData(data);
        }
        {%- if this.json_string %}
        {{ this.get_name() }}_add(JSON.parse({{ this.compact_data|tojson }}));
        {%- else %}
        {{ this.get_name() }}_add({{ this.compact_data }});
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(self, data: dict, *, style: dict | None = None,
                 styles: list[dict] | None = None, highlight: dict | None = None,
                 name: str | None = None, tooltip=None, json_string: bool = False,
                 **options):
        if (style is None) == (styles is None):
            raise ValueError("give either style (one for every feature) or styles")
        super().__init__(data, name=name, tooltip=tooltip, **options)
        self._name = "GeoJson"
        self.fixed_style = style
        self.fixed_styles = styles
        self.fixed_highlight = highlight
        self.json_string = json_string

    def render(self, **kwargs):
        self.compact_data = compact_json(self.data)
        super().render(**kwargs)


class WardLinks(MacroElement):
    """Clicking a ward of `layer` opens its profile page: `url_prefix` + ward code.

    The same pages are reachable from the keyboard through the ward tables' links.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this.layer.get_name() }}.on("click", function (e) {
            window.location.href = {{ this.url_prefix|tojson }}
                + encodeURIComponent(e.layer.feature.properties.ward_code);
        });
        {% endmacro %}
    """)

    def __init__(self, layer, url_prefix: str):
        super().__init__()
        self._name = "WardLinks"
        self.layer = layer
        self.url_prefix = url_prefix
