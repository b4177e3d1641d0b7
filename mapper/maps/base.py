"""The pieces every map shares: backgrounds, zoom limits, display simplification, the
checks of input layers, the display shapes and their GeoJSON, and the folium elements
(scale bar, attribution, fitting, compact constant-style GeoJSON layers, ward links).

Maps take frames in EPSG:27700 and reproject them for display only through
:func:`mapper.geo.to_display` (shapes here, in :func:`display_shapes`). No Flask here,
and no other map module: every map module builds on this one.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.template import Template
from pyproj import CRS

from mapper import geojson
from mapper.geo import CRS_ANALYSIS, to_display

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

@dataclass(frozen=True)
class LocalTiles:
    """A background served by the app itself from a tile archive on disk
    (``mapper serve --tiles FILE``; :mod:`mapper.tilearchive`): `url` is the app's
    ``/tiles/{z}/{x}/{y}.<ext>``, the zoom range and bounds (west, south, east, north)
    those of the archive. Beyond its zooms Leaflet scales the nearest tiles; outside its
    bounds it asks for none.

    A vector archive (``.pbf`` tiles) has `vector`, the styling
    :func:`mapper.maps.vectorstyle.translate` made of its style, and `scripts`, the URLs
    of the renderer (Leaflet.VectorGrid) and of ``static/vectorbasemap.js``, which draws
    it: :class:`VectorBasemap`."""

    url: str
    attribution: str
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]
    name: str = "Local basemap"
    vector: dict | None = field(default=None, compare=False, repr=False)
    #: a short name of the style (in repr, so pages cached by repr(tiles) tell styles apart)
    style_name: str = ""
    scripts: tuple[str, ...] = ()

    def vector_options(self) -> dict:
        """The options of ``mapperVectorBasemap`` (``static/vectorbasemap.js``)."""
        west, south, east, north = self.bounds
        return {"url": self.url, "style": self.vector, "attribution": self.attribution
                or self.name, "minZoom": MIN_ZOOM, "maxZoom": MAX_ZOOM,
                "minNativeZoom": self.min_zoom, "maxNativeZoom": self.max_zoom,
                "bounds": [[south, west], [north, east]]}

    def layer_options(self) -> dict:
        """folium ``TileLayer`` arguments."""
        west, south, east, north = self.bounds
        return {"tiles": self.url, "attr": self.attribution or self.name, "name": self.name,
                "min_zoom": MIN_ZOOM, "max_zoom": MAX_ZOOM,
                "min_native_zoom": self.min_zoom, "max_native_zoom": self.max_zoom,
                "bounds": [[south, west], [north, east]]}


#: a map's background: a key of TILE_CHOICES or the app's own tiles
Tiles = str | LocalTiles


def check_tiles(tiles: Tiles) -> None:
    """Refuse a background that is neither a :data:`TILE_CHOICES` key nor LocalTiles."""
    if not isinstance(tiles, LocalTiles) and tiles not in TILE_CHOICES:
        raise ValueError(f"tiles must be one of {', '.join(TILE_CHOICES)}; got {tiles!r} "
                         "(or LocalTiles, the app's own tile archive)")


def tile_options(tiles: Tiles) -> dict:
    """The folium ``TileLayer`` arguments of `tiles` ({} for none)."""
    check_tiles(tiles)
    if isinstance(tiles, LocalTiles):
        return tiles.layer_options()
    return dict(TILE_CHOICES[tiles])


def add_tiles(m: folium.Map, tiles: Tiles) -> None:
    """Add the background `tiles` to `m` (nothing for "none"; a vector archive's through
    :class:`VectorBasemap`)."""
    if isinstance(tiles, LocalTiles) and tiles.vector is not None:
        VectorBasemap(tiles).add_to(m)
        return
    options = tile_options(tiles)
    if options:
        folium.TileLayer(**options).add_to(m)


class VectorBasemap(JSCSSMixin, MacroElement):
    """The app's vector tile archive drawn in the browser by Leaflet.VectorGrid with the
    styling of :mod:`mapper.maps.vectorstyle` (``static/vectorbasemap.js`` reads it)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = mapperVectorBasemap(
            {{ this._parent.get_name() }}, {{ this.options_json }});
        {% endmacro %}
        """
    )

    def __init__(self, tiles: LocalTiles):
        super().__init__()
        self._name = "VectorBasemap"
        if tiles.vector is None or len(tiles.scripts) != 2:
            raise ValueError("VectorBasemap needs LocalTiles with a vector style and the "
                             "two renderer scripts")
        self.options_json = compact_json(tiles.vector_options())
        self.default_js = [("leaflet_vectorgrid", tiles.scripts[0]),
                           ("vectorbasemap", tiles.scripts[1])]
        self.default_css = []


#: display simplification in metres; shared ward edges stay shared (coverage simplify)
SIMPLIFY_M = 5.0
#: decimal places of displayed longitude/latitude (about 0.1 m)
DISPLAY_DECIMALS = 6
#: decimal places of the overview's coordinates: 5 is about 1 m, far under a pixel at any
#: zoom the simplified shapes are meant for
OVERVIEW_DECIMALS = 5

#: display simplification (metres): about 1/1500 of the mapped extent (under a pixel at
#: the zoom that fits the area), within these bounds
SIMPLIFY_RANGE_M = (5.0, 30.0)
SIMPLIFY_SHARE = 1 / 1500


def display_tolerance(frame: gpd.GeoDataFrame) -> float:
    """Simplification tolerance in metres for mapping `frame`: under a pixel at the
    zoom that fits it (5-10 m for a borough, 30 m for London)."""
    minx, miny, maxx, maxy = (float(b) for b in frame.total_bounds)
    extent = max(maxx - minx, maxy - miny, 0.0)
    low, high = SIMPLIFY_RANGE_M
    return float(np.clip(round(extent * SIMPLIFY_SHARE), low, high))


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


def check_layer(frame, label: str, fields: list[str]) -> None:
    """Refuse `frame` unless it is a GeoDataFrame in EPSG:27700 with every one of
    `fields` (TypeError or ValueError naming `label`, the CRS or the missing columns)."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise TypeError(f"{label} must be a GeoDataFrame, got {type(frame).__name__}")
    if frame.crs is None or CRS.from_user_input(frame.crs) != CRS.from_user_input(CRS_ANALYSIS):
        raise ValueError(f"{label} must be in {CRS_ANALYSIS}, got {frame.crs}")
    missing = [f for f in fields if f not in frame.columns]
    if missing:
        present = ", ".join(map(str, frame.columns))
        raise ValueError(f"{label} lacks column(s) {', '.join(missing)} (has: {present})")


