"""The priority map loading its wards for the view (the size rule lowered so the demo
takes that path), in headless Chromium at 1280 and 390 px: every ward of the view drawn
on the canvas from tile answers (no ward shapes in the page), tooltips, ward links, the
CAN and borough outlines and the CANs' labels from their own tile answers (drawn again
after a pan and a new zoom band), a new zoom band reloading, no console errors and no
other-host requests; and the embedded path left as it was below the threshold."""

from __future__ import annotations

import shutil

import pytest

from mapper.web import create_app

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)

STATE_JS = """
() => {
    const map = window[document.querySelector('.folium-map').id];
    const wards = [];
    let cans = 0;
    const boroughs = [];
    const view = map.getBounds();
    let cansInView = 0;
    map.eachLayer(layer => {
        const props = layer.feature && layer.feature.properties;
        if (props && props.ward_code && typeof layer.getBounds === 'function') {
            wards.push({code: props.ward_code, canvas: layer._renderer instanceof L.Canvas});
        }
        if (props && props.can_id && props.label_at && layer.options.dashArray) {
            cans += 1;
            if (view.intersects(layer.getBounds())) { cansInView += 1; }
        }
        if (props && props.borough_code && typeof layer.getBounds === 'function') {
            boroughs.push(props.borough_code);
        }
    });
    const box = map.getContainer();
    return {wards, cans, cansInView, boroughs,
            canLabels: document.querySelectorAll('.pr-can-label').length,
            loaded: box.getAttribute('data-wards-loaded'),
            pending: box.getAttribute('data-wards-pending'), zoom: map.getZoom(),
            paths: document.querySelectorAll('.leaflet-overlay-pane path').length};
}
"""

#: the wards have their view, and so have the outline layers loaded for it (when there)
READY_JS = ("() => { const b = document.querySelector('.folium-map'); "
            "return b && b.getAttribute('data-wards-pending') === '0' "
            "&& b.hasAttribute('data-wards-loaded') "
            "&& ['cans', 'boroughs'].every(k => !b.hasAttribute('data-' + k + '-pending') "
            "|| (b.getAttribute('data-' + k + '-pending') === '0' "
            "&& b.hasAttribute('data-' + k + '-loaded'))); }")
WARD_POINT_JS = """(code) => {
    const map = window[document.querySelector('.folium-map').id];
    let p = null;
    map.eachLayer(l => {
        if (l.feature && l.feature.properties.ward_code === code && l.getCenter) {
            p = map.latLngToContainerPoint(l.getCenter());
        }
    });
    return p;
}"""


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    from mapper.analysis_run import analyse
    from mapper.config import Settings
    from mapper.pipeline import build_demo
    from mapper.store import Workspace

    directory = tmp_path_factory.mktemp("inview-browser") / "demo"
    workspace = Workspace(directory)
    build_demo(workspace)
    analyse(workspace, Settings(stability_draws=10))
    return directory


def _serve(demo_dir, tmp_path, live_server, **config):
    directory = tmp_path / "ws"
    shutil.copytree(demo_dir, directory)
    return live_server(create_app({"WORKSPACE": str(directory), "TILES": "none", **config}))


def _tile_zoom(zoom: float) -> int:
    from mapper.maps.inview import BANDS

    return [b.tile_zoom for b in BANDS if zoom >= b.min_zoom][-1]


def _hover_ward(page, code: str, *texts: str) -> None:
    """Move the pointer onto ward `code` and wait for its tooltip, saying all `texts`."""
    box = page.locator(".folium-map").bounding_box()
    point = page.evaluate(WARD_POINT_JS, code)
    page.mouse.move(box["x"] + point["x"] - 20, box["y"] + point["y"] - 20)
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"], steps=5)
    page.wait_for_function(
        "(texts) => [...document.querySelectorAll('.leaflet-tooltip')]"
        ".some(t => texts.every(x => t.textContent.includes(x)))",
        arg=list(texts), timeout=5000)


def _outlines_drawn(state: dict, outlines: dict[str, list[str]], zoom: int) -> None:
    """The CAN and borough outlines of the view are drawn (each once), and the last
    asked for were the tiles of the zoom's band."""
    assert state["cans"] >= 1 and state["canLabels"] == state["cans"]
    assert state["boroughs"] and len(set(state["boroughs"])) == len(state["boroughs"])
    for kind, asked in outlines.items():
        assert f"/priority/outlines/{kind}/{_tile_zoom(zoom)}/" in asked[-1], kind


def _wards(demo_dir):
    from mapper.store import Workspace

    return Workspace(demo_dir).read_layer("ward_summary")


