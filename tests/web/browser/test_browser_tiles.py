"""The offline basemap in headless Chromium: with ``TILES`` set to an MBTiles file covering
the demo area, the map pages ask the app (127.0.0.1) for its tiles, draw them, show the
archive's attribution, and log no console error, at 1280 px and 390 px wide; a tile the
archive leaves out (204) leaves a gap and no error."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from tilefiles import png, write_mbtiles

from mapper.geo import to_display
from mapper.store import Workspace
from mapper.tilearchive import tile_of
from mapper.web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ZOOMS = range(8, 13)


@pytest.fixture(scope="module")
def archive(shared_demo, tmp_path_factory):
    """Checkered tiles over the demo's wards at zooms 8-12, one tile left out at each."""
    wards = Workspace(shared_demo).read_layer("wards")
    west, south, east, north = (float(v) for v in to_display(wards.geometry).total_bounds)
    tiles = {}
    for z in ZOOMS:
        (x0, y0), (x1, y1) = tile_of(west, north, z), tile_of(east, south, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                light = (x + y) % 2
                tiles[(z, x, y)] = png((225, 235, 225) if light else (200, 215, 230), size=64)
        tiles.pop((z, x0, y0))  # a gap in the north-west corner: the app answers 204
    return write_mbtiles(tmp_path_factory.mktemp("tiles") / "demo.mbtiles", tiles, metadata={
        "format": "png", "minzoom": str(min(ZOOMS)), "maxzoom": str(max(ZOOMS)),
        "bounds": f"{west},{south},{east},{north}", "name": "Demo test tiles",
        "attribution": '© <a href="https://example.org/">Test tiles</a>'})


@pytest.fixture(scope="module")
def first_can(shared_demo) -> str:
    return str(Workspace(shared_demo).read_layer("neighbourhoods")["can_id"].iloc[0])


@pytest.fixture
def base_url(shared_demo, archive, live_server):
    return live_server(create_app({"WORKSPACE": str(shared_demo), "TILES": str(archive)}))


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("path", ["/", "/priority", "/neighbourhood/{can}"])
def test_map_pages_draw_the_local_tiles(browser_page, base_url, first_can, artifacts_dir,
                                        width, path):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: "/tiles/" in r.url and answers.append((r.url, r.status)))
    response = page.goto(base_url + path.format(can=first_can), wait_until="networkidle")
    assert response is not None and response.status == 200
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.leaflet-tile-loaded')]"
        ".some(t => t.naturalWidth > 0)")
    assert answers, "no tile was asked for"
    hosts = {urlsplit(url).hostname for url, _ in answers}
    assert hosts == {"127.0.0.1"}
    assert {status for _, status in answers} <= {200, 204}
    paths = [urlsplit(url).path for url, _ in answers]
    assert all(p.startswith("/tiles/") and p.endswith(".png") for p in paths)
    zooms = {int(p.split("/")[2]) for p in paths}
    assert zooms <= set(ZOOMS)
    if path == "/":  # the whole area: the corner left out of the file is asked for too
        assert 204 in {status for _, status in answers}
    assert page.locator(".leaflet-control-attribution a[href='https://example.org/']").count()
    name = path.strip("/").split("/")[0] or "overview"
    page.locator(".leaflet-container").first.screenshot(
        path=str(artifacts_dir / f"basemap-{name}-{width}.png"))


@pytest.mark.parametrize("width", [1280, 390])
def test_the_register_form_draws_the_local_tiles(browser_page, demo_copy, archive,
                                                 live_server, width):
    from accounts import browser_sign_in

    base_url = live_server(create_app({"WORKSPACE": str(demo_copy), "TILES": str(archive)}))
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
    browser_sign_in(page, base_url, demo_copy, "officer")
    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: "/tiles/" in r.url and answers.append((r.url, r.status)))
    page.goto(f"{base_url}/register/groups/new", wait_until="networkidle")
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.leaflet-tile-loaded')]"
        ".some(t => t.naturalWidth > 0)")
    assert answers and {urlsplit(url).hostname for url, _ in answers} == {"127.0.0.1"}
    assert {status for _, status in answers} <= {200, 204}
    assert page.locator(".leaflet-control-attribution a[href='https://example.org/']").count()
