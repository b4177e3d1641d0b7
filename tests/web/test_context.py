"""``/context/<kind>.geojson``: the imported context layers a view shows at a zoom (by
bbox and ``min_zoom``, cut, simplified, capped, gzipped, with an ETag), and the map pages
drawing them under the data only when some are imported."""

from __future__ import annotations

import gzip

import orjson
import pytest
from contextfiles import write_os_gpkg, write_osm
from pyproj import Transformer

from mapper.context_store import ContextStore
from mapper.sources.context_layers import read_context
from mapper.web import context as context_view
from mapper.web import create_app

EXTENT = (530_000.0, 180_000.0, 533_000.0, 183_000.0)
_TO_LONLAT = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def lonlat_box(west, south, east, north) -> str:
    return ",".join(f"{v:.6f}" for v in _TO_LONLAT.transform_bounds(west, south, east, north))


#: the whole clip box of the tiny workspace, and a box east of 533.5 km that only the
#: A road (530.5 -> 535 km east at 181.5 km north) crosses
EVERYWHERE = lonlat_box(527_000, 177_000, 536_000, 186_000)
EAST = lonlat_box(533_500, 181_000, 535_500, 182_000)


@pytest.fixture
def context_client(tiny_workspace, tmp_path):
    found = read_context([write_os_gpkg(tmp_path / "os.gpkg"), write_osm(tmp_path / "x.osm")],
                         EXTENT)
    ContextStore(tiny_workspace).replace(found.frames, found.sources)
    context_view._cache.clear()
    return create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace)}).test_client()


def features(client, kind, bbox, zoom):
    response = client.get(f"/context/{kind}.geojson?bbox={bbox}&zoom={zoom}")
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "application/geo+json"
    return orjson.loads(response.data)


def names(doc):
    return sorted((f["properties"]["class"], f["properties"]["name"] or "")
                  for f in doc["features"])


def test_zoom_decides_which_classes_come(context_client):
    # major roads from 11: the OS A road and OSM's primary
    assert names(features(context_client, "roads", EVERYWHERE, 11)) == [
        ("primary", "High Street"), ("primary", "Long Road")]
    assert names(features(context_client, "roads", EVERYWHERE, 12)) == [
        ("primary", "High Street"), ("primary", "Long Road")]
    # minor roads from 13, service roads from 15
    assert names(features(context_client, "roads", EVERYWHERE, 13)) == [
        ("minor", "Church Lane"), ("minor", "Elm Street"),
        ("primary", "High Street"), ("primary", "Long Road")]
    assert len(features(context_client, "roads", EVERYWHERE, 15)["features"]) == 5
    assert features(context_client, "buildings", EVERYWHERE, 14)["features"] == []
    assert len(features(context_client, "buildings", EVERYWHERE, 15)["features"]) == 2
    # places: suburbs from 12
    assert features(context_client, "places", EVERYWHERE, 11)["features"] == []
    assert names(features(context_client, "places", EVERYWHERE, 12)) == [
        ("suburb", "Eastholme"), ("suburb", "Millbrook")]
    # the river from 12, the small lake from 13
    assert names(features(context_client, "water", EVERYWHERE, 12)) == [("river", "River Lea")]
    assert len(features(context_client, "water", EVERYWHERE, 13)["features"]) == 2


def test_only_what_meets_the_box_comes_cut_to_it(context_client):
    doc = features(context_client, "roads", EAST, 16)
    assert names(doc) == [("primary", "High Street")]
    [road] = doc["features"]
    west, south, east, north = (float(v) for v in EAST.split(","))
    lons = [point[0] for point in road["geometry"]["coordinates"]]
    # cut at the box (plus a few pixels), not drawn back to 530.5 km
    assert min(lons) > west - 0.001 and max(lons) <= east + 0.001
    assert features(context_client, "rail", EAST, 16)["features"] == []
    assert "OpenStreetMap contributors" in doc["attribution"]


def test_answers_are_capped_most_important_first(context_client, monkeypatch):
    monkeypatch.setattr(context_view, "MAX_FEATURES", 2)
    context_view._cache.clear()
    doc = features(context_client, "roads", EVERYWHERE, 15)
    assert doc["truncated"] is True and doc["numberMatched"] == 5
    assert {f["properties"]["class"] for f in doc["features"]} == {"primary"}


def test_gzip_etag_and_bad_arguments(context_client):
    url = f"/context/roads.geojson?bbox={EVERYWHERE}&zoom=13"
    zipped = context_client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    plain = context_client.get(url)
    assert gzip.decompress(zipped.data) == plain.data
    again = context_client.get(url, headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304
    assert context_client.get(url.replace("zoom=13", "zoom=14"),
                              headers={"If-None-Match": plain.headers["ETag"]}).status_code == 200
    for bad in ("bbox=1,2,3&zoom=13", "bbox=0,0,1,1&zoom=x", "bbox=1,0,0,1&zoom=13",
                "bbox=-10,40,10,60&zoom=13", "bbox=0,0,1,1&zoom=40"):
        response = context_client.get(f"/context/roads.geojson?{bad}")
        assert response.status_code == 400, bad
        assert b"Traceback" not in response.data
    assert context_client.get(f"/context/pylons.geojson?bbox={EVERYWHERE}&zoom=13"
                              ).status_code == 404


def test_map_pages_draw_the_context_only_when_imported(context_client, tiny_workspace):
    pages = ("/", "/incident", "/incident?lat=51.515&lon=-0.105")
    for url in pages:
        with_context = context_client.get(url).get_data(as_text=True)
        assert "context.js" in with_context and "MapperContext.layer" in with_context, url
        assert "Streets and places" in with_context
    ContextStore(tiny_workspace).clear()
    for url in pages:
        without = context_client.get(url).get_data(as_text=True)
        assert "context.js" not in without and "MapperContext" not in without, url
    assert context_client.get(f"/context/roads.geojson?bbox={EVERYWHERE}&zoom=13"
                              ).status_code == 404


def test_a_new_import_is_served_at_once(context_client, tiny_workspace, tmp_path):
    before = features(context_client, "places", EVERYWHERE, 12)
    found = read_context([write_os_gpkg(tmp_path / "again.gpkg")], EXTENT, layers=["names"])
    ContextStore(tiny_workspace).replace(found.frames, found.sources)
    after = features(context_client, "places", EVERYWHERE, 12)
    assert names(before) == [("suburb", "Eastholme"), ("suburb", "Millbrook")]
    assert names(after) == [("suburb", "Millbrook")]


def test_the_register_form_draws_the_context(demo_copy, tmp_path):
    import html

    from accounts import sign_in

    found = read_context([write_os_gpkg(tmp_path / "os.gpkg"), write_osm(tmp_path / "x.osm")],
                         EXTENT)
    ContextStore(demo_copy).replace(found.frames, found.sources)
    client = create_app({"TESTING": True, "WORKSPACE": str(demo_copy)}).test_client()
    sign_in(client, "officer")
    page = client.get("/register/groups/new").get_data(as_text=True)
    assert "context.js" in page
    start = page.index('data-context="') + len('data-context="')
    options = orjson.loads(html.unescape(page[start:page.index('"', start)]))
    assert options["url"].endswith("/context/{kind}.geojson")
    assert [k["kind"] for k in options["kinds"]] == ["water", "buildings", "roads", "rail",
                                                      "places"]
    assert {k["kind"]: k["min_zoom"] for k in options["kinds"]}["buildings"] == 15
