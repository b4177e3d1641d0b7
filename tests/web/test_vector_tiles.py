"""A vector tile archive as the basemap: ``TILES`` a pbf MBTiles/PMTiles file and
``TILES_STYLE`` a MapLibre style (or the built-in plain style): gzipped tiles served with
their encoding, the pages loading the vendored renderer and drawing it with the translated
style, and clear errors for a style that does not fit."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from accounts import sign_in
from tilefiles import (
    DEMO_VECTOR_LAYERS,
    demo_vector_tile,
    png,
    write_mbtiles,
    write_pmtiles,
)

from mapper.errors import MapperError
from mapper.maps.vectorstyle import open_basemap
from mapper.web import create_app
from mapper.web.basemap import VECTORGRID_JS

STYLE = {"version": 8, "sources": {"t": {"type": "vector", "attribution": "© Style Maps"}},
         "layers": [
             {"id": "water", "type": "fill", "source-layer": "water",
              "paint": {"fill-color": "#3366cc"}},
             {"id": "primary", "type": "line", "source-layer": "roads",
              "filter": ["==", "class", "primary"],
              "paint": {"line-color": "#cc3311", "line-width": 4}},
             {"id": "labels", "type": "symbol", "source-layer": "places"}]}
ZOOMS = (0, 1)


def world(tile: bytes) -> dict:
    return {(z, x, y): tile for z in ZOOMS for x in range(2**z) for y in range(2**z)}


@pytest.fixture
def vector_mbtiles(tmp_path):
    """Gzipped tiles, as MBTiles writers store vector tiles."""
    return write_mbtiles(tmp_path / "v.mbtiles", world(gzip.compress(demo_vector_tile())),
                         metadata={"format": "pbf", "minzoom": "0", "maxzoom": "1",
                                   "name": "Vector test",
                                   "attribution": "© Archive Maps",
                                   "json": json.dumps({"vector_layers": DEMO_VECTOR_LAYERS})})


@pytest.fixture
def vector_pmtiles(tmp_path):
    """Plain (not gzipped) tiles, and no attribution in the metadata."""
    return write_pmtiles(tmp_path / "v.pmtiles", world(demo_vector_tile()), tile_type=1,
                         metadata={"vector_layers": DEMO_VECTOR_LAYERS})


@pytest.fixture
def style_file(tmp_path):
    path = tmp_path / "style.json"
    path.write_text(json.dumps(STYLE))
    return path


def client_of(workspace, tiles, style=""):
    return create_app({"TESTING": True, "WORKSPACE": str(workspace), "TILES": str(tiles),
                       "TILES_STYLE": str(style)}).test_client()


def test_gzipped_tiles_go_out_with_their_encoding(tiny_workspace, vector_mbtiles, style_file):
    client = client_of(tiny_workspace, vector_mbtiles, style_file)
    plain = demo_vector_tile()
    response = client.get("/tiles/1/0/1.pbf", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.mimetype == "application/x-protobuf"
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert gzip.decompress(response.data) == plain
    # a client that takes no gzip gets the protobuf itself, under another tag
    bare = client.get("/tiles/1/0/1.pbf", headers={"Accept-Encoding": "identity"})
    assert bare.status_code == 200 and "Content-Encoding" not in bare.headers
    assert bare.data == plain and bare.headers["ETag"] != response.headers["ETag"]
    again = client.get("/tiles/1/0/1.pbf", headers={
        "Accept-Encoding": "gzip", "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/tiles/1/0/1.png").status_code == 404  # not its format
    assert client.get("/tiles/2/0/0.pbf").status_code == 404  # beyond its zooms


def test_plain_tiles_of_a_pmtiles_archive_go_out_plain(tiny_workspace, vector_pmtiles,
                                                       style_file):
    client = client_of(tiny_workspace, vector_pmtiles, style_file)
    response = client.get("/tiles/0/0/0.pbf", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    assert response.data == demo_vector_tile()


def test_pmtiles_gzipped_tiles(tiny_workspace, tmp_path, style_file):
    path = write_pmtiles(tmp_path / "g.pmtiles", world(gzip.compress(demo_vector_tile())),
                         tile_type=1, tile_compression=2,
                         metadata={"vector_layers": DEMO_VECTOR_LAYERS})
    client = client_of(tiny_workspace, path, style_file)
    response = client.get("/tiles/0/0/0.pbf")  # the test client sends no Accept-Encoding
    assert response.data == demo_vector_tile() and "Content-Encoding" not in response.headers


def _vector_options(page: str) -> dict:
    match = re.search(r"mapperVectorBasemap\(\s*\w+,\s*(\{.*?\})\);", page, re.S)
    assert match, "no vector basemap on the page"
    return json.loads(match[1])


def test_the_map_pages_draw_the_archive_with_the_style(tiny_workspace, vector_mbtiles,
                                                       style_file):
    client = client_of(tiny_workspace, vector_mbtiles, style_file)
    page = client.get("/").get_data(as_text=True)
    assert "L.tileLayer(" not in page
    assert f'src="/static/{VECTORGRID_JS}"' in page
    assert 'src="/static/vectorbasemap.js"' in page
    options = _vector_options(page)
    assert options["url"] == "/tiles/{z}/{x}/{y}.pbf"
    assert (options["minNativeZoom"], options["maxNativeZoom"]) == ZOOMS
    assert options["attribution"] == "© Archive Maps"  # the archive's metadata first
    assert set(options["style"]["layers"]) == {"water", "roads"}
    assert options["style"]["layers"]["roads"][0]["paint"]["color"] == "#cc3311"
    # the renderer and its licence are served by the app
    script = client.get(f"/static/{VECTORGRID_JS}")
    assert script.status_code == 200 and b"VectorGrid" in script.data
    script.close()
    licence = client.get("/static/vendor/leaflet-vectorgrid/LICENCE")
    assert b"BEER-WARE" in licence.data
    licence.close()


def test_the_styles_attribution_when_the_archive_has_none(tiny_workspace, vector_pmtiles,
                                                          style_file):
    client = client_of(tiny_workspace, vector_pmtiles, style_file)
    options = _vector_options(client.get("/").get_data(as_text=True))
    assert options["attribution"] == "© Style Maps"


def test_without_a_style_the_built_in_one_draws_known_layers(tiny_workspace,
                                                             vector_pmtiles):
    opened = open_basemap(str(vector_pmtiles))
    assert set(opened.style["layers"]) == {"water", "roads"}  # "places" it does not know
    line = opened.describe()
    assert "built-in plain style" in line and "pmtiles v.pmtiles, pbf tiles" in line
    client = client_of(tiny_workspace, vector_pmtiles)
    assert set(_vector_options(client.get("/").get_data(as_text=True))["style"]["layers"]
               ) == {"water", "roads"}


def test_the_log_line_names_the_style_and_what_it_left_out(vector_mbtiles, style_file):
    line = open_basemap(str(vector_mbtiles), str(style_file)).describe()
    assert "drawn with the style style.json (2 style layers drawn, 1 left out: " in line
    assert "labels: a symbol layer" in line


def test_the_register_form_draws_the_vector_archive(demo_module_copy, vector_mbtiles,
                                                    style_file):
    # the module's copy: signing the officer in writes users and audit rows
    app = create_app({"TESTING": True, "WORKSPACE": str(demo_module_copy),
                      "TILES": str(vector_mbtiles), "TILES_STYLE": str(style_file)})
    response = sign_in(app.test_client(), "officer").get("/register/groups/new")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    match = re.search(r"data-tiles-vector='([^']*)'", page)
    assert match and "data-tiles=" not in page
    import html

    options = json.loads(html.unescape(match[1]))
    assert options["url"] == "/tiles/{z}/{x}/{y}.pbf"
    assert f'src="/static/{VECTORGRID_JS}"' in page


@pytest.mark.parametrize(("style", "message"), [
    ("{oops", "not JSON"),
    ('{"layers": []}', "has no 'layers'"),
    (json.dumps({"layers": [{"id": "sea", "type": "fill", "source-layer": "ocean"}]}),
     "source layers the tile archive does not have: 'ocean' (layers 'sea'). The "
     "archive's layers are places, roads, water"),
])
def test_a_style_that_does_not_fit_is_refused_naming_it(tiny_workspace, vector_mbtiles,
                                                        tmp_path, style, message):
    path = tmp_path / "bad-style.json"
    path.write_text(style)
    with pytest.raises(MapperError) as caught:
        client_of(tiny_workspace, vector_mbtiles, path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_a_vector_archive_of_unknown_layers_needs_a_style(tiny_workspace, tmp_path):
    path = write_pmtiles(tmp_path / "contours.pmtiles", {(0, 0, 0): demo_vector_tile()},
                         tile_type=1, metadata={"vector_layers": [{"id": "contours"}]})
    with pytest.raises(MapperError, match=r"knows none of .*\(contours\).*--tiles-style"):
        client_of(tiny_workspace, path)


def test_a_style_for_a_raster_archive_is_refused(tiny_workspace, tmp_path, style_file):
    path = write_mbtiles(tmp_path / "r.mbtiles", {(0, 0, 0): png((1, 2, 3))},
                         metadata={"format": "png"})
    with pytest.raises(MapperError, match="holds raster .*Leave out --tiles-style"):
        client_of(tiny_workspace, path, style_file)


def test_every_map_page_draws_the_vector_archive(demo_module_copy, vector_mbtiles, style_file):
    from mapper.geo import to_display
    from mapper.store import Workspace

    shared_demo = demo_module_copy  # signing the officer in writes users and audit rows
    app = create_app({"TESTING": True, "WORKSPACE": str(shared_demo),
                      "TILES": str(vector_mbtiles), "TILES_STYLE": str(style_file)})
    workspace = Workspace(shared_demo)
    can_id = workspace.read_layer("neighbourhoods")["can_id"].iloc[0]
    ward = workspace.read_layer("wards")
    point = to_display(ward.geometry.iloc[:1].centroid).iloc[0]
    officer = sign_in(app.test_client(), "officer")
    for url in ("/", "/priority", f"/neighbourhood/{can_id}",
                f"/ward/{ward['ward_code'].iloc[0]}",
                f"/incident?lat={point.y:.5f}&lon={point.x:.5f}"):
        response = officer.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert "L.tileLayer(" not in page, url
        assert _vector_options(page)["url"] == "/tiles/{z}/{x}/{y}.pbf", url
        assert page.count(f'src="/static/{VECTORGRID_JS}"') == 1, url


def test_serve_help_names_the_style_option(capsys):
    from mapper.cli import main

    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--tiles-style" in out and "MAPPER_TILES_STYLE" in out
