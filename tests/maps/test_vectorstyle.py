"""Translating a Mapbox GL / MapLibre style into the vector renderer's styling
(mapper/maps/vectorstyle.py), on a style written by hand."""

from __future__ import annotations

import json

import pytest

from mapper.maps.vectorstyle import (
    DEFAULT_STYLE,
    StyleError,
    default_style,
    load_style,
    translate,
    translate_filter,
)

LAYERS = ("water", "roads", "places", "buildings")

STYLE = {
    "version": 8,
    "sources": {"base": {"type": "vector", "url": "pmtiles://x.pmtiles",
                         "attribution": "© Test Maps"}},
    "layers": [
        {"id": "bg", "type": "background", "paint": {"background-color": "#fafaf8"}},
        {"id": "water", "type": "fill", "source": "base", "source-layer": "water",
         "paint": {"fill-color": "#3366cc", "fill-opacity": 0.8,
                   "fill-outline-color": "rgba(0, 0, 80, 0.5)"}},
        {"id": "roads-primary", "type": "line", "source": "base", "source-layer": "roads",
         "minzoom": 6, "maxzoom": 18,
         "filter": ["==", "class", "primary"],
         "layout": {"line-cap": "round"},
         "paint": {"line-color": "#cc3311", "line-width": {"base": 1.5,
                                                            "stops": [[6, 1], [14, 6]]}}},
        {"id": "roads-paths", "type": "line", "source-layer": "roads",
         "filter": ["in", ["get", "class"], ["literal", ["path", "track"]]],
         "paint": {"line-color": "#777777", "line-width": 2, "line-dasharray": [2, 1]}},
        {"id": "places", "type": "circle", "source-layer": "places",
         "filter": ["all", ["==", "$type", "Point"], [">=", "rank", 1]],
         "paint": {"circle-radius": ["interpolate", ["linear"], ["zoom"], 5, 2, 15, 8],
                   "circle-color": ["step", ["zoom"], "#000000", 10, "#ff0000"]}},
        {"id": "labels", "type": "symbol", "source-layer": "places",
         "layout": {"text-field": "{name}"}},
        {"id": "hidden", "type": "fill", "source-layer": "buildings",
         "layout": {"visibility": "none"}, "paint": {"fill-color": "#000"}},
        {"id": "by-data", "type": "fill", "source-layer": "buildings",
         "paint": {"fill-color": ["get", "colour"]}},
    ],
}


def test_fill_line_and_circle_layers_become_path_options():
    out = translate(STYLE, source_layers=LAYERS)
    assert out["background"] == "#fafaf8"
    assert out["attribution"] == "© Test Maps"
    assert out["drawn"] == ["water", "roads-primary", "roads-paths", "places"]
    assert out["order"] == ["water", "roads", "places"]  # the style's order
    (water,) = out["layers"]["water"]
    assert water == {"id": "water", "types": [3], "minzoom": None, "maxzoom": None,
                     "filter": None, "paint": {
                         "fill": True, "fillColor": "#3366cc", "fillOpacity": 0.8,
                         "stroke": True, "weight": 1, "opacity": 0.8,
                         "color": "rgba(0, 0, 80, 0.5)"}}
    primary, paths = out["layers"]["roads"]
    assert primary["types"] == [2, 3] and (primary["minzoom"], primary["maxzoom"]) == (6, 18)
    assert primary["filter"] == ["==", "class", "primary"]
    assert primary["paint"]["color"] == "#cc3311" and primary["paint"]["lineCap"] == "round"
    assert primary["paint"]["lineJoin"] == "miter"  # MapLibre's default
    assert primary["paint"]["weight"] == {"stops": [[6, 1], [14, 6]], "base": 1.5,
                                          "step": False}
    assert paths["filter"] == ["in", "class", ["path", "track"]]
    assert paths["paint"]["dashArray"] == "4,2"  # dashes are in line widths: 2 x (2, 1)
    (places,) = out["layers"]["places"]
    assert places["types"] == [1]
    assert places["filter"] == ["all", ["==", "$type", 1], [">=", "rank", 1]]
    assert places["paint"]["radius"] == {"stops": [[5, 2], [15, 8]], "base": 1.0,
                                         "step": False}
    assert places["paint"]["fillColor"] == {"stops": [[0, "#000000"], [10, "#ff0000"]],
                                            "base": 1.0, "step": True}
    assert places["paint"]["stroke"] is False  # no circle-stroke-width


def test_what_is_not_drawn_is_listed_and_hidden_layers_are_dropped():
    out = translate(STYLE, source_layers=LAYERS)
    assert out["ignored"] == ["labels: a symbol layer",
                              "by-data: the expression 'get'"]
    assert "hidden" not in out["drawn"] and "buildings" not in out["layers"]


