"""The priority-areas map: wards shaded by a chosen indicator, with Community Action
Neighbourhoods (CANs), coverage gaps, groups, premises and incidents as layers.

No Flask here. Frames come in EPSG:27700 and are reprojected for display only through
:func:`mapper.geo.to_display`; every script and style is served locally
(:func:`mapper.maps.assets.use_local_assets`).

Heavy layers (coverage gaps and the three point registers) can be given either as data,
embedded in the page, or as the URL of a JSON document the page fetches the first time
the layer is switched on, so a London-wide page stays light.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template
from folium.utilities import JsCode

from mapper import geojson
from mapper.analysis import indicators as indicators_registry
from mapper.can_history import id_order
from mapper.geo import to_display
from mapper.maps.assets import DEFAULT_BASE_URL, asset_url, use_local_assets
from mapper.maps.base import (
    AREA_MAX_ZOOM,
    DISPLAY_DECIMALS,
    FIT_MIN_ZOOM_JS,
    MIN_ZOOM,
    OVERVIEW_DECIMALS,
    AreaLabels,
    AttributionLast,
    FixedStyleGeoJson,
    MetricScale,
    Tiles,
    WardLinks,
    add_tiles,
    check_layer,
    check_tiles,
    compact_json,
    display_shapes,
    display_tolerance,
    feature_collection,
)
from mapper.maps.classify import NO_DATA_COLOUR, Classification, classify, palette
from mapper.maps.context import ContextOverlay, add_context
from mapper.maps.inview import INVIEW_BOROUGH_M, INVIEW_DECIMALS, band_options
from mapper.maps.points import (
    POINT_KINDS,
    PREFETCHED_KINDS,
    LazyPointCluster,
    ward_count_rows,
)

# -- indicators -----------------------------------------------------------------------

#: how values of each kind are written
KINDS = indicators_registry.KINDS
#: numeric ward_summary columns that are not indicators (the registry's ``on_map``)
NOT_INDICATORS = frozenset(c for c, i in indicators_registry.INDICATORS.items()
                           if not i.on_map)

DEFAULT_INDICATOR = "unmet_need"

#: the key figures every ward tooltip and table row shows: column -> heading
KEY_FIGURES: dict[str, str] = {
    "population": "Residents",
    "imd_score": "IMD score",
    "unmet_need": "Unmet-need index",
    "groups_total_per_1000": "VCS groups per 1,000",
    "incidents_per_1000": "Incidents a month per 1,000",
}
#: short property names of the key figures in the map's GeoJSON (633 London wards repeat
#: every name: short ones keep the page light)
FIGURE_KEYS = {"population": "pop", "imd_score": "imd", "unmet_need": "need",
               "groups_total_per_1000": "groups", "incidents_per_1000": "incidents"}


#: what one unit of a column means, said under its legend's title (by column, else kind)
UNITS: dict[str, str] = {
    "index": "Unit: robust standard deviations from the study area's median ward "
             "(0 = the median ward).",
    "imd_score": "Unit: MHCLG's IMD score (a weighted sum of domain scores), averaged over "
                 "the ward's residents; higher = more deprived.",
    "imd_avg_rank": "Unit: national rank of small areas, turned round as MHCLG does: "
                    "32,844 = the most deprived in England, 1 = the least.",
    "imd_local_concentration": "Unit: national rank of small areas, turned round: 32,844 = "
                               "the most deprived in England.",
    "imd_extent": "Unit: per cent of residents (the next 20% after the most deprived 10% "
                  "on a sliding scale).",
    "share": "Unit: per cent.",
    "rate": "Unit: per 1,000 residents.",
    "distance": "Unit: metres, in a straight line.",
}


def indicator_unit(column: str) -> str:
    """What one unit of `column` means (see :data:`UNITS`); '' when it goes without saying."""
    return UNITS.get(column) or UNITS.get(indicator_kind(column), "")


def indicator_kind(column: str) -> str:
    """How values of `column` are written (one of :data:`KINDS`), from the registry."""
    return indicators_registry.kind(column)


def indicator_label(column: str) -> str:
    """The registry's label of a ward_summary column, e.g. 'Food groups per 1,000
    residents'."""
    return indicators_registry.label(column)


def format_value(value, kind: str) -> str:
    """`value` written for people; 'no data' for a missing value (the registry's rule)."""
    return indicators_registry.format_value(value, kind)


def indicators(frame: pd.DataFrame) -> list[str]:
    """The numeric columns of a ward_summary frame that can shade the map."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    out = []
    for column in frame.columns:
        if column in NOT_INDICATORS or column == geometry:
            continue
        dtype = frame[column].dtype
        if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
            continue
        out.append(column)
    return out


def indicator_groups(columns: Sequence[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """`columns` as (group, [(column, label), ...]) for the select box's optgroups, grouped
    by the registry's ``group``."""
    return [(group, [(i.column, i.label) for i in items])
            for group, items in indicators_registry.grouped(columns)]


def check_indicator(frame: pd.DataFrame, indicator: str) -> None:
    """ValueError listing the choices when `indicator` cannot shade the map."""
    choices = indicators(frame)
    if indicator not in choices:
        shown = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
        raise ValueError(f"unknown indicator {indicator!r}: choose a numeric ward column "
                         f"such as {shown}")


