"""Layers that work together (issue 18) in headless Chromium, at 1280 and 390 px on the
demo: zoomed out the point layers show one count per ward (no cluster badges), zoomed in
the markers and no counts; each layer's legend entry goes with its layer and says which
is shown; the coverage gaps are hatched with the SVG pattern their legend swatch uses. No
console errors, no request to another host (the browser_page fixture)."""

from __future__ import annotations

import re

import pytest

from mapper.maps.points import COUNTS_ZOOM
from mapper.web import create_app

pytestmark = pytest.mark.browser

#: what the map draws: per register, whether it is on, its mode, its ward counts and
#: markers on the map; cluster badges and count numbers in the page
DRAWN_JS = """
() => {
    const map = window[document.querySelector('.folium-map').id];
    const out = {zoom: map.getZoom(), layers: {},
                 badges: document.querySelectorAll('.marker-cluster, .pr-cluster').length,
                 numbers: document.querySelectorAll('.map-count').length};
    Object.entries(map.pointSwitches || {}).forEach(([kind, s]) => {
        const counts = s.counts();
        let circles = 0;
        if (counts && map.hasLayer(counts)) {
            counts.eachLayer(l => { if (l.count !== undefined) { circles += 1; } });
        }
        out.layers[kind] = {on: map.hasLayer(s.holder), mode: s.mode, circles,
                            clusterOn: map.hasLayer(s.cluster)};
    });
    return out;
}
"""

#: the visible legend entries of the point layers: kind -> their "Shown: ..." text
LEGEND_JS = """
() => {
    const out = {};
    document.querySelectorAll('[data-point-mode]').forEach(el => {
        const box = el.closest('.pr-legend-overlay');
        const entry = el.closest('.pr-legend-entry');
        if (box && !box.hidden && entry && !entry.hidden) {
            out[el.dataset.pointMode] = el.textContent;
        }
    });
    return out;
}
"""

#: the tooltip of one ward's count circle of `kind`
TOOLTIP_JS = """
(kind) => {
    const map = window[document.querySelector('.folium-map').id];
    let text = null;
    map.pointSwitches[kind].counts().eachLayer(l => {
        if (text === null && l.count !== undefined) {
            l.openTooltip();
            text = l.getTooltip().getElement().textContent;
        }
    });
    return text;
}
"""

#: the coverage gaps drawn: how many SVG paths, and how many filled with the hatch
GAPS_JS = """
() => {
    const paths = [...document.querySelectorAll('.leaflet-overlay-pane svg path')];
    return {paths: paths.length,
            hatched: paths.filter(p => p.getAttribute('fill') === 'url(#map-hatch)').length,
            pattern: !!document.querySelector('pattern#map-hatch line'),
            swatch: document.querySelectorAll('.pr-hatch rect[fill="url(#map-hatch)"]').length};
}
"""


@pytest.fixture
def base_url(shared_demo, live_server):
    return live_server(create_app({"WORKSPACE": str(shared_demo), "TILES": "none"}))


def _open(page, url):
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == 200
    page.wait_for_function("() => document.querySelector('.leaflet-overlay-pane canvas') "
                           "!== null")


def _toggle(page, label: str, on: bool) -> None:
    control = page.locator(".leaflet-control-layers")
    if "leaflet-control-layers-expanded" not in (control.get_attribute("class") or ""):
        control.hover()  # Leaflet unfolds a folded control under the pointer
        page.wait_for_selector(".leaflet-control-layers-expanded")
    box = page.locator(".leaflet-control-layers-overlays label",
                       has_text=re.compile(label)).locator("input")
    box.check() if on else box.uncheck()


def _zoom(page, zoom: float) -> None:
    page.evaluate("(z) => { window[document.querySelector('.folium-map').id]"
                  ".setZoom(z, {animate: false}); }", zoom)
    page.wait_for_function("(z) => window[document.querySelector('.folium-map').id]"
                           ".getZoom() === z", arg=zoom)


