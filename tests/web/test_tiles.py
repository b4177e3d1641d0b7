"""The offline basemap: ``/tiles/{z}/{x}/{y}.{ext}`` served from an MBTiles or PMTiles
file (``TILES`` = its path), and every map page drawing it as the background with the
archive's attribution and zooms."""

from __future__ import annotations

import re
import sqlite3

import pytest
from accounts import sign_in
from tilefiles import png, world_tiles, write_mbtiles, write_pmtiles

from mapper.geo import to_display
from mapper.store import Workspace
from mapper.tilearchive import tile_of
from mapper.web import create_app

ATTRIBUTION = '© <a href="https://example.org/copyright">Test Map</a> contributors'
LONDON = (-0.52, 51.28, 0.34, 51.70)


@pytest.fixture
def mbtiles(tmp_path):
    return write_mbtiles(tmp_path / "world.mbtiles", world_tiles((0, 1)), metadata={
        "format": "png", "minzoom": "0", "maxzoom": "1", "name": "Test world",
        "attribution": ATTRIBUTION})


def make_client(workspace, tiles):
    return create_app({"TESTING": True, "WORKSPACE": str(workspace),
                       "TILES": str(tiles)}).test_client()


def test_tiles_come_back_by_xyz_with_their_type(tiny_workspace, mbtiles):
    client = make_client(tiny_workspace, mbtiles)
    tiles = world_tiles((0, 1))
    for (z, x, y), data in tiles.items():
        response = client.get(f"/tiles/{z}/{x}/{y}.png")
        assert response.status_code == 200, (z, x, y)
        assert response.data == data and response.mimetype == "image/png"
    # by hand: XYZ 1/0/0 is the north-west tile, stored at TMS row 1
    db = sqlite3.connect(mbtiles)
    stored = db.execute("SELECT tile_data FROM tiles WHERE zoom_level = 1 AND "
                        "tile_column = 0 AND tile_row = 1").fetchone()[0]
    db.close()
    assert client.get("/tiles/1/0/0.png").data == stored == tiles[(1, 0, 0)]


def test_outside_the_archive_is_404(tiny_workspace, mbtiles):
    client = make_client(tiny_workspace, mbtiles)
    assert client.get("/tiles/2/0/0.png").status_code == 404  # beyond its zooms
    assert client.get("/tiles/1/2/0.png").status_code == 404  # off the grid
    assert client.get("/tiles/0/0/0.jpg").status_code == 404  # not its format
    assert client.get("/tiles/-1/0/0.png").status_code == 404


def test_outside_its_bounds_is_404_and_a_gap_inside_is_empty(tiny_workspace, tmp_path):
    z, (x, y) = 10, tile_of(-0.1, 51.5, 10)
    path = write_mbtiles(tmp_path / "london.mbtiles", {(z, x, y): png((5, 5, 5))}, metadata={
        "format": "png", "minzoom": "10", "maxzoom": "10",
        "bounds": ",".join(map(str, LONDON))})
    client = make_client(tiny_workspace, path)
    assert client.get(f"/tiles/{z}/{x}/{y}.png").status_code == 200
    paris = tile_of(2.35, 48.85, 10)
    assert client.get(f"/tiles/10/{paris[0]}/{paris[1]}.png").status_code == 404
    gap = client.get(f"/tiles/{z}/{x + 1}/{y}.png")  # inside London, left out of the file
    assert gap.status_code == 204 and gap.data == b""