@pytest.mark.parametrize("width", WIDTHS)
def test_priority_map_loads_wards_for_the_view(browser_page, demo_dir, tmp_path, live_server,
                                               width, artifacts_dir):
    base = _serve(demo_dir, tmp_path, live_server, INVIEW_WARDS=1)
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    tiles = []
    outlines: dict[str, list[str]] = {"cans": [], "boroughs": []}
    page.on("request", lambda r: "/priority/wards/" in r.url and tiles.append(r.url))
    labels_asked: list[str] = []
    page.on("request", lambda r: "/priority/labels.json" in r.url and labels_asked.append(r.url))
    for kind, asked in outlines.items():
        page.on("request", lambda r, kind=kind, asked=asked:
                f"/priority/outlines/{kind}/" in r.url and asked.append(r.url))
    response = page.goto(base + "/priority", wait_until="networkidle")
    assert response is not None and response.status == 200
    html = response.text()
    # no shape in the page: wards, CAN and borough outlines all come with the view
    assert "mapperInViewLayer(" in html and '"coordinates"' not in html
    page.wait_for_function(READY_JS)
    state = page.evaluate(STATE_JS)
    wards = _wards(demo_dir)
    # the whole demo area is in view: every ward, once, on the canvas
    assert sorted(w["code"] for w in state["wards"]) == sorted(wards["ward_code"])
    assert all(w["canvas"] for w in state["wards"])
    assert int(state["loaded"]) == len(wards)
    assert tiles and all(f"/priority/wards/{_tile_zoom(state['zoom'])}/" in u for u in tiles)
    assert state["cans"] == wards["can_id"].nunique()
    assert state["canLabels"] == wards["can_id"].nunique()
    assert sorted(state["boroughs"]) == sorted(wards["borough_code"].unique())
    for kind, asked in outlines.items():
        assert asked and all(f"/priority/outlines/{kind}/{_tile_zoom(state['zoom'])}/" in u
                             for u in asked), kind

    # a tooltip from the fetched properties, and the click to the ward's page
    can_ward = wards.dropna(subset=["can_id"]).iloc[0]
    page.evaluate("document.querySelector('#priority-map').scrollIntoView()")
    _hover_ward(page, can_ward["ward_code"], can_ward["ward_name"], "Residents")
    page.screenshot(path=str(artifacts_dir / f"priority-inview-{width}.png"))

    # the counts per ward are fetched when the layer is first switched on, not embedded
    counts_asked = []
    page.on("request", lambda r: "/priority/counts/" in r.url and counts_asked.append(r.url))
    assert "countsUrl" in html and "kind: kind, counts:" not in html
    page.evaluate("() => { const m = window[document.querySelector('.folium-map').id]; "
                  "m.addLayer(m.pointSwitches.groups.holder); }")
    page.wait_for_function("() => { const m = window[document.querySelector('.folium-map')"
                           ".id]; const c = m.pointSwitches.groups.counts(); "
                           "return c && c.getLayers().some(l => l.count > 0); }")
    assert [u.split("?")[0].split("/priority")[1] for u in counts_asked] == [
        "/counts/groups.json"]

    # other zoom bands: the layer starts again with that band's tiles
    for zoom in (10, 14):
        before = len(tiles)
        page.evaluate("(z) => { const m = window[document.querySelector('.folium-map').id]; "
                      "m.setMinZoom(4); m.setZoom(z, {animate: false}); }", zoom)
        page.wait_for_function(READY_JS)
        assert len(tiles) > before
        assert all(f"/priority/wards/{_tile_zoom(zoom)}/" in u for u in tiles[before:])
        state = page.evaluate(STATE_JS)
        assert 0 < int(state["loaded"]) <= len(wards)
        codes = [w["code"] for w in state["wards"]]
        assert len(set(codes)) == len(codes)  # each ward once
        assert state["paths"] == 0  # drawn on the canvas, not an SVG path each
        _outlines_drawn(state, outlines, zoom)

    page.evaluate("""(code) => {
        const map = window[document.querySelector('.folium-map').id];
        map.eachLayer(l => {
            if (l.feature && l.feature.properties.ward_code === code && l.getCenter) {
                map.setView(l.getCenter(), map.getZoom(), {animate: false});
            }
        });
    }""", can_ward["ward_code"])
    page.wait_for_function(READY_JS)
    # panned onto a CAN's ward at zoom 14: its outline, label and borough still drawn,
    # and the ward names (fetched once, when first zoomed in far enough)
    state = page.evaluate(STATE_JS)
    _outlines_drawn(state, outlines, 14)
    assert state["cansInView"] >= 1 and state["canLabels"] >= 1
    page.wait_for_function("(name) => [...document.querySelectorAll('.map-label--ward')]"
                           ".some(e => e.textContent === name)", arg=can_ward["ward_name"])
    assert len(labels_asked) == 1
    page.wait_for_timeout(400)  # the address bar's update (mapstate.js) is debounced
    size = page.evaluate("() => { const s = window[document.querySelector('.folium-map')"
                         ".id].getSize(); return [s.x, s.y]; }")
    box = page.locator(".folium-map").bounding_box()
    with page.expect_navigation(wait_until="networkidle"):
        page.mouse.click(box["x"] + size[0] / 2, box["y"] + size[1] / 2)
    assert page.url.endswith("/ward/" + can_ward["ward_code"])
    browser_page.assert_clean()


