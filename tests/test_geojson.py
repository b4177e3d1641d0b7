"""The one GeoJSON writer (mapper/geojson.py): worked by hand on tiny features, and
against a brute-force ``json.dumps`` reference on generated ones."""

from __future__ import annotations

import datetime
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon

from mapper import geojson
from mapper.errors import MapperError


def _frame(rows: dict, shapes: list, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=shapes, crs=crs)


def test_coordinates_are_rounded_to_six_decimals():
    frame = _frame({"name": ["a"]}, [Point(-0.12345649, 51.50000051)])
    [text] = geojson.encode_features(frame)
    assert json.loads(text) == {"type": "Feature", "properties": {"name": "a"},
                                "geometry": {"type": "Point",
                                             "coordinates": [-0.123456, 51.500001]}}
    kept = geojson.encode_features(frame, decimals=None)
    assert json.loads(kept[0])["geometry"]["coordinates"] == [-0.12345649, 51.50000051]


def test_missing_values_become_null_and_numpy_values_plain_numbers():
    frame = _frame({
        "score": [np.nan, 1.5],
        "count": np.array([3, 4], dtype=np.int64),
        "flag": np.array([True, False]),
        "name": ["nan", "Hall"],  # placeholder text is a missing value, when asked
        "blank": [None, "  "],
        "when": [pd.Timestamp("2024-06-01"), pd.NaT],
        "nullable": pd.array([1, None], dtype="Int64"),
        "inf": [math.inf, -1.0],
        "day": [datetime.date(2024, 1, 2), None],
    }, [Point(0, 0), None])
    features = [json.loads(t) for t in geojson.encode_features(frame, placeholders=True)]
    assert features[0]["properties"] == {
        "score": None, "count": 3, "flag": True, "name": None, "blank": None,
        "when": "2024-06-01T00:00:00", "nullable": 1, "inf": None, "day": "2024-01-02"}
    assert features[1]["properties"] == {
        "score": 1.5, "count": 4, "flag": False, "name": "Hall", "blank": None,
        "when": None, "nullable": None, "inf": -1.0, "day": None}
    assert features[1]["geometry"] is None  # missing geometry is null
    shown = [json.loads(t) for t in geojson.encode_features(frame)]  # display text kept
    assert shown[0]["properties"]["name"] == "nan" and shown[1]["properties"]["blank"] == "  "
    assert shown[0]["properties"]["blank"] is None


def test_a_polygon_with_a_hole_keeps_its_rings():
    outer = [(0, 0), (4, 0), (4, 4), (0, 4), (0, 0)]
    hole = [(1, 1), (1, 2), (2, 2), (2, 1), (1, 1)]
    frame = _frame({"ward_code": ["E05000001"]}, [Polygon(outer, [hole])])
    [feature] = [json.loads(t) for t in geojson.encode_features(frame, id_column="ward_code")]
    assert feature["id"] == "E05000001"
    assert feature["geometry"] == {"type": "Polygon", "coordinates": [
        [list(map(float, p)) for p in outer], [list(map(float, p)) for p in hole]]}
    assert shapely.equals(shapely.from_geojson(json.dumps(feature["geometry"])),
                          frame.geometry.iloc[0])


def test_an_empty_frame_is_an_empty_collection():
    frame = _frame({"name": []}, [])
    assert geojson.encode_features(frame) == []
    body = json.loads(geojson.feature_collection(frame, {"attribution": ["ONS"]}))
    assert body == {"type": "FeatureCollection", "attribution": ["ONS"], "features": []}


def test_an_empty_geometry_is_null():
    [text] = geojson.encode_features(_frame({"a": [1]}, [Polygon()]))
    assert json.loads(text)["geometry"] is None


def test_a_frame_not_in_wgs84_is_refused_with_a_clear_error():
    frame = _frame({"name": ["a"]}, [Point(530000, 180000)], crs="EPSG:27700")
    with pytest.raises(geojson.GeoJSONError, match="EPSG:4326.*27700.*to_display"):
        geojson.encode_features(frame)
    with pytest.raises(MapperError, match="none"):
        geojson.encode_features(_frame({"name": ["a"]}, [Point(0, 0)], crs=None))


def test_a_collection_carries_its_foreign_members_first():
    frame = _frame({"n": [1, 2]}, [Point(0.1, 51.5), Point(0.2, 51.6)])
    members = {"attribution": "© ONS", "numberMatched": 2, "type": "ignored"}
    text = geojson.feature_collection(frame, members, id_column="n")
    body = json.loads(text)
    assert list(body) == ["type", "attribution", "numberMatched", "features"]
    assert body["type"] == "FeatureCollection" and body["attribution"] == "© ONS"
    assert [f["id"] for f in body["features"]] == [1, 2]
    assert "©".encode() in text  # UTF-8, not \u escapes
    already = geojson.collection(geojson.encode_features(frame), geojson.dumps(members))
    assert json.loads(already)["numberMatched"] == 2


