"""A register's points as clustered markers, filled the first time the layer is shown.

The overview and the priority map both draw registers (VCS groups, premises, incidents)
this way. Rows are compact lists ``[lat, lon, label, detail]`` (see
:func:`point_rows`), embedded in the page or fetched from a URL:

* fetched rows are asked for when the layer is first switched on, or, with ``prefetch``,
  in the background while the page loads (a versioned URL the browser keeps; a fetch
  does not delay the page's ``load``), so the layer shows as soon as it is switched on;
  a failed fetch is tried again at the next switch-on;
* markers are small CSS symbols (classes given by the caller, so colour need not be the
  only clue), clustered into numbered circles;
* a marker gets its tooltip when the pointer first reaches it (or it is tapped), built
  from text nodes so no name can become markup: thousands of tooltips and their event
  handlers are not made before the first marker shows.

The map's ``pointLayers[kind]`` is the cluster layer (for tests and other scripts); its
``filled`` is true, and it fires ``filled``, once every row is in it.

Counts per ward when zoomed out
-------------------------------
Given ``counts`` (rows ``[lat, lon, ward name, count]`` from :func:`ward_count_rows`),
the layer in the layer control holds, below :data:`COUNTS_ZOOM`, one circle per ward
(sized by its count, numbered when there is room, with a tooltip "Whitechapel: 12
groups") instead of the markers: a whole city shows one figure per ward, not hundreds of
badges. From :data:`COUNTS_ZOOM` in it holds the clustered markers. The switch is made in
the browser on every ``zoomend`` by ``static/maplayers.js`` (``MapLayers.pointSwitch``);
a page without that script (a map saved as a file) keeps the markers at every zoom. The
map's ``pointSwitches[kind]`` says what is shown (``mode``: "counts" or "markers").
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from folium.plugins import MarkerCluster
from folium.template import Template
from folium.utilities import JsCode

from mapper import missing
from mapper.analysis.assets import ward_counts
from mapper.geo import to_display
from mapper.maps.base import DISPLAY_DECIMALS
from mapper.personal_text import CORRESPONDENCE_NOTE, is_correspondence

#: the cluster layer's options: markers added in chunks (the page stays responsive)
#: zoomed out (below :data:`CLOSE_ZOOM`), clusters gather points from three times as far,
#: so a whole city shows a few dozen counts, not hundreds of badges; closer in, 50 px
CLOSE_ZOOM = 13
CLUSTER_OPTIONS = {"chunkedLoading": True, "showCoverageOnHover": False,
                   "maxClusterRadius": JsCode(
                       f"function (zoom) {{ return zoom < {CLOSE_ZOOM} ? 150 : 50; }}")}

#: below this zoom a point layer given counts per ward shows them instead of its markers:
#: at 13 a typical English ward (2-3 km across) is still only 100-150 px wide, so a
#: count says more than its markers; at 14 (a ward fills much of a phone's screen) the
#: markers show. A whole city (London opens at 10-11) and a borough (the demo opens at
#: 13) both open on the counts.
COUNTS_ZOOM = 14

#: registers whose rows are fetched while the page loads, before their layer is
#: switched on (small: a few thousand rows); the others wait until they are asked for
PREFETCHED_KINDS = ("groups",)
#: per register: the JS/CSS name of its symbol, its name in the layer control, the
#: columns written in its tooltip (label, detail)
#: columns written in its tooltip (label, detail), the words of its counts (one, many)
POINT_KINDS: dict[str, dict] = {
    "groups": {"name": "VCS groups", "columns": ("name", "category"),
               "nouns": ("group", "groups")},
    "premises": {"name": "Community premises", "columns": ("name", "type"),
                 "nouns": ("premises", "premises")},
    "incidents": {"name": "Incidents", "columns": ("type", "month"),
                  "nouns": ("incident", "incidents")},
}


def ward_count_rows(wards: gpd.GeoDataFrame, kind: str,
                    counts: pd.Series | None = None) -> list[list]:
    """One row ``[lat, lon, ward name, count]`` per ward with at least one record of
    `kind` (the analysis's counts, :func:`mapper.analysis.assets.ward_counts`; `counts`
    by ``ward_code`` overrides them, e.g. a filter's incidents), at the ward's label
    point: its centroid when inside the ward, else a point on its surface (WGS84,
    :data:`DISPLAY_DECIMALS` decimals). Names are plain text (the page writes them as
    text nodes)."""
    if kind not in POINT_KINDS:
        raise ValueError(f"unknown point layer {kind!r}; choose one of {', '.join(POINT_KINDS)}")
    figures = ward_counts(wards, kind, counts).to_numpy()
    keep = (figures > 0) & wards.geometry.notna().to_numpy() & ~wards.geometry.is_empty.to_numpy()
    if not keep.any():
        return []
    frame = wards[keep]
    geometry = frame.geometry
    centroids = geometry.centroid
    spots = to_display(gpd.GeoSeries(
        centroids.where(centroids.within(geometry), geometry.representative_point()),
        crs=frame.crs))
    lat = np.round(spots.y.to_numpy(), DISPLAY_DECIMALS)
    lon = np.round(spots.x.to_numpy(), DISPLAY_DECIMALS)
    names = _text(frame, "ward_name")
    return [[float(a), float(o), n, int(c)]
            for a, o, n, c in zip(lat, lon, names, figures[keep], strict=True)]


def point_rows(points: gpd.GeoDataFrame, kind: str) -> list[list]:
    """Compact rows ``[lat, lon, label, detail]`` of a register for the map (WGS84,
    6 decimals), north to south. Likely duplicates (``duplicate_of`` set) are left out,
    as in the analysis; no personal data is ever included.

    In that order each marker the clustering adds finds its neighbours already placed
    and joins a cluster sooner (at a closer zoom) than in file order: about a tenth less
    clustering time for thousands of groups."""
    if kind not in POINT_KINDS:
        raise ValueError(f"unknown point layer {kind!r}; choose one of {', '.join(POINT_KINDS)}")
    if points is None or len(points) == 0:
        return []
    frame = points
    if "duplicate_of" in frame:
        frame = frame[frame["duplicate_of"].isna() | (frame["duplicate_of"] == "")]
    frame = frame[~frame.geometry.is_empty & frame.geometry.notna()]
    if len(frame) == 0:
        return []
    shown = to_display(frame.geometry)
    lat = np.round(shown.y.to_numpy(), DISPLAY_DECIMALS)
    lon = np.round(shown.x.to_numpy(), DISPLAY_DECIMALS)
    label_col, detail_col = POINT_KINDS[kind]["columns"]
    labels = _text(frame, label_col)
    details = _text(frame, detail_col)
    if "location_source" in frame:  # say where a charity placed at its letters address is
        details = [f"{d} · {CORRESPONDENCE_NOTE}" if is_correspondence(s) else d
                   for d, s in zip(details, frame["location_source"].tolist(), strict=True)]
    order = np.lexsort((lon, -lat))  # north to south, then west to east
    return [[float(lat[i]), float(lon[i]), labels[i], details[i]] for i in order.tolist()]


def _text(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame:
        return [""] * len(frame)
    return [missing.shown(v, "") for v in frame[column].tolist()]


class LazyPointCluster(MarkerCluster):
    """Clustered markers of one register, from embedded `rows` or a `url`.

    Parameters
    ----------
    kind : the register ("groups", "premises", "incidents"): the key in ``pointLayers``
    rows, url : the rows, or where to fetch ``{"rows": [...]}`` from (exactly one)
    name : the layer's label in the layer control (HTML: escape any text in it)
    point_class, cluster_class : CSS classes of a marker and of a numbered cluster
    show : shown (and so filled) from the start
    prefetch : fetch `url` as the page loads, before the layer is switched on
    counts : rows of :func:`ward_count_rows`, shown instead of the markers below
        `close_zoom` (default :data:`COUNTS_ZOOM`; None: markers at every zoom)
    count_class : CSS class of a ward's count (its number)
    counts_url : instead of `counts`, where to fetch ``{"rows": counts}`` from the first
        time they show (a map of England's 7,000 wards does not embed them)
    by_view : (a large map) fetch `url` with ``bbox=`` the view and half a view round it,
        again when the map moves beyond that: never a whole country's rows
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        // the layer in the layer control: the clusters, or (zoomed out) counts per ward
        var {{ this.get_name() }} = L.layerGroup();
        (function (holder, group, map) {
            var kind = {{ this.kind|tojson }};
            map.pointLayers = map.pointLayers || {};
            map.pointLayers[kind] = group;
            {%- if this.counts is not none or this.counts_url %}
            if (window.MapLayers) {
                MapLayers.pointSwitch(map, holder, group, {
                    {%- if this.counts_url %}
                    kind: kind, countsUrl: {{ this.counts_url|tojson }},
                    {%- else %}
                    kind: kind, counts: {{ this.counts|tojson }},
                    {%- endif %}
                    nouns: {{ this.nouns|tojson }}, closeZoom: {{ this.close_zoom }},
                    countClass: {{ this.count_class|tojson }}
                });
            } else {
                holder.addLayer(group);
            }
            {%- else %}
            holder.addLayer(group);
            {%- endif %}
            group.options.iconCreateFunction = function (cluster) {
                var n = cluster.getChildCount();
                return L.divIcon({
                    html: '<span>' + n + '</span>',
                    className: {{ this.cluster_class|tojson }},
                    iconSize: L.point(n < 100 ? 30 : 38, n < 100 ? 30 : 38)
                });
            };
            var icon = L.divIcon({className: {{ this.point_class|tojson }},
                                  iconSize: L.point(14, 14)});
            function tip(row) {
                var box = document.createElement('div');
                var name = document.createElement('strong');
                name.textContent = row[2] || '(no name)';
                box.appendChild(name);
                if (row[3]) {
                    box.appendChild(document.createElement('br'));
                    box.appendChild(document.createTextNode(row[3]));
                }
                return box;
            }
            // a marker's tooltip is made when first needed (clusters have no row)
            group.on('mouseover click', function (e) {
                var marker = e.layer;
                if (marker && marker.row && !marker.getTooltip()) {
                    marker.bindTooltip(tip(marker.row)).openTooltip();
                }
            });
            var rows = null;
            var fetched = null;  // (by_view) the box the rows held cover
            function fetchRows() {
                if (!rows) {
                    {%- if this.url %}
                    // a long layer comes in pages: each names the next (``next``)
                    var page = function (url, got) {
                        return fetch(url, {headers: {'Accept': 'application/json'}})
                            .then(function (r) {
                                if (!r.ok) { throw new Error('HTTP ' + r.status); }
                                return r.json();
                            })
                            .then(function (data) {
                                got = got.concat(data.rows);
                                return data.next ? page(data.next, got) : got;
                            });
                    };
                    {%- if this.by_view %}
                    // a large map: only the rows in the view and half a view round it
                    // (edges rounded outwards, so nearby views share one answer)
                    var b = map.getBounds().pad(0.5), r = function (v, up) {
                        return (up ? Math.ceil(v * 500) : Math.floor(v * 500)) / 500;
                    };
                    fetched = L.latLngBounds([r(b.getSouth()), r(b.getWest())],
                                             [r(b.getNorth(), true), r(b.getEast(), true)]);
                    var url = {{ this.url|tojson }};
                    url += (url.indexOf('?') < 0 ? '?' : '&') + 'bbox=' + [
                        fetched.getWest(), fetched.getSouth(), fetched.getEast(),
                        fetched.getNorth()].join(',');
                    rows = page(url, []);
                    {%- else %}
                    rows = page({{ this.url|tojson }}, []);
                    {%- endif %}
                    rows.catch(function () { rows = null; });  // the next call tries again
                    {%- else %}
                    rows = Promise.resolve({{ this.rows|tojson }});
                    {%- endif %}
                }
                return rows;
            }
            {%- if this.prefetch and this.url %}
            fetchRows();  // in the background: a fetch does not hold up the page's load
            {%- endif %}
            // every row is in the layer (its clusters drawn in the same task): ``filled``
            // and a 'filled' event, for scripts and tests waiting for the layer
            var adding = null;  // how many rows fill() is adding
            group.options.chunkProgress = function (done, total) {
                if (adding !== null && done === total && total === adding) {
                    adding = null;
                    group.filled = true;
                    group.fire('filled');
                }
            };
            var state = 'idle';
            function fill() {
                if (state !== 'idle') { return; }
                state = 'loading';
                fetchRows()
                    .then(function (list) {
                        adding = list.length;
                        group.addLayers(list.map(function (row) {
                            var marker = L.marker([row[0], row[1]],
                                                  {icon: icon, keyboard: false});
                            marker.row = row;
                            return marker;
                        }));
                        state = 'done';
                    })
                    .catch(function (err) {
                        state = 'idle';
                        console.warn('could not load ' + kind + ': ' + err.message);
                    });
            }
            group.on('add', fill);  // (a layer shown from the start is added below)
            {%- if this.by_view %}
            // moved beyond the rows held: the new view's rows replace them
            map.on('moveend', function () {
                if (state !== 'done' || !map.hasLayer(group) || !fetched ||
                        fetched.contains(map.getBounds())) { return; }
                rows = null;
                group.filled = false;
                group.clearLayers();
                state = 'idle';
                fill();
            });
            {%- endif %}
        })({{ this.get_name() }}, L.markerClusterGroup({{ this.options|tojavascript }}),
           {{ this._parent.get_name() }});
        {% endmacro %}
        """
    )
    #: only the clusters' layout: their look is the caller's CSS (MarkerCluster.Default.css
    #: not needed)
    default_css = [(name, url) for name, url in MarkerCluster.default_css
                   if name == "markerclustercss"]

    def __init__(self, kind: str, *, name: str, rows: list | None = None,
                 url: str | None = None, point_class: str, cluster_class: str,
                 show: bool = False, prefetch: bool = False, counts: list | None = None,
                 count_class: str = "map-count", close_zoom: int = COUNTS_ZOOM,
                 counts_url: str | None = None, by_view: bool = False):
        if (rows is None) == (url is None):
            raise ValueError(f"{kind}: give either rows or url")
        super().__init__(name=name, show=show, overlay=True, control=True,
                         options=dict(CLUSTER_OPTIONS))
        self._name = "PointCluster"
        self.kind = kind
        self.rows = rows
        self.url = url
        self.point_class = point_class
        self.cluster_class = cluster_class
        self.prefetch = prefetch
        self.counts = counts
        self.counts_url = counts_url
        self.count_class = count_class
        self.close_zoom = close_zoom
        self.by_view = by_view and url is not None
        self.nouns = list(POINT_KINDS[kind]["nouns"]) if kind in POINT_KINDS else ["", ""]
