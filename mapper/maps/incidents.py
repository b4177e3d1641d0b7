"""The incident map: a search point, rings at 250 m / 500 m / 1 km and numbered groups.

Built for a duty officer briefing others: the rings are dashed in different patterns and
labelled in text, so they can be told apart without colour; each listed group is a
marker carrying the same number as its place in the list beside the map. No Flask here.
"""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement
from folium.template import Template

from mapper import geojson
from mapper.geo import CRS_ANALYSIS, to_display
from mapper.maps.assets import DEFAULT_BASE_URL, use_local_assets
from mapper.maps.base import (
    DISPLAY_DECIMALS,
    MAX_ZOOM,
    MIN_ZOOM,
    AreaLabels,
    FitBoundsNow,
    MetricScale,
    Tiles,
    add_tiles,
    check_layer,
    check_tiles,
)
from mapper.maps.context import ContextOverlay, add_context

#: ring radii in metres, innermost first
RING_RADII_M = (250, 500, 1000)
#: each ring's dash pattern (canvas dash array, pixels) and line width: dotted, dashed,
#: long dash-dot, so the rings differ in shape and not only in colour
RING_STYLES: dict[int, dict] = {
    250: {"dash_array": "1 7", "weight": 3.5},
    500: {"dash_array": "10 7", "weight": 2.5},
    1000: {"dash_array": "22 7 3 7", "weight": 2.5},
}
#: each ring's pattern in words, for the map key
RING_PATTERNS = {250: "dotted", 500: "dashed", 1000: "dash-dot"}
RING_COLOUR = "#0b0c0c"
#: extra room around the farthest of the 1 km ring and the listed groups, as a share
VIEW_MARGIN = 0.08
#: ward outlines drawn for orientation when there is no background map
_WARD_STYLE = {"color": "#6f777b", "weight": 1, "fill": False, "opacity": 0.7}

GROUP_FIELDS = ["rank", "name", "distance_m"]


def ring_label(radius_m: float) -> str:
    """``250`` -> ``"250 m"``, ``1000`` -> ``"1 km"``."""
    if radius_m >= 1000 and radius_m % 1000 == 0:
        return f"{int(radius_m // 1000)} km"
    return f"{radius_m:g} m"


def incident_map(
    x: float,
    y: float,
    groups: gpd.GeoDataFrame,
    *,
    point_label: str,
    wards: gpd.GeoDataFrame | None = None,
    tiles: Tiles = "none",
    context_layers: ContextOverlay | None = None,
    asset_base_url: str = DEFAULT_BASE_URL,
) -> folium.Map:
    """A map centred on the point ``(x, y)`` (EPSG:27700 metres) with rings and groups.

    Parameters
    ----------
    x, y : the search point in British National Grid metres
    groups : the listed groups as points in EPSG:27700 with ``rank`` (the number shown on
        the marker and in the list), ``name`` and ``distance_m``
    point_label : what the search point is, for its tooltip ("postcode SW1A 1AA")
    wards : ward polygons in EPSG:27700 drawn as faint outlines for orientation; None
        for none
    tiles : background, a key of :data:`~mapper.maps.base.TILE_CHOICES` or LocalTiles
    context_layers : the imported roads, water, rail, buildings and places to draw
        under the data (:mod:`mapper.maps.context`); None: none
    asset_base_url : URL prefix the app serves the vendored Leaflet files under

    The map is drawn on a canvas and fitted to a square centred on the point that holds
    the 1 km ring and every listed group. Rings and labels are not interactive, so a
    click anywhere but on a group's marker reaches the map.
    """
    _check_point(x, y)
    check_layer(groups, "groups", GROUP_FIELDS)
    check_tiles(tiles)

    half = _view_half_width(x, y, groups)
    # One reprojection for every point the map needs: the search point, the label spot
    # on top of each ring, the four edges of the view, then the groups.
    spots = [(x, y)] + [(x, y + r) for r in RING_RADII_M]
    spots += [(x - half, y), (x + half, y), (x, y - half), (x, y + half)]
    located = groups[~(groups.geometry.isna() | groups.geometry.is_empty)]
    xy = np.array(spots + list(zip(located.geometry.x, located.geometry.y, strict=True)))
    lonlat = _lonlat(xy)
    point = lonlat[0]
    labels = lonlat[1 : 1 + len(RING_RADII_M)]
    edges = lonlat[1 + len(RING_RADII_M) : 5 + len(RING_RADII_M)]
    group_lonlat = lonlat[5 + len(RING_RADII_M) :]

    m = folium.Map(
        location=[point[1], point[0]],
        zoom_start=15,
        tiles=None,
        prefer_canvas=True,
        zoom_snap=0.25,
    )
    m.options.update(min_zoom=MIN_ZOOM, max_zoom=MAX_ZOOM)
    MetricScale().add_to(m)
    add_tiles(m, tiles)
    add_context(m, context_layers)  # streets and places under the data, when imported
    if wards is not None and len(wards):
        _add_wards(m, wards, x, y, half)
    _add_rings(m, point)
    _markers(point, point_label, labels, located, group_lonlat).add_to(m)
    south, north = edges[:, 1].min(), edges[:, 1].max()
    west, east = edges[:, 0].min(), edges[:, 0].max()
    FitBoundsNow([[float(south), float(west)], [float(north), float(east)]]).add_to(m)
    return use_local_assets(m, base_url=asset_base_url)


