"""Context layers in headless Chromium: on a demo copy with roads, water, rail, buildings
and place names imported (files built in code), every map page asks the app for them as
the map moves, draws them on a canvas in the ``context`` pane under the ward layer's
pane, shows their attribution and a "Streets and places" switch, and logs no console
error nor asks another host, at 1280 px and 390 px wide."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from contextfiles import write_os_gpkg, write_osm

from mapper.context_store import ContextStore
from mapper.sources.context_layers import read_context
from mapper.store import Workspace
from mapper.web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: a street-level view of the context files' features (inside the demo's area)
LAT, LON, ZOOM = 51.515, -0.105, 15

#: (pixels drawn on the context pane's canvas, its z-index, the overlay pane's z-index,
#: the overlay pane's drawn pixels)
PANES_JS = """() => {
  function inked(pane) {
    var n = 0;
    (pane ? pane.querySelectorAll('canvas') : []).forEach(function (canvas) {
      if (!canvas.width || !canvas.height) { return; }
      var data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      for (var i = 3; i < data.length; i += 4) { if (data[i]) { n++; } }
    });
    return n;
  }
  var map = document.querySelector('.leaflet-container');
  var context = map.querySelector('.leaflet-context-pane');
  var overlay = map.querySelector('.leaflet-overlay-pane');
  return [inked(context), Number(getComputedStyle(context).zIndex),
          Number(getComputedStyle(overlay).zIndex), inked(overlay),
          map.querySelectorAll('.leaflet-contextLabels-pane .context-label').length];
}"""


@pytest.fixture(scope="module")
def context_demo(shared_demo, tmp_path_factory):
    import shutil

    directory = tmp_path_factory.mktemp("context-demo") / "demo"
    shutil.copytree(shared_demo, directory)
    files = tmp_path_factory.mktemp("context-files")
    wards = Workspace(directory).read_layer("wards")
    west, south, east, north = (float(v) for v in wards.total_bounds)
    found = read_context([write_os_gpkg(files / "os.gpkg"), write_osm(files / "x.osm")],
                         (west, south, east, north))
    ContextStore(directory).replace(found.frames, found.sources)
    return directory


@pytest.fixture(scope="module")
def first_can(context_demo) -> str:
    return str(Workspace(context_demo).read_layer("neighbourhoods")["can_id"].iloc[0])


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("path", ["/", "/priority", "/neighbourhood/{can}",
                                  f"/incident?lat={LAT}&lon={LON}"])
def test_map_pages_draw_the_context_under_the_data(browser_page, context_demo, first_can,
                                                   live_server, artifacts_dir, width, path):
    base_url = live_server(create_app({"WORKSPACE": str(context_demo)}))
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
    asked: list[tuple[str, int]] = []
    page.on("response", lambda r: "/context/" in r.url and asked.append((r.url, r.status)))
    response = page.goto(base_url + path.format(can=first_can), wait_until="networkidle")
    assert response is not None and response.status == 200
    with page.expect_response(lambda r: "/context/buildings.geojson" in r.url):
        page.evaluate(f"() => window.MapState.map.setView([{LAT}, {LON}], {ZOOM}, "
                      "{animate: false})")
    page.wait_for_function("() => document.querySelectorAll("
                           "'.leaflet-contextLabels-pane .context-label').length > 0")
    page.wait_for_load_state("networkidle")
    inked, context_z, overlay_z, overlay_inked, labels = page.evaluate(PANES_JS)
    assert inked > 200, "the context pane drew nothing"
    assert context_z < overlay_z  # under the ward layer's pane
    if path in ("/", "/priority"):  # every ward is drawn, so some are in view
        assert overlay_inked > 0  # the wards are drawn above it
    assert labels >= 1  # a place name (Eastholme) in view
    assert asked and {status for _, status in asked} <= {200, 304}
    assert {urlsplit(url).hostname for url, _ in asked} == {"127.0.0.1"}
    kinds = {urlsplit(url).path.split("/")[-1] for url, _ in asked}
    assert {"roads.geojson", "buildings.geojson", "places.geojson"} <= kinds
    zooms = {parse_qs(urlsplit(url).query)["zoom"][0] for url, _ in asked}
    assert str(ZOOM) in zooms
    attribution = page.locator(".leaflet-control-attribution").inner_text()
    assert "OpenStreetMap contributors" in attribution and "Crown copyright" in attribution
    control = page.locator(".leaflet-control-layers").first
    assert "Streets and places" in control.inner_html()
    name = path.strip("/").split("/")[0].split("?")[0] or "overview"
    page.locator(".leaflet-container").first.screenshot(
        path=str(artifacts_dir / f"context-{name}-{width}.png"))


@pytest.mark.parametrize("width", [1280, 390])
def test_the_context_switches_off(browser_page, context_demo, live_server, width):
    base_url = live_server(create_app({"WORKSPACE": str(context_demo)}))
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
    page.goto(f"{base_url}/priority?map={ZOOM}/{LAT}/{LON}", wait_until="networkidle")
    page.wait_for_function("() => document.querySelectorAll("
                           "'.leaflet-contextLabels-pane .context-label').length > 0")
    page.evaluate("""() => {
      var box = document.querySelector('.leaflet-control-layers');
      var label = [...box.querySelectorAll('label')]
        .find(l => l.textContent.includes('Streets and places'));
      label.querySelector('input').click();
    }""")
    page.wait_for_function("() => !document.querySelector("
                           "'.leaflet-contextLabels-pane .context-label')")
    assert "OpenStreetMap contributors" not in page.locator(
        ".leaflet-control-attribution").inner_text()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_register_form_draws_the_context(browser_page, context_demo, live_server, width):
    from accounts import browser_sign_in

    base_url = live_server(create_app({"WORKSPACE": str(context_demo)}))
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
    browser_sign_in(page, base_url, context_demo, "officer")
    page.goto(f"{base_url}/register/groups/new", wait_until="networkidle")
    with page.expect_response(lambda r: "/context/buildings.geojson" in r.url):
        page.evaluate(f"() => document.getElementById('editor-map').leafletMap"
                      f".setView([{LAT}, {LON}], {ZOOM}, {{animate: false}})")
    page.wait_for_function("() => document.querySelectorAll("
                           "'.leaflet-contextLabels-pane .context-label').length > 0")
    page.wait_for_load_state("networkidle")
    inked = page.evaluate(PANES_JS)[0]
    assert inked > 200
    assert "OpenStreetMap contributors" in page.locator(
        ".leaflet-control-attribution").inner_text()
    assert "Streets and places" in page.locator(".leaflet-control-layers").inner_html()