def classify_wards(wards: pd.DataFrame, indicator: str, scheme: str,
                   classes: int) -> Classification:
    """The wards' `indicator` put into classes (indexed like `wards`)."""
    check_indicator(wards, indicator)
    values = pd.to_numeric(wards[indicator], errors="coerce").astype(float)
    return classify(values, scheme, classes)


def class_labels(classification: Classification, kind: str) -> pd.Series:
    """'Class 3 of 5 (over 20.1, up to 25.3)' for each value; 'No data' where none."""
    entries = classification.legend(lambda v: format_value(v, kind))
    texts = [f"{e.label} ({e.range_text})" for e in entries if e.lower is not None]
    return classification.classes.map(lambda c: "No data" if pd.isna(c) else texts[int(c)])


# -- point layers ---------------------------------------------------------------------

@dataclass(frozen=True)
class PointLayer:
    """A register drawn as clustered markers: its rows (embedded) or a URL to fetch them
    from (``{"rows": [[lat, lon, label, detail], ...]}``) when first switched on.

    Zoomed out (below :data:`mapper.maps.points.COUNTS_ZOOM`) the layer shows one count
    per ward instead (``per_ward``): the analysis's counts of the register
    (:func:`mapper.analysis.assets.ward_counts`), or `counts` by ``ward_code`` (e.g. the
    incidents of the page's filter)."""

    kind: str
    rows: list | None = None
    url: str | None = None
    show: bool = False
    name: str | None = None  # in the layer control; default from POINT_KINDS
    note: str = ""  # appended to the name, e.g. a date range
    per_ward: bool = True
    counts: pd.Series | None = None
    #: where the counts per ward may be fetched from (``{"rows": ...}`` of
    #: :func:`mapper.maps.points.ward_count_rows`): a map loading its wards for the view
    #: fetches them the first time they show instead of embedding them
    counts_url: str | None = None

    def __post_init__(self):
        if self.kind not in POINT_KINDS:
            raise ValueError(f"unknown point layer {self.kind!r}; choose one of "
                             f"{', '.join(POINT_KINDS)}")
        if (self.rows is None) == (self.url is None):
            raise ValueError(f"{self.kind}: give either rows or url")


@dataclass(frozen=True)
class GapsLayer:
    """Coverage gaps: a GeoDataFrame (EPSG:27700, embedded) or a URL of GeoJSON."""

    frame: gpd.GeoDataFrame | None = None
    url: str | None = None
    radius_m: float | None = None
    ward_names: pd.Series | None = None  # ward_name by ward_code, for the tooltips


@dataclass(frozen=True)
class HeatLayer:
    """Incidents as a heatmap: a URL of point rows (as :class:`PointLayer`'s), fetched
    when the layer is first switched on; `note` says what is counted."""

    url: str
    note: str = ""
    #: the incidents' counts per ward (rows of :func:`mapper.maps.points.ward_count_rows`):
    #: a large map's heatmap weighs each ward's centre by its count instead of asking
    #: for every incident
    counts_url: str | None = None


# -- map elements ---------------------------------------------------------------------


class LazyHeat(JSCSSMixin, Layer):
    """A heatmap (Leaflet.heat, served by the app) of the point rows at `url` (paged
    like :class:`mapper.maps.points.LazyPointCluster`'s), fetched when first shown.
    The map's ``heatLayer`` is the layer; it fires ``filled`` once drawn."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.heatLayer([], {{ this.options|tojson }});
        (function (layer, map) {
            map.heatLayer = layer;
            var state = 'idle';
            function page(url, got) {
                return fetch(url, {headers: {'Accept': 'application/json'}})
                    .then(function (r) {
                        if (!r.ok) { throw new Error('HTTP ' + r.status); }
                        return r.json();
                    })
                    .then(function (data) {
                        got = got.concat(data.rows);
                        return data.next ? page(data.next, got) : got;
                    });
            }
            layer.on('add', function () {
                if (state !== 'idle') { return; }
                state = 'loading';
                page({{ this.url|tojson }}, [])
                    .then(function (rows) {
                        {%- if this.by_ward %}
                        // [lat, lon, ward, count]: each ward's centre weighed by its count
                        // (intensities relative to the busiest ward)
                        var most = Math.max.apply(null, rows.map(function (r) {
                            return r[3]; }).concat([1]));
                        layer.setOptions({max: most});
                        layer.setLatLngs(rows.map(function (r) {
                            return [r[0], r[1], r[3]]; }));
                        layer.count = rows.reduce(function (n, r) { return n + r[3]; }, 0);
                        {%- else %}
                        layer.setLatLngs(rows.map(function (r) { return [r[0], r[1]]; }));
                        layer.count = rows.length;
                        {%- endif %}
                        state = 'done';
                        layer.filled = true;
                        layer.fire('filled');
                    })
                    .catch(function (err) {
                        state = 'idle';
                        console.warn('could not load the heatmap: ' + err.message);
                    });
            });
        })({{ this.get_name() }}, {{ this._parent.get_name() }});
        {% endmacro %}
        """
    )
    #: the local copy (mapper.maps.assets serves it; use_local_assets applies the app's prefix)
    default_js = [("leaflet_heat", asset_url("leaflet_heat"))]

    def __init__(self, *, url: str, name: str, show: bool = False, by_ward: bool = False):
        """`by_ward`: `url` gives counts per ward (``[lat, lon, ward, count]``), drawn as
        each ward's centre weighed by its count (a large map), not incident points."""
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "LazyHeat"
        self.url = url
        self.by_ward = by_ward
        self.options = {"radius": 18, "blur": 16, "minOpacity": 0.35, "maxZoom": 15}


