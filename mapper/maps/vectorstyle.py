"""A Mapbox GL / MapLibre style, translated for the browser's vector tile renderer.

A vector tile archive (``mapper serve --tiles FILE.pmtiles --tiles-style STYLE.json``)
is drawn in the browser by Leaflet.VectorGrid (vendored under
``static/vendor/leaflet-vectorgrid``), which styles each feature of a source layer with
Leaflet path options. :func:`translate` is the one place that turns a style's layers into
those options; ``static/vectorbasemap.js`` only evaluates what it returns (a filter, a
zoom range, a value per zoom). :func:`open_basemap` opens an archive with its style (the
given file, or :data:`DEFAULT_STYLE` keyed on the usual schemas' layer names) for the
web app and for ``mapper serve``'s early check and log line. No Flask here.

What is honoured, per style layer:

- ``type`` ``fill``, ``line`` and ``circle`` (on features of a ``source-layer``), and
  ``background`` (its colour under the map). Fill draws polygons, line draws lines and
  polygon outlines, circle draws points, as MapLibre does.
- ``minzoom`` / ``maxzoom`` (shown from minzoom, hidden from maxzoom on) and
  ``layout.visibility: none`` (left out).
- paint: ``fill-color``, ``fill-opacity``, ``fill-outline-color``; ``line-color``,
  ``line-width``, ``line-opacity``, ``line-dasharray`` (in line widths, as MapLibre);
  ``circle-color``, ``circle-radius``, ``circle-opacity``, ``circle-stroke-color``,
  ``circle-stroke-width``, ``circle-stroke-opacity``; ``layout`` ``line-cap`` and
  ``line-join``. A value may be a constant, a zoom function (``{"stops": ..., "base":
  ...}``) or ``["interpolate", [...], ["zoom"], ...]`` / ``["step", ["zoom"], ...]``:
  numbers are interpolated between stops, colours step (the lower stop's colour).
- filters, old style or expression style: ``==``, ``!=``, ``in``, ``!in``, ``has``,
  ``!has``, ``<``, ``<=``, ``>``, ``>=`` on one property (or ``$type``), a
  ``["get", name]`` in place of the name, ``["match", ["get", name], [values], true,
  false]``, and ``all``, ``any``, ``none``, ``!`` of those.

What is ignored (listed in the result's ``ignored``, and in the serve log): ``symbol``
layers (labels and icons), ``fill-extrusion``, ``raster``, ``hillshade``, ``heatmap``,
patterns, ``*-translate``, ``*-blur``, data-driven values (``["get", ...]`` in paint),
and a layer whose filter or paint uses anything else (the layer is left out rather than
drawn wrongly). Layers are drawn source layer by source layer, in the order the style
first uses each; within one source layer, in the style's order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mapper.errors import MapperError
from mapper.tilearchive import TileArchive, open_archive

#: style layer types drawn, and the geometry types (MVT: 1 point, 2 line, 3 polygon) each draws
DRAWN = {"fill": (3,), "line": (2, 3), "circle": (1,)}
#: style layer types known but not drawn
IGNORED_TYPES = ("symbol", "fill-extrusion", "raster", "hillshade", "heatmap", "sky")
#: MapLibre's defaults for the paint properties read here
_DEFAULTS = {"fill-opacity": 1, "line-width": 1, "line-opacity": 1, "circle-radius": 5,
             "circle-opacity": 1, "circle-stroke-width": 0, "circle-stroke-opacity": 1,
             "fill-color": "#000000", "line-color": "#000000", "circle-color": "#000000",
             "circle-stroke-color": "#000000"}
_COMPARE = ("==", "!=", "<", "<=", ">", ">=")
_TYPES = {"Point": 1, "LineString": 2, "Polygon": 3}


class StyleError(MapperError):
    """A map style that cannot be used (the message names the file and what was expected)."""


class _Unsupported(Exception):
    """A part of a layer this translation does not draw (the layer is left out)."""


# -- values ----------------------------------------------------------------------------


def _value(value, *, colour: bool):
    """A paint value: a constant, or {"stops": [[zoom, value], ...], "base": b, "step": s}."""
    if isinstance(value, dict):
        stops = value.get("stops")
        if "property" in value or not isinstance(stops, list) or not stops:
            raise _Unsupported("a data-driven function")
        pairs = []
        for stop in stops:
            if not (isinstance(stop, list) and len(stop) == 2
                    and isinstance(stop[0], (int, float))):
                raise _Unsupported("a zoom function with stops that are not [zoom, value]")
            pairs.append([stop[0], _constant(stop[1], colour=colour)])
        step = colour or value.get("type") == "interval"
        return {"stops": pairs, "base": float(value.get("base", 1)), "step": step}
    if isinstance(value, list):
        return _expression_value(value, colour=colour)
    return _constant(value, colour=colour)


def _constant(value, *, colour: bool):
    if colour:
        if not isinstance(value, str) or not value.strip():
            raise _Unsupported(f"the colour {value!r}")
        return value.strip()  # CSS colours: hex, rgb(a), hsl(a) and names all draw
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Unsupported(f"the value {value!r}")
    return value


def _expression_value(value: list, *, colour: bool):
    head = value[0] if value else None
    if head == "literal" and len(value) == 2:
        return _constant(value[1], colour=colour)
    if head == "interpolate" and len(value) >= 5 and value[2] == ["zoom"]:
        how = value[1]
        if how == ["linear"]:
            base = 1.0
        elif isinstance(how, list) and len(how) == 2 and how[0] == "exponential":
            base = float(how[1])
        else:
            raise _Unsupported(f"interpolation {how!r}")
        rest = value[3:]
        if len(rest) % 2:
            raise _Unsupported("an interpolate with an odd number of stop values")
        stops = [[rest[i], _constant(rest[i + 1], colour=colour)]
                 for i in range(0, len(rest), 2)]
        return {"stops": stops, "base": base, "step": colour}
    if head == "step" and len(value) >= 3 and value[1] == ["zoom"]:
        rest = value[3:]
        if len(rest) % 2:
            raise _Unsupported("a step with an odd number of stop values")
        stops = [[0, _constant(value[2], colour=colour)]] + [
            [rest[i], _constant(rest[i + 1], colour=colour)] for i in range(0, len(rest), 2)]
        return {"stops": stops, "base": 1.0, "step": True}
    raise _Unsupported(f"the expression {head!r}")


# -- filters ---------------------------------------------------------------------------


def _key(item) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, list) and len(item) == 2 and item[0] == "get" and isinstance(
            item[1], str):
        return item[1]
    if item == ["geometry-type"]:
        return "$type"
    raise _Unsupported(f"a filter on {item!r}")


def _literal(item):
    if isinstance(item, list):
        if len(item) == 2 and item[0] == "literal":
            return item[1]
        raise _Unsupported(f"a filter value {item!r}")
    return item


def _type_value(key: str, value):
    if key != "$type":
        return value
    if value not in _TYPES:
        raise _Unsupported(f"$type {value!r}")
    return _TYPES[value]


def translate_filter(flt):
    """A style filter in the renderer's small form, or None for no filter.

    The form: ``["==" | "!=" | "<" | "<=" | ">" | ">=", key, value]``, ``["in" | "!in",
    key, [values]]``, ``["has" | "!has", key]``, ``["all" | "any" | "none", f...]``;
    key ``$type`` compares the geometry type as a number (1 point, 2 line, 3 polygon).
    Raises _Unsupported for anything else."""
    if flt is None or flt is True:
        return None
    if not isinstance(flt, list) or not flt:
        raise _Unsupported(f"the filter {flt!r}")
    head, args = flt[0], flt[1:]
    if head in ("all", "any", "none"):
        return [head, *(translate_filter(f) or ["all"] for f in args)]
    if head == "!" and len(args) == 1:
        return ["none", translate_filter(args[0]) or ["all"]]
    if head in _COMPARE and len(args) == 2:
        key = _key(args[0])
        value = _literal(args[1])
        if isinstance(value, (list, dict)):
            raise _Unsupported(f"a comparison with {value!r}")
        return [head, key, _type_value(key, value)]
    if head in ("has", "!has") and len(args) == 1:
        return [head, _key(args[0])]
    if head in ("in", "!in") and args:
        if len(args) == 2 and isinstance(args[1], list) and args[1][:1] == ["literal"]:
            key, values = _key(args[0]), _literal(args[1])  # expression form
        else:
            key, values = _key(args[0]), list(args[1:])
        if not isinstance(values, list):
            raise _Unsupported(f"an 'in' over {values!r}")
        return [head, key, [_type_value(key, v) for v in values]]
    if head == "match" and len(args) == 4 and isinstance(args[3], bool) and isinstance(
            args[2], bool):
        key = _key(args[0])
        values = args[1] if isinstance(args[1], list) else [args[1]]
        return ["in" if args[2] and not args[3] else "!in", key, values]
    raise _Unsupported(f"the filter {head!r}")


# -- layers ----------------------------------------------------------------------------


def _paint(layer: dict) -> dict:
    paint = layer.get("paint") or {}
    layout = layer.get("layout") or {}
    if not isinstance(paint, dict) or not isinstance(layout, dict):
        raise _Unsupported("paint or layout that is not an object")

    def get(name: str, *, colour: bool = False):
        return _value(paint.get(name, _DEFAULTS[name]), colour=colour)

    kind = layer["type"]
    if kind == "fill":
        if "fill-pattern" in paint:
            raise _Unsupported("fill-pattern")
        out = {"fill": True, "fillColor": get("fill-color", colour=True),
               "fillOpacity": get("fill-opacity"), "stroke": False}
        if "fill-outline-color" in paint:
            out.update(stroke=True, weight=1, opacity=out["fillOpacity"],
                       color=_value(paint["fill-outline-color"], colour=True))
        return out
    if kind == "line":
        if "line-pattern" in paint or "line-gradient" in paint:
            raise _Unsupported("line-pattern")
        width = get("line-width")
        out = {"fill": False, "stroke": True, "color": get("line-color", colour=True),
               "weight": width, "opacity": get("line-opacity"),
               "lineCap": layout.get("line-cap", "butt"),
               "lineJoin": layout.get("line-join", "miter")}
        dashes = paint.get("line-dasharray")
        if dashes is not None:
            if isinstance(dashes, list) and dashes[:1] == ["literal"]:
                dashes = _literal(dashes)
            if (not isinstance(dashes, list) or not dashes or not all(
                    isinstance(d, (int, float)) for d in dashes)
                    or isinstance(width, dict)):
                raise _Unsupported("line-dasharray with a zoom-dependent width")
            out["dashArray"] = ",".join(f"{d * width:g}" for d in dashes)
        return out
    stroke_width = get("circle-stroke-width")
    return {"radius": get("circle-radius"), "fill": True,
            "fillColor": get("circle-color", colour=True),
            "fillOpacity": get("circle-opacity"), "stroke": stroke_width != 0,
            "color": get("circle-stroke-color", colour=True), "weight": stroke_width,
            "opacity": get("circle-stroke-opacity")}


def translate(style, *, source_layers: Iterable[str] = (), origin: str = "the style") -> dict:
    """The renderer's styling of `style` (a parsed style JSON document).

    Returns ``{"layers": {source_layer: [rule, ...]}, "order": [source layers, in the
    order they are drawn (JSON writers may sort keys)], "background": colour or None,
    "attribution": text, "drawn": [layer ids], "ignored": ["id: why", ...]}``, a rule
    being ``{"id", "types": [geometry types], "minzoom", "maxzoom", "filter", "paint"}``.
    `source_layers`: the archive's layer names (its metadata's vector_layers); when given,
    a style layer naming another source layer is an error. Raises StyleError naming
    `origin` when the style is not an object with a list of layers, a layer is not an
    object with an id and type, or nothing would be drawn."""
    known = set(source_layers)
    if not isinstance(style, dict):
        raise StyleError(f"{origin}: not a map style (expected a JSON object with "
                         f"'layers', as Mapbox GL / MapLibre styles are); got "
                         f"{type(style).__name__}")
    layers = style.get("layers")
    if not isinstance(layers, list) or not layers:
        raise StyleError(f"{origin}: the style has no 'layers' (expected a non-empty list "
                         "of style layers, each with an 'id', a 'type' and a 'source-layer')")
    out: dict[str, list] = {}
    drawn: list[str] = []
    ignored: list[str] = []
    background = None
    missing: dict[str, list[str]] = {}
    for number, layer in enumerate(layers, start=1):
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            raise StyleError(f"{origin}: style layer {number} is not an object with a "
                             f"'type' (got {str(layer)[:80]!r})")
        name = str(layer.get("id", f"layer {number}"))
        kind = layer["type"]
        if (layer.get("layout") or {}).get("visibility") == "none":
            continue
        if kind == "background":
            paint = layer.get("paint") or {}
            colour = paint.get("background-color")
            if isinstance(colour, str):
                background = colour.strip()
            continue
        if kind not in DRAWN:
            ignored.append(f"{name}: a {kind} layer" + (
                "" if kind in IGNORED_TYPES else " (not a MapLibre layer type)"))
            continue
        source_layer = layer.get("source-layer")
        if not isinstance(source_layer, str) or not source_layer:
            raise StyleError(f"{origin}: style layer {name!r} ({kind}) has no "
                             "'source-layer' (expected the name of a layer of the vector "
                             "tiles)")
        if known and source_layer not in known:
            missing.setdefault(source_layer, []).append(name)
            continue
        try:
            rule = {"id": name, "types": list(DRAWN[kind]),
                    "minzoom": _zoom_of(layer.get("minzoom")),
                    "maxzoom": _zoom_of(layer.get("maxzoom")),
                    "filter": translate_filter(layer.get("filter")),
                    "paint": _paint(layer)}
        except _Unsupported as why:
            ignored.append(f"{name}: {why}")
            continue
        out.setdefault(source_layer, []).append(rule)
        drawn.append(name)
    if missing:
        listed = "; ".join(f"{source!r} (layers {', '.join(map(repr, ids[:3]))}"
                           f"{', ...' if len(ids) > 3 else ''})"
                           for source, ids in sorted(missing.items()))
        raise StyleError(
            f"{origin}: the style draws source layers the tile archive does not have: "
            f"{listed}. The archive's layers are {', '.join(sorted(known))}: use the style "
            "made for these tiles")
    if not drawn:
        raise StyleError(
            f"{origin}: no layer of the style can be drawn (expected fill, line or circle "
            f"layers; left out: {'; '.join(ignored[:5]) or 'none'})")
    return {"layers": out, "order": list(out), "background": background,
            "attribution": _attribution(style), "drawn": drawn, "ignored": ignored}


def _zoom_of(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Unsupported(f"a zoom of {value!r}")
    return value


def _attribution(style: dict) -> str:
    sources = style.get("sources")
    found = []
    if isinstance(sources, dict):
        for source in sources.values():
            text = source.get("attribution") if isinstance(source, dict) else None
            if isinstance(text, str) and text.strip() and text.strip() not in found:
                found.append(text.strip())
    return " ".join(found)


def load_style(path: str | os.PathLike, *, source_layers: Iterable[str] = ()) -> dict:
    """:func:`translate` of the style file at `path`; StyleError naming it when it is
    missing, not JSON, or not a usable style."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise StyleError(f"map style {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StyleError(f"map style {path}: cannot be read ({exc})") from None
    try:
        style = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StyleError(f"map style {path}: not JSON ({exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}); expected a Mapbox GL / MapLibre style "
                         "file") from None
    return translate(style, source_layers=source_layers, origin=f"map style {path}")


# -- the built-in plain style ----------------------------------------------------------

_LAND, _WATER, _GREEN, _WOOD = "#f2efe9", "#aad3df", "#d8e8c8", "#c5dbb0"
_URBAN, _BUILDING, _BOUNDARY = "#e8e2da", "#d9d0c9", "#9e9cab"
_MINOR, _MAJOR, _MOTORWAY, _RAIL = "#ffffff", "#f7d49b", "#e892a2", "#a8a8a8"


def _fill(source: str, colour: str, flt=None, **extra) -> dict:
    layer = {"id": f"{source}-{colour}", "type": "fill", "source-layer": source,
             "paint": {"fill-color": colour}, **extra}
    if flt is not None:
        layer["filter"] = flt
    return layer


def _line(source: str, colour: str, width, flt=None, name: str = "", **extra) -> dict:
    layer = {"id": f"{source}-{name or colour}", "type": "line", "source-layer": source,
             "paint": {"line-color": colour, "line-width": width},
             "layout": {"line-cap": "round", "line-join": "round"}, **extra}
    if flt is not None:
        layer["filter"] = flt
    return layer


def _widths(low: float, high: float) -> dict:
    return {"stops": [[8, low], [16, high]], "base": 1.4}


#: a plain light style over the source layers of the common schemas: OpenMapTiles
#: (water, landcover, park, transportation, building, boundary ...), OS Open Zoomstack
#: (sea, surfacewater, woodland, greenspace, roads, rail, buildings ...) and the Protomaps
#: basemap (earth, water, landuse, roads, buildings, boundaries ...)
DEFAULT_STYLE: dict = {"version": 8, "name": "mapper plain", "layers": [
    {"id": "background", "type": "background", "paint": {"background-color": _LAND}},
    # land and land use
    _fill("earth", _LAND),
    _fill("land", _LAND),
    _fill("urban_areas", _URBAN),
    _fill("landuse", _URBAN, ["in", "class", "residential", "commercial", "industrial",
                              "retail"]),
    _fill("landuse", _GREEN, ["in", "kind", "park", "grass", "garden", "cemetery",
                              "recreation_ground", "playground", "golf_course",
                              "nature_reserve"]),
    _fill("landcover", _WOOD, ["==", "class", "wood"]),
    _fill("landcover", _GREEN, ["in", "class", "grass", "farmland", "wetland"]),
    _fill("landcover", _GREEN, ["in", "kind", "grassland", "farmland", "scrub"]),
    _fill("landcover", _WOOD, ["==", "kind", "forest"]),
    _fill("park", _GREEN),
    _fill("national_parks", _GREEN),
    _fill("greenspace", _GREEN),
    _fill("woodland", _WOOD),
    _fill("natural", _WOOD, ["==", "kind", "wood"]),
    # water
    _fill("sea", _WATER),
    _fill("foreshore", "#e0e6d8"),
    _fill("water", _WATER),
    _fill("surfacewater", _WATER),
    _line("waterway", _WATER, _widths(0.5, 3)),
    _line("waterlines", _WATER, _widths(0.5, 3)),
    # buildings
    _fill("building", _BUILDING, minzoom=13),
    _fill("buildings", _BUILDING, minzoom=13),
    _fill("local_buildings", _BUILDING),
    _fill("district_buildings", _BUILDING),
    # boundaries
    _line("boundary", _BOUNDARY, 1, ["<=", "admin_level", 8]),
    _line("boundaries", _BOUNDARY, 1),
    # rail
    _line("rail", _RAIL, 1.5),
    _line("transportation", _RAIL, 1.5, ["==", "class", "rail"], name="rail"),
    _line("roads", _RAIL, 1.5, ["==", "kind", "rail"], name="rail"),
    # roads: minor first, motorways on top
    _line("transportation", _MINOR, _widths(0.5, 6), ["in", "class", "minor", "service",
                                                      "tertiary"], name="minor"),
    _line("transportation", _MAJOR, _widths(1, 8), ["in", "class", "primary", "secondary",
                                                    "trunk"], name="major"),
    _line("transportation", _MOTORWAY, _widths(1.5, 10), ["==", "class", "motorway"],
          name="motorway"),
    _line("roads", _MINOR, _widths(0.5, 6), ["in", "type", "Minor", "Local", "B Road",
                                             "Restricted", "Local Access"], name="minor"),
    _line("roads", _MINOR, _widths(0.5, 6), ["in", "kind", "minor_road", "medium_road"],
          name="minor-pm"),
    _line("roads", _MAJOR, _widths(1, 8), ["in", "type", "A Road", "Primary"],
          name="major"),
    _line("roads", _MAJOR, _widths(1, 8), ["==", "kind", "major_road"], name="major-pm"),
    _line("roads", _MOTORWAY, _widths(1.5, 10), ["==", "type", "Motorway"],
          name="motorway"),
    _line("roads", _MOTORWAY, _widths(1.5, 10), ["==", "kind", "highway"],
          name="motorway-pm"),
]}


def default_style(source_layers: Iterable[str]) -> dict:
    """:func:`translate` of :data:`DEFAULT_STYLE`, keeping the layers whose source layer
    the archive has (all of them when it lists none). StyleError when it has none of
    them: it needs its own style."""
    known = set(source_layers)
    layers = [layer for layer in DEFAULT_STYLE["layers"]
              if not known or layer.get("source-layer", next(iter(known))) in known]
    if known and not any("source-layer" in layer for layer in layers):
        raise StyleError(
            f"the built-in plain style knows none of the tile archive's layers "
            f"({', '.join(sorted(known))}): pass the style made for these tiles with "
            "--tiles-style STYLE.json")
    return translate({**DEFAULT_STYLE, "layers": layers}, source_layers=known,
                     origin="the built-in plain style")


# -- an archive and its style --------------------------------------------------------


@dataclass(frozen=True)
class Basemap:
    """An opened tile archive and, for a vector one, its translated style."""

    archive: TileArchive
    style: dict | None = None
    style_name: str = ""

    def describe(self) -> str:
        """One line for the serve log: the file, its tiles and, for vector, the style."""
        archive = self.archive
        text = (f"Basemap: {archive.kind} {archive.path.name}, {archive.format} tiles, "
                f"zooms {archive.min_zoom}-{archive.max_zoom}")
        if self.style is None:
            return text + "."
        text += (f", drawn with {self.style_name} ({len(self.style['drawn'])} style "
                 "layers drawn")
        ignored = self.style["ignored"]
        if ignored:
            shown = "; ".join(ignored[:4]) + ("; ..." if len(ignored) > 4 else "")
            text += f", {len(ignored)} left out: {shown}"
        return text + ")."


def open_basemap(tiles: str, style: str | None = None) -> Basemap:
    """Open the archive at `tiles` and, for a vector archive, read the style at `style`
    (a Mapbox GL / MapLibre style JSON) or take the built-in plain style.

    Raises MapperError naming the file when the archive or the style cannot be used, or
    when a style is given for a raster archive."""
    archive = open_archive(tiles)
    if not archive.vector:
        if style:
            raise MapperError(
                f"map style {style}: tile archive {archive.path} holds raster "
                f"({archive.format}) tiles, drawn as they are; a style is for vector "
                "(pbf) archives only. Leave out --tiles-style.")
        return Basemap(archive)
    if style:
        translated = load_style(style, source_layers=archive.vector_layers)
        return Basemap(archive, translated, f"the style {Path(style).name}")
    translated = default_style(archive.vector_layers)
    return Basemap(archive, translated,
                   "the built-in plain style (no --tiles-style given)")


__all__ = ["DEFAULT_STYLE", "DRAWN", "Basemap", "StyleError", "default_style", "load_style",
           "open_basemap", "translate", "translate_filter"]