@pytest.mark.parametrize(("flt", "expected"), [
    (None, None),
    (["==", "class", "river"], ["==", "class", "river"]),
    (["!=", ["get", "class"], "river"], ["!=", "class", "river"]),
    (["in", "class", "a", "b"], ["in", "class", ["a", "b"]]),
    (["!in", "class", "a"], ["!in", "class", ["a"]]),
    (["has", "name"], ["has", "name"]),
    (["!", ["has", "name"]], ["none", ["has", "name"]]),
    (["any", ["==", "$type", "Polygon"], ["<", "rank", 3]],
     ["any", ["==", "$type", 3], ["<", "rank", 3]]),
    (["match", ["get", "kind"], ["park", "wood"], True, False],
     ["in", "kind", ["park", "wood"]]),
    (["==", ["geometry-type"], "LineString"], ["==", "$type", 2]),
])
def test_filters(flt, expected):
    assert translate_filter(flt) == expected


@pytest.mark.parametrize("flt", [
    ["==", ["zoom"], 5], ["within", {}], ["==", "class", ["literal", [1]]],
    ["match", ["get", "k"], ["a"], "red", "blue"], ["==", "$type", "Circle"]])
def test_a_layer_with_a_filter_it_cannot_read_is_left_out(flt):
    style = {"layers": [
        {"id": "ok", "type": "fill", "source-layer": "water"},
        {"id": "odd", "type": "fill", "source-layer": "water", "filter": flt}]}
    out = translate(style, source_layers=LAYERS)
    assert out["drawn"] == ["ok"] and out["ignored"][0].startswith("odd: ")


def test_defaults_are_maplibres():
    out = translate({"layers": [{"id": "l", "type": "line", "source-layer": "roads"}]})
    paint = out["layers"]["roads"][0]["paint"]
    assert (paint["color"], paint["weight"], paint["opacity"]) == ("#000000", 1, 1)


@pytest.mark.parametrize(("style", "message"), [
    ([], "not a map style"),
    ({"version": 8}, "has no 'layers'"),
    ({"layers": []}, "has no 'layers'"),
    ({"layers": ["water"]}, "style layer 1 is not an object"),
    ({"layers": [{"id": "w", "type": "fill"}]}, "'w' (fill) has no 'source-layer'"),
    ({"layers": [{"id": "t", "type": "symbol", "source-layer": "places"}]},
     "no layer of the style can be drawn"),
    ({"layers": [{"id": "coast", "type": "line", "source-layer": "coastline"},
                 {"id": "sea", "type": "fill", "source-layer": "ocean"}]},
     "source layers the tile archive does not have: 'coastline' (layers 'coast'); "
     "'ocean' (layers 'sea'). The archive's layers are buildings, places, roads, water"),
])
def test_bad_styles_are_refused_with_the_reason(style, message):
    with pytest.raises(StyleError) as caught:
        translate(style, source_layers=LAYERS, origin="map style s.json")
    assert str(caught.value).startswith("map style s.json: ")
    assert message in str(caught.value)


def test_an_archive_without_vector_layers_takes_any_source_layer():
    out = translate({"layers": [{"id": "x", "type": "fill", "source-layer": "anything"}]})
    assert list(out["layers"]) == ["anything"]


def test_load_style_names_the_file(tmp_path):
    path = tmp_path / "style.json"
    with pytest.raises(StyleError, match=f"map style {path}: no such file"):
        load_style(path)
    path.write_text('{"layers": [\n  {"id": "a",}\n]}')
    with pytest.raises(StyleError) as caught:
        load_style(path)
    assert str(path) in str(caught.value) and "not JSON" in str(caught.value)
    assert "line 2" in str(caught.value)
    path.write_text(json.dumps(STYLE), encoding="utf-8-sig")  # a byte-order mark is fine
    assert load_style(path, source_layers=LAYERS)["drawn"][0] == "water"


def test_the_built_in_style_keeps_the_archives_layers_only():
    omt = default_style(["water", "transportation", "building", "poi"])
    assert set(omt["layers"]) == {"water", "transportation", "building"}
    assert omt["background"] == "#f2efe9"
    zoomstack = default_style(["sea", "roads", "woodland", "names"])
    assert set(zoomstack["layers"]) == {"sea", "roads", "woodland"}
    roads = {rule["id"]: rule for rule in zoomstack["layers"]["roads"]}
    assert roads["roads-motorway"]["filter"] == ["==", "type", "Motorway"]
    # every layer of the built-in style translates: nothing of it is left out
    assert default_style([])["ignored"] == []
    assert len(default_style([])["drawn"]) == sum(
        1 for layer in DEFAULT_STYLE["layers"] if layer["type"] != "background")
    with pytest.raises(StyleError, match="knows none of the tile archive's layers "
                       r"\(contours, spot_heights\).*--tiles-style"):
        default_style(["contours", "spot_heights"])
