"""Area names on the maps with no basemap (headless Chromium, the demo workspace): borough
names at middle zooms, ward names from WARD_LABEL_ZOOM, none when zoomed out; names never
overlap and stay inside the map, at 1280 px and 390 px wide; no console errors."""

from __future__ import annotations

import pytest

from mapper.maps.base import BOROUGH_LABEL_ZOOMS, WARD_LABEL_ZOOM
from mapper.store import Workspace
from mapper.web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: the page's folium map (a global named map_<id>)
MAP_JS = "Object.keys(window).map(k => window[k]).find(v => v instanceof L.Map)"

#: the labels drawn: their text, kind and box
LABELS_JS = """
() => [...document.querySelectorAll('.leaflet-areaLabels-pane .map-label')].map(e => {
    const r = e.getBoundingClientRect();
    return {text: e.textContent, ward: e.classList.contains('map-label--ward'),
            box: [r.left, r.top, r.right, r.bottom]};
})
"""


@pytest.fixture
def base_url(shared_demo, live_server):
    return live_server(create_app({"WORKSPACE": str(shared_demo), "TILES": "none"}))


@pytest.fixture(scope="module")
def names(shared_demo) -> dict:
    workspace = Workspace(shared_demo)
    return {"wards": set(workspace.read_layer("wards")["ward_name"]),
            "boroughs": set(workspace.read_layer("boroughs")["borough_name"]),
            "can": str(workspace.read_layer("neighbourhoods")["can_id"].iloc[0])}


def zoom_to(page, zoom: float) -> list[dict]:
    page.evaluate(f"(z) => {{ const m = {MAP_JS}; m.setZoom(z, {{animate: false}}); }}", zoom)
    page.wait_for_function(f"(z) => ({MAP_JS}).getZoom() === z", arg=zoom)
    page.wait_for_timeout(100)
    return page.evaluate(LABELS_JS)


def assert_legible(page, labels: list[dict]) -> None:
    frame = page.evaluate(
        "() => { const r = document.querySelector('.leaflet-container')"
        ".getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }")
    boxes = [label["box"] for label in labels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            overlap = a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1
            assert not overlap, f"labels overlap: {labels}"
    # names are written a little beyond the view too (panning shows them at once): the
    # map clips those; some are in it
    inside = [b for b in boxes if frame[0] <= (b[0] + b[2]) / 2 <= frame[2]
              and frame[1] <= (b[1] + b[3]) / 2 <= frame[3]]
    assert inside, f"no name inside the map {frame}: {labels}"


@pytest.mark.parametrize("width", [1280, 390])
def test_overview_names_boroughs_then_wards(browser_page, base_url, names, artifacts_dir,
                                            width):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
    page.goto(f"{base_url}/", wait_until="networkidle")
    page.wait_for_function("() => document.querySelector('.leaflet-overlay-pane canvas')")
    assert zoom_to(page, BOROUGH_LABEL_ZOOMS[0] - 1) == []  # far out: no names

    boroughs = zoom_to(page, BOROUGH_LABEL_ZOOMS[0] + 1)
    assert boroughs and all(not b["ward"] for b in boroughs)
    assert {b["text"] for b in boroughs} <= names["boroughs"]
    assert_legible(page, boroughs)

    wards = zoom_to(page, WARD_LABEL_ZOOM + 1)
    assert wards and all(w["ward"] for w in wards)
    assert {w["text"] for w in wards} <= names["wards"]
    assert_legible(page, wards)
    page.locator(".leaflet-container").first.screenshot(
        path=str(artifacts_dir / f"labels-overview-{width}.png"))
    # labels never take the pointer: the ward under a name still answers
    assert page.evaluate("() => getComputedStyle(document.querySelector("
                         "'.leaflet-areaLabels-pane')).pointerEvents") == "none"


@pytest.mark.parametrize("width", [1280, 390])
def test_zoomed_pages_say_where_they_are(browser_page, base_url, names, artifacts_dir, width):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
    for path in (f"/neighbourhood/{names['can']}", "/priority"):
        page.goto(base_url + path, wait_until="networkidle")
        page.wait_for_function("() => document.querySelector('.leaflet-overlay-pane canvas')")
        if path == "/priority":
            labels = zoom_to(page, WARD_LABEL_ZOOM + 0.5)
        else:  # as it opens: fitted to the neighbourhood, close enough for ward names
            page.wait_for_function("() => document.querySelector('.map-label')")
            labels = page.evaluate(LABELS_JS)
        assert labels and {w["text"] for w in labels} <= names["wards"], path
        assert_legible(page, labels)
        page.locator(".leaflet-container").first.screenshot(
            path=str(artifacts_dir / f"labels-{path.split('/')[1]}-{width}.png"))