def _heat_legend(note: str, *, by_ward: bool = False) -> str:
    text = f"Heatmap of incidents: {note}" if note else "Heatmap of incidents"
    nearby = ("more incidents in the ward (each ward's count at its centre)" if by_ward
              else "more incidents nearby")
    return (f'<p class="pr-legend__title">{html.escape(text)}</p>'
            '<p class="pr-legend__note"><span class="pr-heat-ramp" aria-hidden="true">'
            f'</span> fewer &rarr; {nearby}</p>')


class LazyGeoJson(Layer):
    """Polygons fetched (or taken from embedded data) the first time the layer is shown,
    with a plain-text tooltip from the properties listed in `tooltip`."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON(null, {
            style: function () { return {{ this.style|tojson }}; },
            {%- if this.svg %}
            renderer: L.svg({padding: 0.5}),
            {%- endif %}
            onEachFeature: function (feature, layer) {
                layer.bindTooltip(function () {
                    var box = document.createElement('div');
                    {{ this.tooltip|tojson }}.forEach(function (pair, i) {
                        var value = feature.properties[pair[0]];
                        if (value === null || value === undefined) { return; }
                        if (i) { box.appendChild(document.createElement('br')); }
                        var label = document.createElement('strong');
                        label.textContent = pair[1] + ': ';
                        box.appendChild(label);
                        box.appendChild(document.createTextNode(value));
                    });
                    return box;
                }, {sticky: true});
            }
        });
        (function (layer) {
            var state = 'idle';
            function load() {
                if (state !== 'idle') { return; }
                {%- if this.url %}
                state = 'loading';
                fetch({{ this.url|tojson }}, {headers: {'Accept': 'application/geo+json'}})
                    .then(function (r) {
                        if (!r.ok) { throw new Error('HTTP ' + r.status); }
                        return r.json();
                    })
                    .then(function (data) { layer.addData(data); state = 'done'; })
                    .catch(function (err) {
                        state = 'idle';
                        console.warn('could not load the coverage gaps: ' + err.message);
                    });
                {%- else %}
                layer.addData({{ this.data|tojson }});
                state = 'done';
                {%- endif %}
            }
            layer.on('add', load);
        })({{ this.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, *, name: str, style: dict, tooltip: list[tuple[str, str]],
                 data: dict | None = None, url: str | None = None, show: bool = False,
                 svg: bool = False):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "LazyGeoJson"
        self.style, self.tooltip, self.data, self.url = style, tooltip, data, url
        self.svg = svg  # drawn as SVG (a pattern fill), not on the map's canvas


class LayerLegend(MacroElement):
    """An HTML legend in a map corner, shown only while `layer` is on the map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var layer = {{ this.layer.get_name() }};
            var legend = L.control({position: {{ this.position|tojson }}});
            legend.onAdd = function () {
                var div = L.DomUtil.create('div', {{ this.css|tojson }});
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            legend.addTo(map);
            function sync() { legend.getContainer().hidden = !map.hasLayer(layer); }
            map.on('overlayadd overlayremove layeradd layerremove', sync);
            sync();
        })();
        {% endmacro %}
        """
    )

    def __init__(self, layer, html_text: str, *, position: str = "bottomright",
                 css: str = "pr-legend"):
        super().__init__()
        self._name = "LayerLegend"
        self.layer, self.html, self.position, self.css = layer, html_text, position, css


class OverlayLegend(MacroElement):
    """One legend box for the overlays (coverage gaps, point layers, heatmap): each
    entry shows only while its layer is on the map, and the box only while one of them
    is, so the legend always matches what is drawn. Entries are HTML (escaped by the
    caller), each in a ``.pr-legend-entry``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var layers = [{{ this.names|join(", ") }}];
            var texts = {{ this.texts|tojson }};
            var legend = L.control({position: {{ this.position|tojson }}});
            var entries = [];
            legend.onAdd = function () {
                var div = L.DomUtil.create('div', {{ this.css|tojson }});
                // folded on a phone like the map's legend (static/legend.js): open, two
                // layers' keys would cover half of a 390 px map
                div.setAttribute('data-legend-panel', '');
                div.setAttribute('data-legend-label', 'Key to layers');
                texts.forEach(function (text) {
                    var entry = L.DomUtil.create('div', 'pr-legend-entry', div);
                    entry.innerHTML = text;
                    entries.push(entry);
                });
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            legend.addTo(map);
            function sync() {
                var any = false;
                layers.forEach(function (layer, i) {
                    var on = map.hasLayer(layer);
                    entries[i].hidden = !on;
                    any = any || on;
                });
                legend.getContainer().hidden = !any;
            }
            map.on('overlayadd overlayremove layeradd layerremove', sync);
            sync();
        })();
        {% endmacro %}
        """
    )

    def __init__(self, entries, *, position: str = "bottomleft",
                 css: str = "pr-legend-overlay"):
        super().__init__()
        self._name = "OverlayLegend"
        self.entries, self.position, self.css = list(entries), position, css

    def render(self, **kwargs):
        self.names = [layer.get_name() for layer, _ in self.entries]
        self.texts = [text for _, text in self.entries]
        super().render(**kwargs)


class CanOutlines(MacroElement):
    """Each CAN's outline (a thick dashed line over a white halo, from one embedded copy
    of the shapes) with a tooltip and a label ("CAN-01") inside it, added to the parent
    layer group. Labels are hidden below `min_zoom`, where the labels of a whole city
    would pile on top of each other. With `inview` (the options of ``mapperInViewLayer``,
    ``static/inview.js``) the outlines are not embedded: those of the view are fetched
    as the map moves, and drawn the same way."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var group = {{ this._parent.get_name() }};
            var halo = L.geoJSON(null, {style: {{ this.halo|tojson }}, interactive: false})
                .addTo(group);
            // one tooltip on the layer, its text from the outline under the pointer (no
            // handlers per outline: hundreds of them are quicker to add and remove)
            var line = L.geoJSON(null, {style: {{ this.line|tojson }}}).bindTooltip(
                function (layer) {
                    var box = document.createElement('div');
                    var id = document.createElement('strong');
                    id.textContent = layer.feature.properties.can_id;
                    box.appendChild(id);
                    box.appendChild(document.createTextNode(
                        ' ' + (layer.feature.properties.name || '')));
                    return box;
                }, {sticky: true}).addTo(group);
            var labels = L.layerGroup().addTo(group);
            function add(data) {
                halo.addData(data);
                line.addData(data);
                data.features.forEach(function (feature) {
                    var span = document.createElement('span');
                    span.textContent = feature.properties.can_id;
                    L.marker(feature.properties.label_at, {
                        icon: L.divIcon({className: 'pr-can-label', html: span.outerHTML,
                                         iconSize: null}),
                        interactive: false, keyboard: false
                    }).addTo(labels);
                });
            }
            var map = {{ this.map_name }};
            {%- if this.inview %}
            mapperInViewLayer(map, group, Object.assign({{ this.inview|tojson }}, {
                addData: add,
                clear: function () {
                    halo.clearLayers(); line.clearLayers(); labels.clearLayers();
                }
            }));
            {%- else %}
            add(JSON.parse({{ this.data_json|tojson }}));
            {%- endif %}
            function sync() {
                var hidden = map.getZoom() < {{ this.min_zoom }};
                map.getContainer().classList.toggle('pr-can-labels-hidden', hidden);
                {%- if this.inview %}
                // hidden labels are not on the map at all (no element each to place)
                if (hidden && group.hasLayer(labels)) { group.removeLayer(labels); }
                if (!hidden && !group.hasLayer(labels)) { group.addLayer(labels); }
                {%- endif %}
            }
            map.on('zoomend', sync);
            sync();
        })();
        {% endmacro %}
        """
    )

    def __init__(self, data: dict | None, *, map_name: str, min_zoom: int,
                 inview: dict | None = None):
        super().__init__()
        self._name = "CanOutlines"
        self.data, self.map_name, self.min_zoom = data, map_name, min_zoom
        self.halo, self.line = _CAN_HALO, _CAN_LINE
        self.inview = inview

    def render(self, **kwargs):
        # compact, and parsed by the browser's JSON parser (hundreds of CANs on a
        # national map are a megabyte of coordinates)
        self.data_json = "" if self.inview else compact_json(self.data)
        super().render(**kwargs)


class KeepOnTop(MacroElement):
    """Keep outline layers above the ward fill: a layer switched back on is drawn last
    (on top) on the canvas, so the outlines are brought to the front again, in order."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var layers = [{{ this.names|join(", ") }}];
            map.on('overlayadd', function () {
                layers.forEach(function (layer) {
                    if (map.hasLayer(layer) && layer.bringToFront) { layer.bringToFront(); }
                });
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, layers):
        super().__init__()
        self._name = "KeepOnTop"
        self.layers = list(layers)

    def render(self, **kwargs):
        self.names = [layer.get_name() for layer in self.layers]
        super().render(**kwargs)


class FitBeside(MacroElement):
    """Fit the map to `bounds` at once (no animation: a canvas drawn mid-animation shows
    part of the area), leaving room on the right for the layer control and the key, so
    no area starts hidden under them (at most a third of the map's width); on a phone,
    where both start folded, the area takes the map's whole width.

    Added before any layer, so Leaflet projects the shapes once, at the zoom they are
    shown at (fitting afterwards projects and clips every vertex twice). The controls do
    not exist yet, so the room they take is their widest (``PANEL_PX``, from the
    ``max-width`` of ``.pr-legend`` and ``.leaflet-control-layers`` in priority.css).
    """

    #: widest the key or the layer control can be: 230 px of content, padding, border and
    #: Leaflet's 10 px control margin
    PANEL_PX = 264

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var box = map.getContainer();
            // on a phone (under 700 px, as the layer control's `collapsed`) the key and
            // the layer box start folded: the area takes the whole width
            var folded = document.documentElement.clientWidth < 700;
            var right = folded ? 12 : Math.min({{ this.PANEL_PX }} + 12, box.clientWidth / 3);
            map.fitBounds({{ this.bounds|tojson }}, {
                paddingTopLeft: [12, 12], paddingBottomRight: [right, 12], animate: false
            });
            {{ this.min_zoom_js }}
        })();
        {% endmacro %}
        """
    )

    def __init__(self, bounds):
        super().__init__()
        self._name = "FitBeside"
        self.bounds = bounds
        self.min_zoom_js = FIT_MIN_ZOOM_JS


# -- styles ---------------------------------------------------------------------------

_WARD_EDGE = {"color": "#505a5f", "weight": 0.6, "opacity": 0.8, "fillOpacity": 0.78}
_NO_DATA_STYLE = {"color": "#505a5f", "weight": 1, "dashArray": "3 3",
                  "fillColor": NO_DATA_COLOUR, "fillOpacity": 0.6}
_HIGHLIGHT = {"color": "#0b0c0c", "weight": 3, "fillOpacity": 0.9}
_BOROUGH_STYLE = {"color": "#0b0c0c", "weight": 2, "opacity": 0.9, "fill": False}
_CAN_HALO = {"color": "#ffffff", "weight": 7, "opacity": 0.9, "fill": False}
_CAN_LINE = {"color": "#0b0c0c", "weight": 3.5, "dashArray": "10 6", "fill": False}
#: an outline and a hatch (the SVG pattern ``#map-hatch`` of static/maplayers.js): the
#: choropleth's classes show between the lines, unmixed
HATCH = "url(#map-hatch)"
_GAP_STYLE = {"color": "#942514", "weight": 2.5, "dashArray": "4 4", "fill": True,
              "fillColor": HATCH, "fillOpacity": 1}
#: the legend's swatch of the coverage gaps: the same pattern and outline
GAP_SWATCH = ('<svg class="pr-hatch" width="24" height="14" aria-hidden="true" '
              'focusable="false"><rect x="1" y="1" width="22" height="12" '
              f'fill="{HATCH}" stroke="#942514" stroke-width="2" stroke-dasharray="4 2"/>'
              '</svg>')
#: below this many CANs every label shows at every zoom
FEW_CANS = 15
CAN_LABEL_ZOOM = 12

def _key(css: str, text: str) -> str:
    """A layer-control name with a symbol in front: the control doubles as the key."""
    if css == "gap":
        return f"{GAP_SWATCH} {html.escape(text)}"
    return f'<span class="pr-key pr-key--{css}" aria-hidden="true"></span> {html.escape(text)}'


def point_legend(kind: str, name: str, per_ward: bool) -> str:
    """A point layer's legend entry; with counts per ward it says (through
    static/maplayers.js) whether the counts or the markers are shown."""
    title = f'<p class="pr-legend__title">{_key(kind, name)}</p>'
    if not per_ward:
        return title
    many = POINT_KINDS[kind]["nouns"][1]
    counts = f"Shown: {many} per ward (circles); zoom in for each one"
    markers = "Shown: each one (a numbered badge: several); zoom out for counts per ward"
    return (f'{title}<p class="pr-legend__note" data-point-mode="{kind}" '
            f'data-counts-text="{html.escape(counts)}" '
            f'data-markers-text="{html.escape(markers)}">{html.escape(markers)}</p>')


def legend_html(classification: Classification, indicator: str, scheme_name: str,
                counted: str = "") -> str:
    """The ward layer's legend as HTML (escaped); `counted` says what an incident
    indicator counts ('burglary, Sep 2024 - Feb 2025, 1,234 incidents')."""
    kind = indicator_kind(indicator)
    entries = classification.legend(lambda v: format_value(v, kind))
    rows = []
    for entry in entries:
        css = "pr-legend__swatch" + (" pr-legend__swatch--nodata" if entry.lower is None
                                     else "")
        rows.append(
            f'<li><span class="{css}" style="background-color:{entry.colour}" '
            f'aria-hidden="true"></span><span>{html.escape(entry.range_text)}'
            f' <span class="pr-legend__count">({entry.count:,})</span></span></li>'
        )
    total = sum(e.count for e in entries)
    unit = indicator_unit(indicator)
    unit_note = f'<p class="pr-legend__note">{html.escape(unit)}</p>' if unit else ""
    if counted and indicator.startswith("incident"):
        unit_note += (f'<p class="pr-legend__note pr-legend__counted">Counted: '
                      f'{html.escape(counted)}</p>')
    return (
        f'<p class="pr-legend__title">{html.escape(indicator_label(indicator))}</p>'
        f"{unit_note}"
        f'<p class="pr-legend__note">Darker = higher. {html.escape(scheme_name)} of the '
        f"{total:,} ward{'s' if total != 1 else ''} shown (wards in brackets).</p>"
        f'<ul class="pr-legend__list">{"".join(rows)}</ul>'
    )


# -- the map --------------------------------------------------------------------------

WARD_FIELDS = ["ward_code", "ward_name", "borough_name"]


def priority_map(
    wards: gpd.GeoDataFrame,
    *,
    indicator: str = DEFAULT_INDICATOR,
    scheme: str = "quantiles",
    classes: int = 5,
    boroughs: gpd.GeoDataFrame | None = None,
    cans: pd.DataFrame | None = None,
    gaps: GapsLayer | None = None,
    points: Sequence[PointLayer] = (),
    tiles: Tiles = "none",
    context_layers: ContextOverlay | None = None,
    simplify_m: float | None = None,
    asset_base_url: str = DEFAULT_BASE_URL,
    scheme_name: str | None = None,
    ward_url: str | None = None,
    heat: HeatLayer | None = None,
    counted: str = "",
    inview_url: str | None = None,
    outline_urls: dict[str, str] | None = None,
) -> folium.Map:
    """A choropleth of the wards' `indicator` with CANs and assets as layers.

    With `ward_url` (e.g. "/ward/"), clicking a ward opens ``ward_url + ward_code``.

    Parameters
    ----------
    wards : the ``ward_summary`` layer (or its rows for one borough) in EPSG:27700
    indicator : the numeric column shading the wards (see :func:`indicators`)
    scheme, classes : the classification (:mod:`mapper.maps.classify`), computed over
        the wards given
    boroughs : borough polygons drawn as outlines (EPSG:27700), or None
    cans : the ``neighbourhoods`` summary (``can_id``, ``name``), naming the CAN
        outlines; the outlines are the union of each CAN's wards (``wards.can_id``)
    gaps : the coverage gaps layer, off until switched on
    points : the point registers, clustered, each off unless ``show``
    tiles : background, a key of :data:`mapper.maps.base.TILE_CHOICES` or LocalTiles
    context_layers : the imported roads, water, rail, buildings and places to draw
        under the data (:mod:`mapper.maps.context`); None: none
    simplify_m : display simplification in metres (None: :func:`display_tolerance`)
    asset_base_url : URL prefix the app serves the vendored files under
    scheme_name : how the legend names the classification (default: the scheme)
    heat : the incidents as a heatmap, off until switched on
    counted : what the incident figures and layers count, said in the legends
    inview_url : the URL of the ward layer's tiles (``{z}/{x}/{y}`` in it, the page's
        query after it): the page embeds no ward shapes, the browser fetches those of
        its view (:mod:`mapper.maps.inview`; the caller applies the size rule,
        :func:`mapper.maps.inview.load_in_view`). The classes and the legend are still
        those of every ward given.
    outline_urls : with `inview_url`, the URLs of the borough and CAN outlines' tiles
        (keys ``boroughs``, ``cans``; ``{z}/{x}/{y}`` in them): the page embeds neither,
        the browser fetches those of its view, simplified for its zoom; and (key
        ``labels``) of the area names (:func:`mapper.maps.base.area_label_sets`), fetched
        when first zoomed in far enough. Without them (or without `inview_url`) they are
        embedded.
    """
    check_layer(wards, "wards", [*WARD_FIELDS, "can_id"])
    urls = (outline_urls or {}) if inview_url is not None else {}
    if boroughs is not None:
        check_layer(boroughs, "boroughs", ["borough_code", "borough_name"])
    check_tiles(tiles)
    if len(wards) == 0:
        raise ValueError("there are no wards to map")
    classification = classify_wards(wards, indicator, scheme, classes)
    tolerance = display_tolerance(wards) if simplify_m is None else simplify_m
    if inview_url is None:
        # 5 decimals (about a metre) is far finer than the simplification
        shapes = display_shapes(wards, tolerance, OVERVIEW_DECIMALS)
        outlined = wards
        outline_shapes: np.ndarray | None = shapes
        minx, miny, maxx, maxy = (float(b) for b in shapely.total_bounds(shapes))
    else:
        # only the CANs' wards, for their outlines (unless they come with the view too);
        # the rest come with the view
        outlined = wards[wards["can_id"].notna()]
        outline_shapes = (None if "cans" in urls
                          else display_shapes(outlined, tolerance, INVIEW_DECIMALS))
        corners = to_display(gpd.GeoSeries(shapely.points(
            [wards.total_bounds[:2], wards.total_bounds[2:]]), crs=wards.crs))
        (minx, miny), (maxx, maxy) = shapely.get_coordinates(corners.values).tolist()
        shapes = None
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=12, tiles=None,
                   prefer_canvas=True, zoom_snap=0.25)
    m.options.update(min_zoom=MIN_ZOOM, max_zoom=AREA_MAX_ZOOM, attribution_control=False)
    MetricScale().add_to(m)
    FitBeside([[miny, minx], [maxy, maxx]]).add_to(m)  # before the layers: see FitBeside
    add_tiles(m, tiles)
    add_context(m, context_layers)  # streets and places under the data, when imported

    ward_layer = _ward_layer(wards, shapes, classification, indicator, inview_url)
    ward_layer.add_to(m)
    if ward_url:
        WardLinks(ward_layer, ward_url).add_to(m)
    on_top = []
    if boroughs is not None and len(boroughs):
        on_top.append(_borough_layer(boroughs, tolerance, inview_url is not None,
                                     urls.get("boroughs")).add_to(m))
    extra_legends = []
    if gaps is not None:
        gap_layer = _gaps_layer(gaps, tolerance).add_to(m)
        extra_legends.append((gap_layer, _key("gap", "Coverage gap (hatched: the "
                                                     "choropleth shows through)")))
    on_top.append(_can_layer(outlined, outline_shapes, cans, m, urls.get("cans")))
    # the layer box names each layer in a few words (a long list there runs into the
    # legend below it); what a layer counts ("burglary, Sep 2024 - Feb 2025, 1,234
    # incidents") is said by its legend entry, shown while the layer is on
    for layer in points:
        name = layer.name or POINT_KINDS[layer.kind]["name"]
        legend_name = f"{name} ({layer.note})" if layer.note else name
        counts_url = layer.counts_url if layer.per_ward and inview_url is not None else None
        counts = (ward_count_rows(wards, layer.kind, layer.counts)
                  if layer.per_ward and counts_url is None else None)
        cluster = LazyPointCluster(layer.kind, rows=layer.rows, url=layer.url, show=layer.show,
                                   prefetch=layer.kind in PREFETCHED_KINDS,
                                   point_class=f"pr-point pr-point--{layer.kind}",
                                   cluster_class=f"pr-cluster pr-cluster--{layer.kind}",
                                   counts=counts, count_class="map-count",
                                   counts_url=counts_url,
                                   # a large map: the markers of the view, not a country's
                                   by_view=inview_url is not None,
                                   name=_key(layer.kind, name)).add_to(m)
        extra_legends.append((cluster, point_legend(layer.kind, legend_name, layer.per_ward)))
    if heat is not None:
        by_ward = inview_url is not None and heat.counts_url is not None
        heat_layer = LazyHeat(url=(heat.counts_url or heat.url) if by_ward else heat.url,
                              by_ward=by_ward,
                              name=_key("heat", "Heatmap of incidents")).add_to(m)
        extra_legends.append((heat_layer, _heat_legend(heat.note, by_ward=by_ward)))
    # open on wide screens (a list to tick, not an icon to discover); on phones it would
    # cover the map, so it starts folded there
    # folium annotates `collapsed` as bool, but renders a JsCode as code (folium >= 0.15)
    narrow = JsCode("document.documentElement.clientWidth < 700")
    folium.LayerControl(position="topright", collapsed=narrow).add_to(m)  # type: ignore[arg-type]
    KeepOnTop(on_top).add_to(m)
    AreaLabels(wards, boroughs, url=urls.get("labels")).add_to(m)
    LayerLegend(ward_layer, legend_html(classification, indicator,
                                        scheme_name or scheme, counted)).add_to(m)
    if extra_legends:
        # the overlays' own box and class: ``.pr-legend`` is the ward legend, one per map
        OverlayLegend(extra_legends).add_to(m)
    AttributionLast().add_to(m)
    return use_local_assets(m, base_url=asset_base_url)


def ward_properties(wards: pd.DataFrame, classification: Classification,
                    indicator: str) -> pd.DataFrame:
    """Each ward's tooltip texts, written for people: ``ward_code``, ``ward_name``,
    ``borough_name``, ``value`` (the mapped indicator), ``shade`` ("3 of 5" or "No
    data"), the key figures (under their :data:`FIGURE_KEYS`) and ``can``."""
    kind = indicator_kind(indicator)
    props = pd.DataFrame({c: wards[c].astype(object).where(wards[c].notna(), "")
                          for c in WARD_FIELDS}, index=wards.index)
    props["value"] = [format_value(v, kind) for v in wards[indicator]]
    k = classification.k
    props["shade"] = classification.classes.map(
        lambda c: "No data" if pd.isna(c) else f"{int(c) + 1} of {k}").to_numpy()
    for column, key in FIGURE_KEYS.items():
        if column in wards:
            kind_c = indicator_kind(column)
            props[key] = [format_value(v, kind_c) for v in wards[column]]
    props["can"] = wards["can_id"].astype(object).where(wards["can_id"].notna(), "none")
    return props


def ward_styles(classification: Classification) -> tuple[list[dict], list[int]]:
    """The ward layer's styles (one per shade, and one for no data) and each ward's
    number in them (the ``_style`` property of its feature)."""
    fills = classification.colours().tolist()
    shades = list(dict.fromkeys(fills))
    styles = [_NO_DATA_STYLE if colour == NO_DATA_COLOUR else {**_WARD_EDGE, "fillColor": colour}
              for colour in shades]
    return styles, [shades.index(colour) for colour in fills]


def ward_feature_properties(wards: pd.DataFrame, classification: Classification,
                            indicator: str) -> pd.DataFrame:
    """:func:`ward_properties` with each ward's style number (see :func:`ward_styles`):
    the properties of the ward layer's features, embedded or fetched for the view."""
    props = ward_properties(wards, classification, indicator).reset_index(drop=True)
    props[FixedStyleGeoJson.STYLE_PROPERTY] = ward_styles(classification)[1]
    return props


def _ward_layer(wards, shapes, classification: Classification, indicator: str,
                inview_url: str | None = None):
    table = ward_feature_properties(wards, classification, indicator)
    fields = list(table.columns)
    aliases = {"ward_code": "Ward code", "ward_name": "Ward", "borough_name": "Borough",
               "value": _short(indicator_label(indicator)), "shade": "Shade on the map",
               "can": "Community Action Neighbourhood",
               **{FIGURE_KEYS[c]: heading for c, heading in KEY_FIGURES.items()}}
    figures = [key for column, key in FIGURE_KEYS.items() if column != indicator]
    tip_fields = [f for f in ["ward_name", "borough_name", "value", "shade", *figures, "can",
                              "ward_code"] if f in fields]
    # one style per shade (and one for no data); each ward names its style by number
    styles, _numbers = ward_styles(classification)
    inview = None
    if inview_url is None:
        collection = feature_collection(table, list(table.columns), shapes, ids=False)
    else:  # one feature without a shape: folium checks the tooltip's fields against it
        collection = feature_collection(table.iloc[:1], list(table.columns), [None],
                                        ids=False)
        inview = {"url": inview_url, "bands": band_options()}

    colours = list(palette(classification.k)) or [NO_DATA_COLOUR]
    gradient = ", ".join(colours * (2 if len(colours) == 1 else 1))
    name = (f'<span class="pr-key pr-key--wards" style="background:linear-gradient(90deg, '
            f'{gradient})" aria-hidden="true"></span> '
            "Wards (shaded: see the key)")
    return FixedStyleGeoJson(
        collection,
        name=name,
        styles=styles,
        highlight=_HIGHLIGHT,
        tooltip=folium.GeoJsonTooltip(fields=tip_fields,
                                      aliases=[aliases[f] for f in tip_fields], sticky=True),
        json_string=True,
        inview=inview,
    )


def _short(label: str) -> str:
    """A label without its bracketed explanation: 'IMD score' from 'IMD score (...)'."""
    return label.split(" (")[0]


def _borough_layer(boroughs: gpd.GeoDataFrame, tolerance: float, large: bool,
                   url: str | None) -> FixedStyleGeoJson:
    """The borough outlines: embedded (simplified as the wards are, or by
    :data:`INVIEW_BOROUGH_M` on a map loading its wards for the view), or with `url`
    fetched for the view, simplified for its zoom (:mod:`mapper.maps.inview`)."""
    fields = ["borough_code", "borough_name"]
    if url is not None:  # one shapeless feature: folium checks the fields against it
        collection = feature_collection(boroughs.iloc[:1], fields, [None], ids=False)
    else:
        collection = feature_collection(
            boroughs, fields,
            display_shapes(boroughs, INVIEW_BOROUGH_M, INVIEW_DECIMALS) if large
            else display_shapes(boroughs, tolerance, OVERVIEW_DECIMALS), ids=False)
    return FixedStyleGeoJson(
        collection,
        name=_key("borough", "Borough boundaries"),
        style=_BOROUGH_STYLE,
        interactive=False,
        json_string=True,
        inview=None if url is None else {"url": url, "bands": band_options(),
                                         "key": "borough_code", "attr": "boroughs"},
    )


def _can_layer(wards, shapes, cans: pd.DataFrame | None, m: folium.Map,
               url: str | None = None) -> folium.FeatureGroup:
    """Thick dashed outlines (over a white halo) of each CAN, labelled with its id; the
    outline of a CAN is the union of its wards' displayed shapes, so it follows their
    edges exactly. With `url` the outlines are fetched for the view (the union of each
    band's ward shapes, :mod:`mapper.maps.inview`), not embedded."""
    ids = wards["can_id"].astype(object).where(wards["can_id"].notna(), None).to_numpy()
    present = sorted({str(i) for i in ids if i not in (None, "")}, key=id_order)
    group = folium.FeatureGroup(
        name=_key("can", f"CANs: Community Action Neighbourhoods ({len(present)})"),
        show=True)
    group.add_to(m)
    if not present:
        return group
    min_zoom = 0 if len(present) <= FEW_CANS else CAN_LABEL_ZOOM
    if url is not None:
        CanOutlines(None, map_name=m.get_name(), min_zoom=min_zoom,
                    inview={"url": url, "bands": band_options(), "key": "can_id",
                            "attr": "cans"}).add_to(group)
        return group
    names = {}
    if cans is not None and len(cans):
        table = cans.reset_index() if "can_id" not in cans.columns else cans
        names = dict(zip(table["can_id"].astype(str), table["name"].astype(str), strict=True))
    outlines = [shapely.union_all(shapes[ids == can_id]) for can_id in present]
    outlines = shapely.transform(np.asarray(outlines, dtype=object),
                                 lambda xy: np.round(xy, DISPLAY_DECIMALS))
    spots = shapely.get_coordinates(shapely.point_on_surface(outlines))
    table = pd.DataFrame({"can_id": present, "name": [names.get(c, "") for c in present],
                          "label_at": [[round(y, DISPLAY_DECIMALS), round(x, DISPLAY_DECIMALS)]
                                       for x, y in spots.tolist()]})
    # the boundary as lines: on a canvas Leaflet hit-tests a polygon's inside even
    # without a fill, which would hide the tooltips of the wards inside
    data = feature_collection(table, list(table.columns), shapely.boundary(outlines),
                               ids=False, escape=False)
    CanOutlines(data, map_name=m.get_name(), min_zoom=min_zoom).add_to(group)
    return group


def gap_collection(gaps: gpd.GeoDataFrame, simplify_m: float,
                   ward_names: pd.Series | None = None) -> dict:
    """Coverage gaps as GeoJSON for the map (WGS84, simplified, 6 decimals)."""
    frame = gaps[~gaps.geometry.is_empty & gaps.geometry.notna()].reset_index(drop=True)
    if len(frame) == 0:
        return geojson.loads(geojson.collection([]))
    table = pd.DataFrame({"ward_code": frame["ward_code"].astype(str)})
    names = {} if ward_names is None else {str(k): str(v) for k, v in ward_names.items()}
    table["ward"] = [names.get(code, code) for code in table["ward_code"]]
    if "uncovered_population" in frame:
        table["residents"] = [format_value(v, "count") for v in frame["uncovered_population"]]
    shapes = display_shapes(frame, simplify_m)
    # the tooltip writes text nodes: no HTML escaping (meant for folium's tooltips)
    return feature_collection(table, list(table.columns), shapes, escape=False)


def _gaps_layer(gaps: GapsLayer, tolerance: float) -> LazyGeoJson:
    radius = f" {gaps.radius_m:,.0f} m" if gaps.radius_m else " the radius"
    data = None
    if gaps.url is None:
        frame = gaps.frame if gaps.frame is not None else gpd.GeoDataFrame(
            {"ward_code": []}, geometry=[], crs="EPSG:27700")
        data = gap_collection(frame, tolerance, gaps.ward_names)
    return LazyGeoJson(
        name=_key("gap", f"Coverage gaps (homes beyond{radius} of any group)"),
        style=_GAP_STYLE,
        tooltip=[("ward", "Coverage gap in"), ("residents", "Residents beyond the radius")],
        data=data, url=gaps.url, show=False, svg=True,
    )