def test_tiles_are_cached_and_revalidated(tiny_workspace, mbtiles):
    client = make_client(tiny_workspace, mbtiles)
    first = client.get("/tiles/1/1/0.png")
    etag = first.headers["ETag"]
    assert "max-age=86400" in first.headers["Cache-Control"]
    again = client.get("/tiles/1/1/0.png", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/tiles/1/1/1.png", headers={"If-None-Match": etag})
    assert other.status_code == 200  # each tile its own tag


def test_no_archive_no_tiles(client):
    assert client.get("/tiles/0/0/0.png").status_code == 404


def test_pmtiles_serves_the_same(tiny_workspace, tmp_path):
    tiles = world_tiles((0, 1))
    path = write_pmtiles(tmp_path / "world.pmtiles", tiles,
                         metadata={"attribution": "PM test"})
    client = make_client(tiny_workspace, path)
    for (z, x, y), data in tiles.items():
        assert client.get(f"/tiles/{z}/{x}/{y}.png").data == data
    assert "PM test" in client.get("/").get_data(as_text=True)


def _tile_layer(page: str) -> tuple[str, dict]:
    match = re.search(r'L\.tileLayer\(\s*"([^"]+)",\s*(\{.*?\})\s*\)', page, re.S)
    assert match, "no tile layer on the page"
    options = match[2]
    return match[1], {
        key: value for key, value in re.findall(r'"(\w+)":\s*("[^"]*"|[\d.]+)', options)}


@pytest.fixture(scope="module")
def demo_pages(demo_module_copy, tmp_path_factory):
    """The demo's map pages with the world archive as their background (on this module's
    copy of the demo: signing the officer in writes users and audit rows)."""
    shared_demo = demo_module_copy
    path = write_mbtiles(tmp_path_factory.mktemp("tiles") / "world.mbtiles",
                         world_tiles((0, 1)), metadata={"format": "png", "maxzoom": "1",
                                                        "attribution": ATTRIBUTION})
    app = create_app({"TESTING": True, "WORKSPACE": str(shared_demo), "TILES": str(path)})
    workspace = Workspace(shared_demo)
    can_id = workspace.read_layer("neighbourhoods")["can_id"].iloc[0]
    ward = workspace.read_layer("wards")
    point = to_display(ward.geometry.iloc[:1].centroid).iloc[0]
    officer = sign_in(app.test_client(), "officer")
    pages = {}
    for url in ("/", "/priority", f"/neighbourhood/{can_id}",
                f"/ward/{ward['ward_code'].iloc[0]}",
                f"/incident?lat={point.y:.5f}&lon={point.x:.5f}", "/register/groups/new"):
        response = officer.get(url)
        assert response.status_code == 200, url
        pages[url.split("?")[0].split("/")[1] or "overview"] = response.get_data(as_text=True)
    return pages


@pytest.mark.parametrize("page", ["overview", "priority", "neighbourhood", "ward", "incident"])
def test_map_pages_draw_the_archive(demo_pages, page):
    html = demo_pages[page]
    url, options = _tile_layer(html)
    assert url == "/tiles/{z}/{x}/{y}.png"
    assert options["maxNativeZoom"] == "1" and options["minNativeZoom"] == "0"
    assert "example.org/copyright" in html and "Test Map" in html
    assert "tile.openstreetmap.org" not in html
    assert "comes from a tile archive served by this app" in html


def test_the_register_form_draws_the_archive(demo_pages):
    html = demo_pages["register"]
    assert 'data-tiles="/tiles/{z}/{x}/{y}.png"' in html
    assert 'data-tiles-max-native-zoom="1"' in html
    assert "example.org/copyright" in html


def test_attribution_markup_is_cleaned(tiny_workspace, tmp_path):
    path = write_mbtiles(tmp_path / "x.mbtiles", {(0, 0, 0): png((1, 1, 1))}, metadata={
        "attribution": '<script>alert(1)</script><a href="javascript:x">bad</a> '
                       '<a href="https://ok.example">ok</a>'})
    page = make_client(tiny_workspace, path).get("/").get_data(as_text=True)
    layer = page.split("L.tileLayer")[1]
    assert "<script>" not in layer and "alert(1)" in layer  # the text stays, not the tag
    assert "javascript:x" not in page
    assert 'href=\\"https://ok.example\\"' in page or 'href="https://ok.example"' in page