def test_small_map_still_embeds_its_wards(browser_page, demo_dir, tmp_path, live_server):
    base = _serve(demo_dir, tmp_path, live_server)
    page = browser_page.page
    tiles = []
    page.on("request", lambda r: "/priority/wards/" in r.url and tiles.append(r.url))
    response = page.goto(base + "/priority", wait_until="networkidle")
    assert response is not None and "mapperInViewLayer(" not in response.text()
    page.wait_for_function("() => document.querySelector('.leaflet-overlay-pane canvas') "
                           "!== null")
    state = page.evaluate(STATE_JS)
    assert len(state["wards"]) == len(_wards(demo_dir)) and tiles == []
    browser_page.assert_clean()


@pytest.mark.parametrize("width", WIDTHS)
def test_overview_map_loads_wards_for_the_view(browser_page, demo_dir, tmp_path, live_server,
                                               width):
    base = _serve(demo_dir, tmp_path, live_server, INVIEW_WARDS=1)
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    tiles = []
    page.on("request", lambda r: "/overview/wards/" in r.url and tiles.append(r.url))
    response = page.goto(base + "/", wait_until="networkidle")
    assert response is not None and response.status == 200
    page.wait_for_function(READY_JS)
    state = page.evaluate(STATE_JS)
    wards = _wards(demo_dir)
    assert sorted(w["code"] for w in state["wards"]) == sorted(wards["ward_code"])
    assert all(w["canvas"] for w in state["wards"]) and state["paths"] == 0
    assert tiles
    # the borough outlines come with the view too
    assert sorted(state["boroughs"]) == sorted(wards["borough_code"].unique())
    ward = wards.iloc[0]
    _hover_ward(page, ward["ward_code"], ward["ward_name"])
    browser_page.assert_clean()


#: per point layer on the map: how many markers it holds, and whether it is filled
MARKERS_JS = """
(kind) => {
    const map = window[document.querySelector('.folium-map').id];
    const group = map.pointLayers[kind];
    const view = map.getBounds();
    let all = 0, inView = 0;
    group.eachLayer(m => { all += 1; if (view.contains(m.getLatLng())) { inView += 1; } });
    return {all, inView, filled: group.filled === true};
}
"""


@pytest.mark.parametrize("width", WIDTHS)
def test_markers_of_a_large_map_come_for_the_view(browser_page, demo_dir, tmp_path,
                                                  live_server, width):
    """Zoomed in on a large map, a point layer asks for the view's box (bbox=) and holds
    exactly the rows of that answer; moved beyond it, it asks for the new view's box."""
    import re

    from mapper import overlay
    from mapper.geo import to_display
    from mapper.maps.points import COUNTS_ZOOM
    from mapper.store import Workspace

    base = _serve(demo_dir, tmp_path, live_server, INVIEW_WARDS=1)
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    asked: list[str] = []
    page.on("request", lambda r: "/priority/layers/incidents.json" in r.url
            and asked.append(r.url))
    assert page.goto(base + "/priority", wait_until="networkidle").status == 200
    page.wait_for_function(READY_JS)
    incidents = overlay.read_layer(Workspace(demo_dir), "incidents")
    shown = to_display(incidents.geometry)
    # the middle of the demo, zoomed in to markers, then the incidents switched on
    page.evaluate("([lat, lon, z]) => window[document.querySelector('.folium-map').id]"
                  ".setView([lat, lon], z, {animate: false})",
                  [float(shown.y.median()), float(shown.x.median()), COUNTS_ZOOM + 1])
    control = page.locator(".leaflet-control-layers")
    control.hover()
    page.locator(".leaflet-control-layers-overlays label",
                 has_text=re.compile(r"^\s*Incidents")).locator("input").check()
    page.wait_for_function("() => window[document.querySelector('.folium-map').id]"
                           ".pointLayers.incidents.filled === true", timeout=30000)
    assert len(asked) == 1 and "bbox=" in asked[0], asked
    west, south, east, north = map(float, re.search(r"bbox=([^&]+)", asked[0])
                                   .group(1).replace("%2C", ",").split(","))
    first, last = (re.search(rf"{k}=([\d-]+)", asked[0]).group(1)
                   for k in ("incidents_from", "incidents_to"))  # the page's window
    month = incidents["month"].astype(str)
    inside = ((shown.x >= west) & (shown.x <= east) & (shown.y >= south)
              & (shown.y <= north) & (month >= first) & (month <= last))
    held = page.evaluate(MARKERS_JS, "incidents")
    assert 0 < held["all"] == int(inside.sum()) < len(incidents), held
    assert held["inView"] > 0

    # moved well beyond the box: the new view's rows replace them
    page.evaluate("([lat, lon]) => window[document.querySelector('.folium-map').id]"
                  ".panTo([lat, lon], {animate: false})",
                  [float(shown.y.quantile(0.1)), float(shown.x.quantile(0.9))])
    page.wait_for_function("() => window[document.querySelector('.folium-map').id]"
                           ".pointLayers.incidents.filled === true", timeout=30000)
    assert len(asked) == 2 and asked[1] != asked[0], asked
    assert page.evaluate(MARKERS_JS, "incidents")["inView"] > 0
    browser_page.assert_clean()