def test_members_put_first_in_a_features_properties():
    opened, closer = geojson.feature_halves(b'{"type":"Point","coordinates":[0.1,51.5]}',
                                            b'{"name":"Hall \\"A\\"","n":null}', b'"a"')
    first = json.loads(opened + b'"distance_m":12' + closer)
    assert first == {"type": "Feature", "id": "a",
                     "geometry": {"type": "Point", "coordinates": [0.1, 51.5]},
                     "properties": {"distance_m": 12, "name": 'Hall "A"', "n": None}}
    assert list(first["properties"]) == ["distance_m", "name", "n"]
    opened, closer = geojson.feature_halves(b"null", b"{}", b"7")
    assert json.loads(opened + b'"distance_m":3' + closer) == {
        "type": "Feature", "id": 7, "geometry": None, "properties": {"distance_m": 3}}
    whole = geojson.feature(b"null", b'{"a":1}', b"7", first={"d": 2})
    assert list(json.loads(whole)["properties"].items()) == [("d", 2), ("a", 1)]


def test_text_is_html_escaped_only_when_asked():
    frame = _frame({"name": ["<b>Hall</b> & Co"]}, [Point(0, 0)])
    [plain] = geojson.encode_features(frame)
    [escaped] = geojson.encode_features(frame, escape=True)
    assert json.loads(plain)["properties"]["name"] == "<b>Hall</b> & Co"
    assert json.loads(escaped)["properties"]["name"] == "&lt;b&gt;Hall&lt;/b&gt; &amp; Co"


def test_dumps_writes_json_never_nan_tokens():
    value = {"a": float("nan"), "b": np.float32(0.5), "c": pd.Timestamp("2024-01-02"),
             "d": np.int64(7), "e": "£"}
    assert json.loads(geojson.dumps(value)) == {"a": None, "b": 0.5,
                                                "c": "2024-01-02T00:00:00", "d": 7, "e": "£"}
    assert geojson.dumps_text({"e": "£"}) == '{"e":"£"}'


# == against a brute-force reference =====================================================

def _reference(frame: gpd.GeoDataFrame, id_column: str | None,
               placeholders: bool) -> list[dict]:
    """Each feature as json.dumps writes it, value by value and vertex by vertex."""
    def value(v):
        if v is None or v is pd.NA or v is pd.NaT:
            return None
        if isinstance(v, str):
            return None if placeholders and v.strip().lower() in (
                "", "nan", "none", "nat", "null", "undefined", "<na>") else v
        if isinstance(v, bool | np.bool_):
            return bool(v)
        if isinstance(v, int | np.integer):
            return int(v)
        if isinstance(v, float | np.floating):
            return float(v) if math.isfinite(v) else None
        return str(v)

    def r6(x):  # the writer's rule: numpy's rounding (x * 1e6 to even, / 1e6), which
        return float(np.round(x, 6))  # differs from round() on some near-half values

    def ring(coords):
        return [[r6(x), r6(y)] for x, y in coords]

    def geometry(shape):
        if shape is None or shape.is_empty:
            return None
        if shape.geom_type == "Point":
            return {"type": "Point", "coordinates": [r6(shape.x), r6(shape.y)]}
        return {"type": "Polygon", "coordinates": [ring(shape.exterior.coords)]
                + [ring(r.coords) for r in shape.interiors]}

    out = []
    for row, shape in zip(frame.drop(columns="geometry").to_dict("records"), frame.geometry,
                          strict=True):
        feature = {"type": "Feature"}
        if id_column is not None:
            feature["id"] = row[id_column]
        feature["geometry"] = geometry(shape)
        feature["properties"] = {k: value(v) for k, v in row.items()}
        out.append(json.loads(json.dumps(feature, allow_nan=False)))
    return out


_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                    st.integers(-10**6, 10**6).map(float))
_texts = st.one_of(st.text(max_size=12), st.sampled_from(["nan", "None", " ", "<NA>"]))
_lon = st.one_of(st.floats(-180, 180, allow_nan=False),
                 st.integers(-1_800_000_000, 1_800_000_000).map(lambda i: i / 1e7))  # halves
_lat = st.floats(-90, 90, allow_nan=False)