@pytest.mark.parametrize("width", [1280, 390])
def test_counts_per_ward_zoomed_out_markers_zoomed_in(browser_page, base_url, width,
                                                      shared_demo, artifacts_dir):
    from mapper.store import Workspace

    wards = Workspace(shared_demo).read_layer("ward_summary")
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    _open(page, base_url + "/priority")
    for label in (r"^\s*VCS groups", r"^\s*Community premises", r"^\s*Incidents"):
        _toggle(page, label, True)
    drawn = page.evaluate(DRAWN_JS)
    assert drawn["zoom"] < COUNTS_ZOOM, drawn  # the demo opens zoomed out
    assert set(drawn["layers"]) == {"groups", "premises", "incidents"}
    with_groups = int((wards["groups_total"] > 0).sum())
    assert drawn["layers"]["groups"]["circles"] == with_groups
    for kind, layer in drawn["layers"].items():
        assert layer["on"] and layer["mode"] == "counts" and not layer["clusterOn"], kind
        assert layer["circles"] > 0, kind
    assert drawn["badges"] == 0
    legend = page.evaluate(LEGEND_JS)
    assert set(legend) == {"groups", "premises", "incidents"}
    assert all(text.endswith("per ward (circles); zoom in for each one")
               for text in legend.values()), legend
    # the layers' key folds on a phone like the map's legend (its own button), and opens
    key = page.locator(".pr-legend-overlay .legend-toggle")
    assert key.inner_text().startswith("Key to layers")
    assert key.get_attribute("aria-expanded") == ("false" if width < 640 else "true")
    entry = page.locator(".pr-legend-overlay .pr-legend-entry:not([hidden])").first
    assert entry.is_visible() == (width >= 640)
    if width < 640:
        key.click()
        assert key.get_attribute("aria-expanded") == "true" and entry.is_visible()
    tip = page.evaluate(TOOLTIP_JS, "groups")
    assert re.fullmatch(r".+: \d[\d,]* groups?", tip), tip
    page.screenshot(path=str(artifacts_dir / f"layers-counts-{width}.png"))

    # a layer switched off: its legend entry goes; back on: it comes back
    _toggle(page, r"^\s*Community premises", False)
    assert set(page.evaluate(LEGEND_JS)) == {"groups", "incidents"}
    _toggle(page, r"^\s*Community premises", True)
    assert set(page.evaluate(LEGEND_JS)) == {"groups", "premises", "incidents"}

    # zoomed in: the markers (and perhaps their badges), no counts; the legend says so
    _zoom(page, 15)
    page.wait_for_function("() => window[document.querySelector('.folium-map').id]"
                           ".pointLayers.groups.filled === true", timeout=15000)
    drawn = page.evaluate(DRAWN_JS)
    for kind, layer in drawn["layers"].items():
        assert layer["mode"] == "markers" and layer["clusterOn"] and not layer["circles"], kind
    assert drawn["numbers"] == 0
    assert page.locator(".leaflet-marker-pane .pr-point, .leaflet-marker-pane .pr-cluster"
                        ).count() > 0
    legend = page.evaluate(LEGEND_JS)
    assert all(text.startswith("Shown: each one") for text in legend.values()), legend

    # zoomed out again: counts again
    _zoom(page, drawn["zoom"] - 3)
    drawn = page.evaluate(DRAWN_JS)
    assert all(layer["mode"] == "counts" for layer in drawn["layers"].values())
    assert drawn["badges"] == 0
    browser_page.assert_clean()


@pytest.mark.parametrize("width", [1280, 390])
def test_coverage_gaps_are_hatched(browser_page, base_url, width):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    _open(page, base_url + "/priority")
    before = page.evaluate(GAPS_JS)
    assert before["pattern"] and before["swatch"] >= 1 and before["hatched"] == 0
    assert not page.locator(".pr-legend-entry", has_text="Coverage gap").is_visible()
    _toggle(page, r"^\s*.*Coverage gaps", True)
    page.wait_for_function("() => [...document.querySelectorAll("
                           "'.leaflet-overlay-pane svg path')].length > 0", timeout=10000)
    after = page.evaluate(GAPS_JS)
    assert after["hatched"] == after["paths"] > 0
    if width < 640:  # the layers' key starts folded on a phone
        page.locator(".pr-legend-overlay .legend-toggle").click()
    assert page.locator(".pr-legend-entry", has_text="Coverage gap").is_visible()
    assert page.locator(".pr-legend-entry .pr-hatch").count() == 1
    _toggle(page, r"^\s*.*Coverage gaps", False)
    assert not page.locator(".pr-legend-entry", has_text="Coverage gap").is_visible()
    browser_page.assert_clean()