def _check_point(x: object, y: object) -> None:
    try:
        ok = np.isfinite(float(x)) and np.isfinite(float(y))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"x and y must be finite numbers of metres; got ({x!r}, {y!r})")


def _view_half_width(x: float, y: float, groups: gpd.GeoDataFrame) -> float:
    farthest = float(max(RING_RADII_M))
    geometry = groups.geometry
    geometry = geometry[~(geometry.isna() | geometry.is_empty)]
    if len(geometry):
        dx = np.abs(geometry.x.to_numpy() - x)
        dy = np.abs(geometry.y.to_numpy() - y)
        farthest = max(farthest, float(np.max(np.maximum(dx, dy))))
    return farthest * (1 + VIEW_MARGIN)


def _lonlat(xy: np.ndarray) -> np.ndarray:
    """Longitude/latitude of EPSG:27700 points, rounded to ~0.1 m."""
    points = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS_ANALYSIS)
    shown = to_display(points)
    return np.round(np.column_stack([shown.x.to_numpy(), shown.y.to_numpy()]), DISPLAY_DECIMALS)


def _add_wards(m: folium.Map, wards: gpd.GeoDataFrame, x: float, y: float, half: float) -> None:
    near = wards.iloc[
        wards.sindex.query(shapely.box(x - 2 * half, y - 2 * half, x + 2 * half, y + 2 * half))
    ]
    if not len(near):
        return
    shapes = gpd.GeoDataFrame(
        geometry=to_display(near.geometry.simplify(5.0, preserve_topology=True)).array)
    folium.GeoJson(
        geojson.loads(geojson.feature_collection(shapes, decimals=DISPLAY_DECIMALS)),
        name="Ward boundaries",
        style_function=lambda _feature: _WARD_STYLE,
        interactive=False,
    ).add_to(m)
    if "ward_name" in near:
        AreaLabels(near).add_to(m)


def _add_rings(m: folium.Map, point: np.ndarray) -> None:
    for radius in RING_RADII_M:
        ring = folium.Circle(
            location=[point[1], point[0]],
            radius=radius,
            color=RING_COLOUR,
            fill=False,
            opacity=0.9,
            **RING_STYLES[radius],
        )
        # clicks inside a ring must reach the map (to move the search point)
        ring.options["interactive"] = False
        ring.add_to(m)


class IncidentMarkers(MacroElement):
    """The ring labels, the search point and the numbered groups, as Leaflet DivIcon markers.

    Drawn from one JSON array rather than a folium Marker each: a tenth of the time to
    render for 50 groups, no default marker image fetched, and every name is put into the
    page as text (``textContent``), never parsed as HTML. Group markers carry their
    number in ``options.rank``, which static/incident.js reads.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            function icon(className, size, text) {
                var inner = document.createElement("span");
                inner.className = className;
                inner.textContent = text;
                return L.divIcon({
                    html: inner, className: className + "-icon",
                    iconSize: size, iconAnchor: [size[0] / 2, size[1] / 2]
                });
            }
            function tip(text) {
                return function () {
                    var box = document.createElement("div");
                    box.textContent = text;
                    return box;
                };
            }
            {{ this.labels|tojson }}.forEach(function (label) {
                L.marker([label.lat, label.lon], {
                    icon: icon("inc-ring-label", [64, 22], label.text),
                    interactive: false, keyboard: false
                }).addTo(map);
            });
            var point = {{ this.point|tojson }};
            L.marker([point.lat, point.lon], {
                icon: icon("inc-point", [44, 44], ""),
                title: point.title, alt: point.title, keyboard: false,
                zIndexOffset: -1000  // under a group's number at the same spot
            }).bindTooltip(tip(point.title), {direction: "top", offset: [0, -20]}).addTo(map);
            {{ this.groups|tojson }}.forEach(function (group) {
                L.marker([group.lat, group.lon], {
                    icon: icon("inc-num", [30, 30], String(group.rank)),
                    title: group.title, alt: group.title, rank: group.rank,
                    // nearer groups (lower numbers) on top where markers overlap
                    zIndexOffset: -group.rank
                }).bindTooltip(tip(group.title), {direction: "top", offset: [0, -14]}).addTo(map);
            });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, labels: list[dict], point: dict, groups: list[dict]):
        super().__init__()
        self._name = "IncidentMarkers"
        self.labels, self.point, self.groups = labels, point, groups


def _markers(point, point_label, label_spots, groups, group_lonlat) -> IncidentMarkers:
    labels = [
        {"lat": float(spot[1]), "lon": float(spot[0]), "text": ring_label(radius)}
        for radius, spot in zip(RING_RADII_M, label_spots, strict=True)
    ]
    where = {
        "lat": float(point[1]),
        "lon": float(point[0]),
        "title": f"Search point: {point_label}",
    }
    shown = []
    for (rank, name, distance), spot in zip(
        groups[["rank", "name", "distance_m"]].itertuples(index=False, name=None),
        group_lonlat,
        strict=True,
    ):
        shown.append(
            {
                "lat": float(spot[1]),
                "lon": float(spot[0]),
                "rank": int(rank),
                "title": f"{int(rank)}. {name}, {round(float(distance)):,} m",
            }
        )
    return IncidentMarkers(labels, where, shown)