@st.composite
def _frames(draw):
    n = draw(st.integers(0, 6))
    shapes = []
    for _ in range(n):
        kind = draw(st.sampled_from(["point", "box", "none"]))
        x, y = draw(_lon), draw(_lat)
        if kind == "point":
            shapes.append(Point(x, y))
        elif kind == "box":
            w, h = draw(st.floats(1e-5, 1)), draw(st.floats(1e-5, 1))
            shapes.append(shapely.box(x, y, x + w, y + h))
        else:
            shapes.append(None)
    frame = gpd.GeoDataFrame({
        "id": list(range(n)),
        "score": draw(st.lists(_floats, min_size=n, max_size=n)),
        "name": draw(st.lists(st.one_of(st.none(), _texts), min_size=n, max_size=n)),
        "flag": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
    }, geometry=shapes, crs="EPSG:4326")
    frame["count"] = np.array(draw(st.lists(st.integers(-2**40, 2**40), min_size=n,
                                            max_size=n)), dtype=np.int64)
    return frame


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=_frames(), with_id=st.booleans(), placeholders=st.booleans())
def test_encoded_features_equal_a_brute_force_json_dumps(frame, with_id, placeholders):
    id_column = "id" if with_id else None
    features = geojson.encode_features(frame, id_column=id_column, placeholders=placeholders)
    decoded = [json.loads(t) for t in features]  # every feature valid JSON on its own
    assert decoded == _reference(frame, id_column, placeholders)
    body = json.loads(geojson.collection(features, {"numberMatched": len(frame)}))
    assert body["features"] == decoded and body["numberMatched"] == len(frame)


def test_halves_joined_with_no_members_are_the_feature():
    for properties in (b"{}", b'{"a":1}'):
        opened, closer = geojson.feature_halves(b"null", properties, b"7")
        assert geojson.join_halves(opened, closer, {}) == geojson.feature(b"null", properties,
                                                                           b"7")
        joined = geojson.join_halves(opened, closer, {"d": 2})
        assert joined == geojson.feature(b"null", properties, b"7", first={"d": 2})


def test_a_collection_joins_members_made_apart():
    head = geojson.dumps({"attribution": ["ONS"]})
    body = json.loads(geojson.collection([b'{"type":"Feature","geometry":null,"properties":{}}'],
                                         head, {}, None, {"total": 1}))
    assert list(body) == ["type", "attribution", "total", "features"]
    assert body["features"] == [{"type": "Feature", "geometry": None, "properties": {}}]


def test_one_feature_per_line_and_ids_given_apart():
    frame = _frame({"n": [1, 2]}, [Point(0, 0), Point(1, 1)])
    text = geojson.feature_collection(frame, {"name": "x"}, lines=True, ids=["a", "b"])
    assert text.count(b"\n") == 4 and text.endswith(b"]}\n")
    assert [f["id"] for f in json.loads(text)["features"]] == ["a", "b"]


def test_json_for_a_script_element_escapes_what_html_would_read():
    from jinja2.utils import htmlsafe_json_dumps

    value = {"name": "</script><b>A & B's</b>", "n": [1, 2.5, None], "£": True}
    text = geojson.dumps_html(value)
    assert "<" not in text and ">" not in text and "&" not in text and "'" not in text
    assert json.loads(text) == value
    assert text == str(htmlsafe_json_dumps(value, dumps=json.dumps, separators=(",", ":"),
                                           ensure_ascii=False))


def test_many_rows_at_once_equal_one_at_a_time():
    geometry = [b'{"type":"Point","coordinates":[0.1,51.5]}', b"null"]
    properties = [b'{"a":1}', b"{}"]
    ids = [b'"x"', b"2"]
    assert geojson.features_of(geometry, properties, ids) == [
        geojson.feature(g, p, i) for g, p, i in zip(geometry, properties, ids, strict=True)]
    halves = geojson.halves_of(geometry, properties, ids)
    assert halves == [geojson.feature_halves(g, p, i)
                      for g, p, i in zip(geometry, properties, ids, strict=True)]
    members = [{"d": 3}, {"d": 4, "contact": {"phone": "020"}}]
    assert geojson.join_rows(halves, [1, 0], members) == [
        geojson.join_halves(*halves[1], members[0]), geojson.join_halves(*halves[0], members[1])]


def test_members_added_to_an_encoded_feature():
    feature = geojson.feature(b"null", b'{"a":1}', b"7")
    linked = json.loads(geojson.with_members(feature, {"links": [{"rel": "self"}]}))
    assert linked == {"type": "Feature", "id": 7, "geometry": None, "properties": {"a": 1},
                      "links": [{"rel": "self"}]}
    assert geojson.with_members(feature, {}) == feature
    assert json.loads(geojson.with_members(b"{}", {"a": 1})) == {"a": 1}


def test_encoded_rows_kept_by_caches_take_their_own_size():
    """A layer's cache keeps each row's id and properties: each must cost about its own
    length, not orjson's 4 KB work buffer (London's incidents took 600 MB of a server)."""
    import tracemalloc

    from mapper import geojson

    frame = pd.DataFrame({"type": ["burglary"] * 2000, "month": ["2025-01"] * 2000})
    ids = [f"{i:064x}" for i in range(2000)]
    tracemalloc.start()
    try:
        kept = (geojson.encode_ids(ids), geojson.encode_properties(frame))
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept[0][5] == f'"{5:064x}"'.encode()
    assert json.loads(kept[1][0]) == {"type": "burglary", "month": "2025-01"}
    per_row = held / 2000
    assert per_row < 600, f"{per_row:.0f} bytes a row (ids 66 bytes, properties 38)"
