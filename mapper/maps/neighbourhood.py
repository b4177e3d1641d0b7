"""The neighbourhood page's figures: a map of an area's assets and two inline SVG charts.

No Flask here. :func:`asset_map` takes frames in EPSG:27700 and reprojects only through
:func:`mapper.geo.to_display`; its scripts and styles are served locally (MarkerCluster
included). :func:`domain_chart` and :func:`trend_chart` return self-contained ``<svg>``
markup with every value written as text, so no chart carries meaning by colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.plugins import MarkerCluster
from folium.template import Template

from mapper.analysis.verification import VERIFICATION_MONTHS
from mapper.geo import to_display
from mapper.maps.assets import DEFAULT_BASE_URL, use_local_assets
from mapper.maps.base import (
    DISPLAY_DECIMALS,
    MAX_ZOOM,
    MIN_ZOOM,
    SIMPLIFY_M,
    AreaLabels,
    FitBoundsNow,
    MetricScale,
    Tiles,
    add_tiles,
    check_layer,
    check_tiles,
    display_shapes,
    feature_collection,
)
from mapper.maps.context import ContextOverlay, add_context
from mapper.missing import is_missing
from mapper.personal_text import CORRESPONDENCE_NOTE, is_correspondence

#: columns :func:`asset_map` needs in its ``assets`` frame
ASSET_FIELDS = ["asset_id", "kind", "name", "category", "emergency_offer", "last_verified"]
#: the two kinds of asset and how their markers look (shape and letter, not only colour)
KIND_LABELS = {"group": "VCS group", "premises": "Premises"}
KIND_LETTERS = {"group": "G", "premises": "P"}
#: name of the global JavaScript object through which static/neighbourhood.js finds the map
JS_REGISTRY = "neighbourhoodAssetMap"

_AREA_STYLE = {"color": "#0b0c0c", "weight": 3, "fillColor": "#5694ca", "fillOpacity": 0.08}
_WARD_STYLE = {"color": "#1d70b8", "weight": 1.5, "dashArray": "6 4", "fill": False}
_CONTEXT_STYLE = {"color": "#8a8f93", "weight": 1, "fillColor": "#d8dadb", "fillOpacity": 0.35}
_GAP_STYLE = {
    "color": "#b34700",
    "weight": 1,
    "dashArray": "3 3",
    "fillColor": "#f47738",
    "fillOpacity": 0.3,
}
_MARKER_PX = 26


class AssetRegistry(MacroElement):
    """Expose the map and its marker cluster to the page's own script (filtering)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.{{ this.registry }} = {
            map: {{ this._parent.get_name() }},
            layer: {{ this.cluster.get_name() }},
            bounds: {{ this.bounds|tojson }}
        };
        {% endmacro %}
        """
    )

    def __init__(self, cluster: MarkerCluster, bounds, registry: str = JS_REGISTRY):
        super().__init__()
        self.bounds = bounds
        self._name = "AssetRegistry"
        self.cluster = cluster
        self.registry = registry


def asset_map(
    area: gpd.GeoDataFrame,
    assets: gpd.GeoDataFrame,
    *,
    wards: gpd.GeoDataFrame | None = None,
    context: gpd.GeoDataFrame | None = None,
    gaps: gpd.GeoDataFrame | None = None,
    gap_label: str = "Homes beyond walking distance of any group",
    tiles: Tiles = "none",
    context_layers: ContextOverlay | None = None,
    asset_base_url: str = DEFAULT_BASE_URL,
) -> folium.Map:
    """A map of an area's outline and its groups and premises, clustered.

    Parameters
    ----------
    area : the area's outline (one or more polygons) in EPSG:27700 with ``ward_code``,
        ``ward_name``, ``borough_name`` (for a neighbourhood: its dissolved shape, any
        values)
    assets : points in EPSG:27700 with :data:`ASSET_FIELDS` (``kind`` "group" or
        "premises"); optional ``stale`` (bool), ``capacity``, ``step_free``
    wards : the area's wards, drawn as dashed outlines with a tooltip (neighbourhoods)
    context : neighbouring wards, drawn in grey for orientation
    gaps : coverage-gap polygons inside the area, drawn shaded
    gap_label : what the gap shading means, for its tooltip
    tiles : background, a key of :data:`TILE_CHOICES` or LocalTiles; "none" works offline
    context_layers : the imported roads, water, rail, buildings and places to draw
        under the data (:mod:`mapper.maps.context`); None: none
    asset_base_url : URL prefix the app serves the vendored Leaflet files under

    Every marker carries ``<kind>:<asset_id>`` as the Leaflet option ``assetId``; the map,
    its MarkerCluster and the area's bounds are published as
    ``window.neighbourhoodAssetMap`` (``map``, ``layer``, ``bounds``) so the page's script
    can filter markers together with the table and refit the map for printing.
    """
    check_layer(area, "area", ["ward_code", "ward_name", "borough_name"])
    check_layer(assets, "assets", ASSET_FIELDS)
    check_tiles(tiles)
    if len(area) == 0:
        raise ValueError("the area has no shape to map")
    bad_kinds = sorted(set(assets["kind"]) - set(KIND_LABELS))
    if bad_kinds:
        raise ValueError(f"asset kind must be one of {', '.join(KIND_LABELS)}; got {bad_kinds}")

    area_shapes = display_shapes(area, SIMPLIFY_M)
    minx, miny, maxx, maxy = (float(b) for b in shapely.total_bounds(area_shapes))
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=14,
        tiles=None,
        prefer_canvas=True,
        zoom_snap=0.25,
    )
    m.options.update(min_zoom=MIN_ZOOM, max_zoom=MAX_ZOOM)
    MetricScale().add_to(m)
    add_tiles(m, tiles)
    add_context(m, context_layers)  # streets and places under the data, when imported
    _add_polygons(m, context, "Neighbouring wards", _CONTEXT_STYLE, tooltip=True)
    _add_polygons(m, gaps, "Coverage gaps", _GAP_STYLE, tooltip=False, label=gap_label)
    folium.GeoJson(
        feature_collection(area, ["ward_name"], area_shapes),
        name="Area boundary",
        style_function=lambda _feature: _AREA_STYLE,
        interactive=False,
    ).add_to(m)
    _add_polygons(m, wards, "Wards of the area", _WARD_STYLE, tooltip=True)

    cluster = MarkerCluster(
        name="Groups and premises",
        show_coverage_on_hover=False,
        max_cluster_radius=40,
        disable_clustering_at_zoom=17,
    )
    cluster.add_to(m)
    for marker in asset_markers(assets):
        marker.add_to(cluster)
    bounds = [[miny, minx], [maxy, maxx]]
    AssetRegistry(cluster, bounds).add_to(m)
    # a ward's page has no `wards`: its outline is the ward itself
    named = [f for f in (area if wards is None else wards, context)
             if f is not None and len(f)]
    if named:
        AreaLabels(pd.concat(named) if len(named) > 1 else named[0]).add_to(m)
    FitBoundsNow(bounds).add_to(m)
    return use_local_assets(m, base_url=asset_base_url)


def _add_polygons(m, frame, name, style, *, tooltip: bool, label: str = "") -> None:
    if frame is None or len(frame) == 0:
        return
    fields = ["ward_name", "ward_code"] if tooltip else ["ward_code"]
    check_layer(frame, name, fields)
    shapes = display_shapes(frame, SIMPLIFY_M)
    layer = folium.GeoJson(
        feature_collection(frame, fields, shapes),
        name=name,
        style_function=lambda _feature: style,
        interactive=tooltip or bool(label),
    )
    if tooltip:
        folium.GeoJsonTooltip(fields=fields, aliases=["Ward", "Code"], sticky=True).add_to(layer)
    elif label:
        folium.Tooltip(_js_safe(label), sticky=True).add_to(layer)
    layer.add_to(m)


def asset_markers(assets: gpd.GeoDataFrame) -> list[folium.Marker]:
    """One keyboard-focusable marker per asset: a circle "G" for groups, a square "P" for
    premises, titled with the asset's name, with a popup of its details."""
    if len(assets) == 0:
        return []
    points = shapely.transform(
        to_display(assets.geometry).values, lambda xy: np.round(xy, DISPLAY_DECIMALS)
    )
    markers = []
    for row, point in zip(assets.to_dict("records"), points, strict=True):
        if point is None or point.is_empty:
            continue
        kind = row["kind"]
        markers.append(
            folium.Marker(
                location=[point.y, point.x],
                icon=folium.DivIcon(
                    html=(
                        f'<span class="asset-pin asset-pin--{kind}">'
                        f'<span aria-hidden="true">{KIND_LETTERS[kind]}</span></span>'
                    ),
                    icon_size=(_MARKER_PX, _MARKER_PX),
                    icon_anchor=(_MARKER_PX // 2, _MARKER_PX // 2),
                    popup_anchor=(0, -_MARKER_PX // 2),
                    class_name="asset-icon",
                ),
                popup=folium.Popup(popup_html(row), max_width=300),
                title=f"{KIND_LABELS[kind]}: {_text(row['name'])}",
                asset_id=f"{kind}:{row['asset_id']}",
            )
        )
    return markers


def popup_html(row: dict) -> str:
    """The popup of one asset: name, kind and category, offer, last verified (escaped)."""
    kind = row["kind"]
    lines = [
        f'<p class="asset-popup__name"><strong>{_js_safe(row["name"])}</strong></p>',
        f"<p>{KIND_LABELS[kind]} · {_js_safe(row['category']) or 'uncategorised'}</p>",
    ]
    offer = _text(row.get("emergency_offer"))
    if offer:
        lines.append(f"<p>Emergency offer: {_js_safe(offer)}</p>")
        origin = _text(row.get("offer_source"))
        if origin:
            lines.append(f"<p>{_js_safe(origin)}</p>")
    if kind == "premises":
        extra = []
        capacity = _text(row.get("capacity"))
        if capacity:
            extra.append(f"capacity {_js_safe(capacity)}")
        step_free = row.get("step_free")
        if isinstance(step_free, bool | np.bool_):
            extra.append("step-free access" if step_free else "not step-free")
        if extra:
            lines.append(f"<p>{'; '.join(extra).capitalize()}</p>")
    if is_correspondence(row.get("location_source")):
        lines.append(f"<p>{CORRESPONDENCE_NOTE.capitalize()}</p>")
    verified = _text(row.get("last_verified")) or "never"
    ago = f"over {VERIFICATION_MONTHS} months ago, " if _text(row.get("last_verified")) else ""
    stale = f" — {ago}check before relying on it" if row.get("stale") else ""
    lines.append(f"<p>Last verified: {_js_safe(verified)}{stale}</p>")
    return f'<div class="asset-popup">{"".join(lines)}</div>'


def _text(value) -> str:
    """`value` as stripped text; '' for a missing value (mapper.missing)."""
    return "" if is_missing(value) else str(value).strip()


def _js_safe(value) -> str:
    """HTML-escaped text that is also safe inside folium's JavaScript template literals
    (popups are written as `...`, where a backslash, backtick or ${ would be code)."""
    text = _text(value)
    text = (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )
    return text.replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")


# -- charts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One bar of a chart: its series label, value and the value written out."""

    label: str
    value: float | None
    text: str
    series: int  # 0 = the area, 1.. = comparators (styles, not meaning)


def domain_chart(groups: Sequence[tuple[str, Sequence[Bar]]], *, title: str) -> str:
    """Horizontal bars comparing an area with its comparators, one block per domain.

    Parameters
    ----------
    groups : (domain label, bars) per domain; each domain has its own scale from 0 (or
        its most negative value) to its largest value, as domain scores are in
        different units
    title : the chart's accessible name

    Every bar is labelled with its series and its value, so the chart reads without colour.
    """
    label_w, bar_w, value_w = 150, 300, 70
    width = label_w + bar_w + value_w
    row_h, head_h, gap = 19, 22, 10
    parts, y = [], 0
    for domain, bars in groups:
        y += head_h
        parts.append(f'<text class="chart__heading" x="0" y="{y - 6}">{_esc(domain)}</text>')
        values = [b.value for b in bars if _finite(b.value)]
        low = min([0.0, *values])
        high = max([0.0, *values])
        span = (high - low) or 1.0
        zero_x = label_w + bar_w * (0 - low) / span
        top = y
        for bar in bars:
            parts.append(
                f'<text class="chart__label" x="{label_w - 8}" y="{y + 13}" '
                f'text-anchor="end">{_esc(_clip(bar.label, 22))}</text>'
            )
            if _finite(bar.value):
                x_end = label_w + bar_w * (bar.value - low) / span
                x, w = min(zero_x, x_end), max(abs(x_end - zero_x), 1.5)
                parts.append(
                    f'<rect class="chart__bar chart__bar--s{min(bar.series, 2)}" x="{x:.1f}" '
                    f'y="{y + 3}" width="{w:.1f}" height="{row_h - 6}">'
                    f"<title>{_esc(bar.label)}: {_esc(bar.text)}</title></rect>"
                )
                text_x = max(x_end, zero_x) + 5
            else:
                text_x = zero_x + 5
            parts.append(
                f'<text class="chart__value" x="{text_x:.1f}" y="{y + 13}">{_esc(bar.text)}</text>'
            )
            y += row_h
        parts.append(
            f'<line class="chart__zero" x1="{zero_x:.1f}" x2="{zero_x:.1f}" y1="{top}" y2="{y}"/>'
        )
        y += gap
    return _svg(width, y, title, "".join(parts), "chart chart--domains")


def trend_chart(
    months: Sequence[str],
    counts: Sequence[int],
    *,
    recent: int,
    baseline_months: Sequence[str],
    baseline_mean: float | None,
    title: str,
) -> str:
    """Monthly incident counts as columns, every count written above its column; the last
    `recent` months drawn dark (and named in the key), the baseline's monthly average as
    a dashed line over the baseline months."""
    if len(months) != len(counts):
        raise ValueError(f"{len(months)} months but {len(counts)} counts")
    left, right, top, bottom = 48, 12, 44, 44
    step = 34 if len(months) <= 24 else max(840 / len(months), 6)
    plot_w, plot_h = max(step * len(months), 300), 200
    width, height = left + plot_w + right, top + plot_h + bottom
    if not months:
        body = f'<text class="chart__label" x="{left}" y="{top + 20}">No dated incidents.</text>'
        return _svg(width, height, title, body, "chart chart--trend")
    ticks = _ticks(max(max(counts), baseline_mean or 0, 1))
    y_max = ticks[-1]

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / y_max

    parts = [_trend_key(recent, baseline_months, baseline_mean, left)]
    for tick in ticks:
        parts.append(
            f'<line class="chart__grid" x1="{left}" x2="{left + plot_w}" '
            f'y1="{y_of(tick):.1f}" y2="{y_of(tick):.1f}"/>'
            f'<text class="chart__axis" x="{left - 6}" y="{y_of(tick) + 4:.1f}" '
            f'text-anchor="end">{tick:,}</text>'
        )
    first_recent = len(months) - recent if recent else len(months)
    every = 1 if len(months) <= 24 else 3
    for i, (month, count) in enumerate(zip(months, counts, strict=True)):
        x = left + i * step
        kind = "recent" if i >= first_recent else "past"
        parts.append(
            f'<rect class="chart__col chart__col--{kind}" x="{x + step * 0.14:.1f}" '
            f'y="{y_of(count):.1f}" width="{step * 0.72:.1f}" height="{y_of(0) - y_of(count):.1f}">'
            f"<title>{_esc(month)}: {count:,} incident{'' if count == 1 else 's'}</title></rect>"
        )
        if len(months) <= 36:
            parts.append(
                f'<text class="chart__count chart__count--{kind}" x="{x + step / 2:.1f}" '
                f'y="{y_of(count) - 4:.1f}" text-anchor="middle">{count:,}</text>'
            )
        if i % every == 0 or i == len(months) - 1:
            parts.append(_month_label(month, x + step / 2, top + plot_h, first=i == 0))
    if baseline_months and baseline_mean is not None and _finite(baseline_mean):
        start = list(months).index(baseline_months[0])
        x0, x1 = left + start * step, left + (start + len(baseline_months)) * step
        y = y_of(baseline_mean)
        parts.append(
            f'<line class="chart__baseline" x1="{x0:.1f}" x2="{x1:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
    parts.append(
        f'<line class="chart__axis-line" x1="{left}" x2="{left + plot_w}" '
        f'y1="{y_of(0):.1f}" y2="{y_of(0):.1f}"/>'
        f'<text class="chart__axis" x="14" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2:.1f})">Incidents a month</text>'
    )
    return _svg(width, height, title, "".join(parts), "chart chart--trend")


def _trend_key(recent: int, baseline_months, baseline_mean, x: float) -> str:
    """The chart's key, above the plot: what dark columns and the dashed line mean."""
    items = []
    if recent:
        items.append(("chart__col--recent", f"Last {recent} month{'' if recent == 1 else 's'}"))
        items.append(("chart__col--past", "Earlier months"))
    parts, y = [], 14
    for css, text in items:
        parts.append(
            f'<rect class="{css}" x="{x:.1f}" y="{y - 10}" width="14" height="12"/>'
            f'<text class="chart__label" x="{x + 19:.1f}" y="{y}">{_esc(text)}</text>'
        )
        x += 24 + 7.2 * len(text)
    if baseline_months and baseline_mean is not None and _finite(baseline_mean):
        text = f"Monthly average of the {len(baseline_months)} months before: {baseline_mean:,.1f}"
        parts.append(
            f'<line class="chart__baseline" x1="{x:.1f}" x2="{x + 24:.1f}" y1="{y - 4}" '
            f'y2="{y - 4}"/><text class="chart__label" x="{x + 30:.1f}" y="{y}">{_esc(text)}</text>'
        )
    return "".join(parts)


_MONTH_NAMES = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _month_label(month: str, x: float, y: float, *, first: bool) -> str:
    year, _, number = month.partition("-")
    try:
        name = _MONTH_NAMES[int(number) - 1]
    except (ValueError, IndexError):
        name = month
    text = (
        f'<text class="chart__axis" x="{x:.1f}" y="{y + 15:.1f}" text-anchor="middle">'
        f"{_esc(name)}</text>"
    )
    if first or number == "01":
        text += (
            f'<text class="chart__axis chart__axis--year" x="{x:.1f}" y="{y + 31:.1f}" '
            f'text-anchor="middle">{_esc(year)}</text>'
        )
    return text


def _ticks(high: float) -> list[int]:
    """0 and 3-5 round steps up to at least `high`."""
    raw = high / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    step = next(int(s * magnitude) or 1 for s in (1, 2, 2.5, 5, 10) if s * magnitude >= raw)
    count = math.ceil(high / step)
    return [i * step for i in range(count + 1)]


def _svg(width: float, height: float, title: str, body: str, css_class: str) -> str:
    return (
        f'<svg class="{css_class}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{_esc(title)}">'
        f"<title>{_esc(title)}</title>{body}</svg>"
    )


def _finite(value: object) -> TypeGuard[float]:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _esc(value) -> str:
    return (
        str(value)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


__all__ = ["ASSET_FIELDS", "Bar", "asset_map", "asset_markers", "domain_chart", "trend_chart"]
