"""A vector tile basemap in headless Chromium: with ``TILES`` a vector MBTiles file
(gzipped pbf tiles, made in code) over the demo area and ``TILES_STYLE`` a style written
here, the map pages and the register form ask the app (127.0.0.1) for .pbf tiles,
Leaflet.VectorGrid draws them on canvases in the tile pane in the style's colours (water
blue, the primary road red, the unstyled path and places not at all), the attribution is
the archive's, and no console error or other-host request happens, at 1280 and 390 px."""

from __future__ import annotations

import gzip
import json
from urllib.parse import urlsplit

import pytest
from tilefiles import DEMO_VECTOR_LAYERS, demo_vector_tile, write_mbtiles

from mapper.geo import to_display
from mapper.store import Workspace
from mapper.tilearchive import tile_of
from mapper.web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ZOOMS = range(8, 13)
WATER, ROAD = (51, 102, 204), (204, 51, 17)
STYLE = {"version": 8, "layers": [
    {"id": "bg", "type": "background", "paint": {"background-color": "#eeeeee"}},
    {"id": "water", "type": "fill", "source-layer": "water",
     "paint": {"fill-color": "#3366cc"}},
    {"id": "primary", "type": "line", "source-layer": "roads",
     "filter": ["==", "class", "primary"],
     "paint": {"line-color": "#cc3311", "line-width": 6}},
    {"id": "names", "type": "symbol", "source-layer": "places"}]}

#: the colours at two points of each drawn tile canvas, as fractions of its size: off the
#: diagonals (water), the middle (the primary road from corner to corner) and a point on
#: the other diagonal (the path, which the style leaves out: water)
PIXELS_JS = """() => [...document.querySelectorAll('.leaflet-tile-pane canvas')]
  .filter(c => c.width > 0).map(c => {
    const ctx = c.getContext('2d');
    const at = (fx, fy) => Array.from(ctx.getImageData(
        Math.floor(c.width * fx), Math.floor(c.height * fy), 1, 1).data);
    return [at(0.78, 0.12), at(0.5, 0.5), at(0.12, 0.88)];
  })"""


@pytest.fixture(scope="module")
def vector_archive(shared_demo, tmp_path_factory):
    wards = Workspace(shared_demo).read_layer("wards")
    west, south, east, north = (float(v) for v in to_display(wards.geometry).total_bounds)
    tile = gzip.compress(demo_vector_tile())
    tiles = {}
    for z in ZOOMS:
        (x0, y0), (x1, y1) = tile_of(west, north, z), tile_of(east, south, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                tiles[(z, x, y)] = tile
    folder = tmp_path_factory.mktemp("vector-tiles")
    style = folder / "style.json"
    style.write_text(json.dumps(STYLE))
    archive = write_mbtiles(folder / "demo.mbtiles", tiles, metadata={
        "format": "pbf", "minzoom": str(min(ZOOMS)), "maxzoom": str(max(ZOOMS)),
        "bounds": f"{west},{south},{east},{north}", "name": "Demo vector tiles",
        "attribution": '© <a href="https://example.org/vector">Vector test</a>',
        "json": json.dumps({"vector_layers": DEMO_VECTOR_LAYERS})})
    return archive, style


def _check_drawn(page, answers):
    page.wait_for_function(
        "() => [...document.querySelectorAll('.leaflet-tile-pane canvas')]"
        ".some(c => c.width > 0)")
    page.wait_for_timeout(300)  # the tile's fetch and drawing finish after the canvas
    assert answers, "no tile was asked for"
    assert {urlsplit(url).hostname for url, _ in answers} == {"127.0.0.1"}
    assert {status for _, status in answers} <= {200, 204}
    paths = [urlsplit(url).path for url, _ in answers]
    assert all(p.startswith("/tiles/") and p.endswith(".pbf") for p in paths)
    assert {int(p.split("/")[2]) for p in paths} <= set(ZOOMS)
    drawn = page.evaluate(PIXELS_JS)
    assert drawn, "no tile canvas"
    full = [tile for tile in drawn if all(px[3] == 255 for px in tile)]
    assert full, f"no canvas was drawn on: {drawn[:3]}"
    for water, middle, path_corner in full:
        assert tuple(water[:3]) == WATER, water
        assert tuple(middle[:3]) == ROAD, middle
        assert tuple(path_corner[:3]) == WATER  # the path is not in the style
    assert page.locator(
        ".leaflet-control-attribution a[href='https://example.org/vector']").count()


@pytest.fixture(scope="module")
def first_can(shared_demo) -> str:
    return str(Workspace(shared_demo).read_layer("neighbourhoods")["can_id"].iloc[0])


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("path", ["/", "/neighbourhood/{can}"])
def test_map_pages_draw_the_vector_tiles(browser_page, shared_demo, vector_archive,
                                         live_server, first_can, artifacts_dir, width, path):
    archive, style = vector_archive
    base_url = live_server(create_app({"WORKSPACE": str(shared_demo), "TILES": str(archive),
                                       "TILES_STYLE": str(style)}))
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: "/tiles/" in r.url and answers.append((r.url, r.status)))
    response = page.goto(base_url + path.format(can=first_can), wait_until="networkidle")
    assert response is not None and response.status == 200
    _check_drawn(page, answers)
    name = path.strip("/").split("/")[0] or "overview"
    page.locator(".leaflet-container").first.screenshot(
        path=str(artifacts_dir / f"vector-basemap-{name}-{width}.png"))


@pytest.mark.parametrize("width", [1280, 390])
def test_the_register_form_draws_the_vector_tiles(browser_page, demo_copy, vector_archive,
                                                  live_server, width):
    from accounts import browser_sign_in

    archive, style = vector_archive
    base_url = live_server(create_app({"WORKSPACE": str(demo_copy), "TILES": str(archive),
                                       "TILES_STYLE": str(style)}))
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
    browser_sign_in(page, base_url, demo_copy, "officer")
    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: "/tiles/" in r.url and answers.append((r.url, r.status)))
    page.goto(f"{base_url}/register/groups/new", wait_until="networkidle")
    _check_drawn(page, answers)