def display_shapes(frame: gpd.GeoDataFrame, simplify_m: float,
                   decimals: int = DISPLAY_DECIMALS) -> np.ndarray:
    """Geometry simplified in metres, then in lon/lat rounded to `decimals` (6: ~0.1 m).

    Shared vertices round to the same place, so rounding opens no gaps either."""
    shapes = to_display(simplified(frame.geometry, simplify_m)).values
    return shapely.transform(shapes, lambda xy: np.round(xy, decimals))


def simplified(geometry: gpd.GeoSeries, simplify_m: float) -> gpd.GeoSeries:
    """`geometry` simplified by `simplify_m` metres (as it is for 0), keeping the edges
    neighbours share.

    Coverage simplification moves a shared edge once for both neighbours, so no gaps or
    slivers open between wards. It assumes the polygons tile without overlaps; where
    GEOS refuses, fall back to simplifying each shape on its own."""
    if simplify_m <= 0:
        return geometry
    try:
        return geometry.simplify_coverage(simplify_m)
    except Exception:  # noqa: BLE001 - GEOS rejects some invalid coverages
        return geometry.simplify(simplify_m, preserve_topology=True)


def feature_collection(frame: gpd.GeoDataFrame, fields: list[str], shapes, *,
                       ids: bool = True, escape: bool = True) -> dict:
    """GeoJSON of `fields` and `shapes` (handing folium a dict, not a GeoDataFrame, keeps
    reprojection in :func:`mapper.geo.to_display` and is several times faster).

    Text is HTML-escaped: folium's tooltips insert property values as HTML, and a name
    in a data file must show as text, never become markup. ``ids=False`` leaves out the
    features' ``id`` (only folium's per-feature style lookup needs it); ``escape=False``
    keeps text as it is (for a layer whose tooltips write text nodes). Written by
    :mod:`mapper.geojson`; `shapes` are already in lon/lat and rounded
    (:func:`display_shapes`).
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

    With `inview` (the options of ``mapperInViewLayer`` in ``static/inview.js``: ``url``
    with ``{z}/{x}/{y}``, ``bands``), the data is not written into the page: the layer
    fetches the features of the view as the map moves (:mod:`mapper.maps.inview`);
    `data` then only shows folium which properties the tooltip may name.
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
        {%- if this.inview %}
        // the features of the view, fetched as the map moves (static/inview.js)
        mapperInViewLayer({{ this._parent.get_name() }}, {{ this.get_name() }},
                          {{ this.inview|tojson }});
        {%- elif this.json_string %}
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
                 inview: dict | None = None, **options):
        if (style is None) == (styles is None):
            raise ValueError("give either style (one for every feature) or styles")
        super().__init__(data, name=name, tooltip=tooltip, **options)
        self._name = "GeoJson"
        self.fixed_style = style
        self.fixed_styles = styles
        self.fixed_highlight = highlight
        self.json_string = json_string
        self.inview = inview

    def render(self, **kwargs):
        self.compact_data = "" if self.inview else compact_json(self.data)
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


#: area names on the maps: borough names from BOROUGH_LABEL_ZOOMS[0] up to (not including)
#: WARD_LABEL_ZOOM, where ward names take over (a London ward is about 120 px wide at 13,
#: a borough 100-400 px at 10-12). Within those zooms a name is written only where its
#: area is wide enough to hold it and it overlaps no name already written (larger areas
#: first), and only in and near the view: a zoomed map still says where it is, and a
#: whole-area map is not covered in text.
WARD_LABEL_ZOOM = 13
BOROUGH_LABEL_ZOOMS = (10, WARD_LABEL_ZOOM)


def label_points(frame: gpd.GeoDataFrame, name_field: str) -> list[list]:
    """``[lon, lat, name, width_m]`` for each named shape of `frame` (EPSG:27700), largest
    first (the name HTML-escaped, as the tooltips' are): the label goes at the centroid
    when it lies inside the shape, else at a point on its surface; `width_m` is the
    shape's east-west extent."""
    named = frame[frame.geometry.notna() & ~frame.geometry.is_empty
                  & frame[name_field].notna()]
    if not len(named):
        return []
    geometry = named.geometry
    centroids = geometry.centroid
    spots = centroids.where(centroids.within(geometry), geometry.representative_point())
    shown = to_display(gpd.GeoSeries(spots, crs=frame.crs))
    bounds = geometry.bounds
    widths = (bounds["maxx"] - bounds["minx"]).to_numpy()
    order = np.argsort(-geometry.area.to_numpy(), kind="stable")
    lon = np.round(shown.x.to_numpy(), 5)
    lat = np.round(shown.y.to_numpy(), 5)
    names = named[name_field].astype(str).to_numpy()
    return [[float(lon[i]), float(lat[i]), html.escape(str(names[i]).strip()),
             round(float(widths[i]))]
            for i in order if str(names[i]).strip()]


class AreaLabels(MacroElement):
    """Ward and borough names written on the map at closer zooms (see
    :data:`WARD_LABEL_ZOOM`), in a pane above the shapes and below the markers, never
    catching the pointer nor covering a permanent tooltip (a CAN's tag). Names are
    HTML-escaped (:func:`label_points`), so they show as written and never become markup;
    the pages' tables carry the same names for screen readers, so the labels are hidden
    from them.

    With `url` the names are not embedded: the map fetches them from `url` (the JSON of
    :func:`area_label_sets`) the first time it is zoomed in far enough to write one (a
    map loading its wards for the view: England's 7,000 names are a quarter of a
    megabyte)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map, sets) {
            {%- if this.url %}
            var asked = false;
            function fetchSets() {
                if (asked || map.getZoom() < {{ this.min_zoom }}) { return; }
                asked = true;
                fetch({{ this.url|tojson }}, {headers: {"Accept": "application/json"}})
                    .then(function (r) {
                        if (!r.ok) { throw new Error("HTTP " + r.status); }
                        return r.json();
                    })
                    .then(function (got) { sets = got.sets; later(); })
                    .catch(function (err) {
                        asked = false;
                        console.warn("could not load the area names: " + err.message);
                    });
            }
            map.on("zoomend", fetchSets);
            map.whenReady(fetchSets);
            {%- endif %}
            var pane = map.createPane("areaLabels");
            pane.style.zIndex = 450;
            pane.style.pointerEvents = "none";
            pane.setAttribute("aria-hidden", "true");
            var group = L.layerGroup().addTo(map);
            var measure = document.createElement("canvas").getContext("2d");
            function draw() {
                group.clearLayers();
                var zoom = map.getZoom(), view = map.getBounds().pad(0.25), placed = [];
                // names already on the map (permanent tooltips: CAN tags, ring labels)
                var frame = map.getContainer().getBoundingClientRect();
                map.getContainer().querySelectorAll(".leaflet-tooltip-permanent")
                    .forEach(function (tip) {
                        var r = tip.getBoundingClientRect();
                        if (r.width) {
                            placed.push([r.left - frame.left, r.top - frame.top,
                                         r.right - frame.left, r.bottom - frame.top]);
                        }
                    });
                sets.forEach(function (set) {
                    if (zoom < set.min || zoom >= set.max) { return; }
                    measure.font = set.font;
                    set.items.forEach(function (item) {
                        var at = L.latLng(item[1], item[0]);
                        if (!view.contains(at)) { return; }
                        var text = document.createElement("span");
                        var perPixel = 156543.034 * Math.cos(item[1] * Math.PI / 180)
                            / Math.pow(2, zoom);
                        text.innerHTML = item[2];  // escaped text: shows as written
                        var width = measure.measureText(text.textContent).width + 6;
                        var height = 18;
                        if (item[3] / perPixel < width * 0.9) { return; }
                        var p = map.latLngToContainerPoint(at);
                        var box = [p.x - width / 2, p.y - height / 2,
                                   p.x + width / 2, p.y + height / 2];
                        if (placed.some(function (b) {
                            return box[0] < b[2] && b[0] < box[2] && box[1] < b[3] && b[1] < box[3];
                        })) { return; }
                        placed.push(box);
                        text.className = "map-label " + set.className;
                        L.marker(at, {
                            pane: "areaLabels", interactive: false, keyboard: false,
                            icon: L.divIcon({className: "map-label-anchor", html: text,
                                             iconSize: null})
                        }).addTo(group);
                    });
                });
            }
            // after the frame's other updates, so the tooltips have moved
            function later() { window.requestAnimationFrame(draw); }
            map.on("zoomend moveend", later);
            map.whenReady(later);
        })({{ this._parent.get_name() }}, {{ this.sets_json }});
        {% endmacro %}
        """
    )

    #: the labels' fonts, as static/app.css writes them (used to measure the names)
    BOROUGH_FONT = '700 13px "Helvetica Neue", Helvetica, Arial, sans-serif'
    WARD_FONT = '600 12px "Helvetica Neue", Helvetica, Arial, sans-serif'

    def __init__(self, wards: gpd.GeoDataFrame | None = None,
                 boroughs: gpd.GeoDataFrame | None = None, *,
                 ward_field: str = "ward_name", borough_field: str = "borough_name",
                 url: str | None = None):
        super().__init__()
        self._name = "AreaLabels"
        self.url = url
        has_boroughs = boroughs is not None and len(boroughs) and borough_field in boroughs
        self.min_zoom = BOROUGH_LABEL_ZOOMS[0] if has_boroughs else WARD_LABEL_ZOOM
        self.sets = [] if url else area_label_sets(wards, boroughs, ward_field=ward_field,
                                                   borough_field=borough_field)

    def render(self, **kwargs):
        self.sets_json = compact_json(self.sets)
        super().render(**kwargs)


def area_label_sets(wards: gpd.GeoDataFrame | None = None,
                    boroughs: gpd.GeoDataFrame | None = None, *,
                    ward_field: str = "ward_name",
                    borough_field: str = "borough_name") -> list[dict]:
    """The names :class:`AreaLabels` writes: a set of borough names (zooms
    :data:`BOROUGH_LABEL_ZOOMS`) and one of ward names (from :data:`WARD_LABEL_ZOOM`),
    each ``{"min", "max", "font", "className", "items"}`` (items of
    :func:`label_points`)."""
    sets = []
    if boroughs is not None and len(boroughs) and borough_field in boroughs:
        sets.append({"min": BOROUGH_LABEL_ZOOMS[0], "max": BOROUGH_LABEL_ZOOMS[1],
                     "font": AreaLabels.BOROUGH_FONT, "className": "map-label--borough",
                     "items": label_points(boroughs, borough_field)})
    if wards is not None and len(wards) and ward_field in wards:
        sets.append({"min": WARD_LABEL_ZOOM, "max": 99, "font": AreaLabels.WARD_FONT,
                     "className": "map-label--ward",
                     "items": label_points(wards, ward_field)})
    return sets
