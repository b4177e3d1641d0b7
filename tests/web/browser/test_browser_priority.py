"""The priority areas page in headless Chromium: no console errors, no outside requests,
one ward feature per ward, a working layer control and CAN links; screenshots in
test-artifacts/ (priority.png, priority-layers.png, decision-record.png)."""

from __future__ import annotations

import re
import shutil

import pytest
from accounts import browser_sign_in

from mapper.web import create_app

pytestmark = pytest.mark.browser

#: in the page: the folium map and what its layers hold
MAP_STATE_JS = """
() => {
    const map = window[document.querySelector('.folium-map').id];
    const wards = [];
    let cans = 0;
    map.eachLayer(layer => {
        const props = layer.feature && layer.feature.properties;
        if (props && props.ward_code && typeof layer.getBounds === 'function') {
            wards.push({code: props.ward_code, canvas: layer._renderer instanceof L.Canvas,
                        drawn: Array.isArray(layer._parts) && layer._parts.length > 0});
        }
        if (props && props.can_id && props.label_at && layer.options.dashArray) { cans += 1; }
    });
    const legend = document.querySelector('.pr-legend');
    return {wards, cans, legendShown: !!legend && !legend.hidden,
            labels: document.querySelectorAll('.pr-can-label').length};
}
"""

#: the layer control's entry whose label contains `text`: whether it is ticked
CONTROL_JS = """
(text) => {
    const labels = [...document.querySelectorAll('.leaflet-control-layers-overlays label')];
    const label = labels.find(l => l.textContent.includes(text));
    return label ? label.querySelector('input').checked : null;
}
"""

#: markers loaded into the cluster layer of one register (0 until switched on)
CLUSTER_COUNT_JS = """
(kind) => {
    const map = window[document.querySelector('.folium-map').id];
    const layer = (map.pointLayers || {})[kind];
    return layer ? layer.getLayers().length : null;
}
"""


#: whether the cluster layer of one register says every row is in it
FILLED_JS = """
(kind) => window[document.querySelector('.folium-map').id].pointLayers[kind].filled === true
"""

#: how many rows a layer's URL gives (fetched again, from the page)
ROWS_JS = "async (url) => (await (await fetch(url)).json()).rows.length"


@pytest.fixture(scope="module")
def demo_dir(shared_demo):
    """The analysed demo (read-only: every test serves its own copy, below)."""
    return shared_demo


@pytest.fixture
def base_url(demo_dir, tmp_path, live_server):
    # a copy per test: nothing a test does reaches the others
    directory = tmp_path / "ws"
    shutil.copytree(demo_dir, directory)
    return live_server(create_app({"WORKSPACE": str(directory), "TILES": "none"}))


@pytest.fixture
def workspace_dir(base_url, tmp_path):
    return tmp_path / "ws"


def _wards(demo_dir):
    from mapper.store import Workspace

    return Workspace(demo_dir).read_layer("ward_summary")


def _open(page, url):
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == 200
    # a function, not an expression: Playwright polls expressions with eval, which the
    # Content-Security-Policy blocks
    page.wait_for_function("() => document.querySelector('.leaflet-overlay-pane canvas') "
                           "!== null")


def test_priority_page_draws_every_ward_offline(browser_page, base_url, demo_dir,
                                                artifacts_dir):
    page = browser_page.page
    _open(page, base_url + "/priority")
    state = page.evaluate(MAP_STATE_JS)
    wards = _wards(demo_dir)
    assert sorted(w["code"] for w in state["wards"]) == sorted(wards["ward_code"])
    assert all(w["canvas"] and w["drawn"] for w in state["wards"])
    assert state["cans"] == wards["can_id"].nunique() and state["labels"] == state["cans"]
    assert state["legendShown"]
    # zoomed out at most one level beyond the area (or to about all of London), and one
    # attribution box, added after the layers
    zoom = page.evaluate("() => { const m = window[document.querySelector('.folium-map')"
                         ".id]; return [m.getZoom(), m.getMinZoom(), m.getMaxZoom()]; }")
    assert zoom[1] == min(int(zoom[0]) - 1, 9) and zoom[2] == 17, zoom
    assert page.locator(".leaflet-control-attribution").count() == 1
    assert page.evaluate("() => { const box = document.querySelector("
                         "'.leaflet-control-attribution'); "
                         "return box.parentNode.lastElementChild === box; }")  # below the key
    assert "Class" not in page.inner_text(".pr-legend")  # ranges, not jargon
    assert page.locator(".pr-legend li").count() >= 3

    # hover a CAN ward: its tooltip carries the figures, so colour is not the only clue
    can_ward = wards.dropna(subset=["can_id"]).iloc[0]
    page.evaluate("document.querySelector('#priority-map').scrollIntoView()")
    box = page.locator(".folium-map").bounding_box()
    point = page.evaluate(
        """(code) => {
            const map = window[document.querySelector('.folium-map').id];
            let p = null;
            map.eachLayer(l => {
                if (l.feature && l.feature.properties.ward_code === code) {
                    p = map.latLngToContainerPoint(l.getCenter ? l.getCenter()
                                                    : l.getBounds().getCenter());
                }
            });
            return p;
        }""",
        can_ward["ward_code"],
    )
    page.mouse.move(box["x"] + point["x"] - 30, box["y"] + point["y"] - 30)
    page.mouse.move(box["x"] + point["x"], box["y"] + point["y"], steps=5)
    page.wait_for_function(
        "(name) => [...document.querySelectorAll('.leaflet-tooltip')]"
        ".some(t => t.textContent.includes(name) && t.textContent.includes('Residents'))",
        arg=can_ward["ward_name"], timeout=5000)
    page.screenshot(path=str(artifacts_dir / "priority.png"), full_page=True)
    page.screenshot(path=str(artifacts_dir / "priority-map.png"))
    browser_page.assert_clean()

    # clicking the ward opens its profile page
    with page.expect_navigation(wait_until="networkidle"):
        page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    assert page.url.endswith("/ward/" + can_ward["ward_code"])
    assert can_ward["ward_name"] in page.inner_text("h1")
    browser_page.assert_clean()


def test_layer_control_toggles_layers(browser_page, base_url, artifacts_dir):
    page = browser_page.page
    _open(page, base_url + "/priority")
    assert page.evaluate(CONTROL_JS, "Borough boundaries") is True
    assert page.evaluate(CONTROL_JS, "VCS groups") is False
    assert page.evaluate(CLUSTER_COUNT_JS, "groups") == 0

    # switch the borough outlines off, and the groups on: they load from the app
    page.locator(".leaflet-control-layers-overlays label", has_text="Borough boundaries").click()
    assert page.evaluate(CONTROL_JS, "Borough boundaries") is False
    page.locator(".leaflet-control-layers-overlays label", has_text="VCS groups").click()
    # zoomed out the layer shows counts per ward (test_browser_layers.py); zoomed in, the
    # clustered markers
    assert page.locator(".map-count--groups").count() > 0
    page.evaluate("() => { window[document.querySelector('.folium-map').id]"
                  ".setZoom(15, {animate: false}); }")
    page.wait_for_function(f"() => ({CLUSTER_COUNT_JS})('groups') > 0", timeout=10000)
    assert page.locator(".map-count--groups").count() == 0
    assert page.locator(".pr-cluster--groups").count() > 0
    # the layer says when every row is in it: as many markers as the rows it fetched
    page.wait_for_function(FILLED_JS, arg="groups", timeout=10000)
    url = re.search(r'"(/priority/layers/groups\.json[^"]*)"', page.content()).group(1)
    rows = page.evaluate(ROWS_JS, url)
    assert rows > 0 and page.evaluate(CLUSTER_COUNT_JS, "groups") == rows
    # (the name's start: "Heatmap of incidents" is another layer)
    page.locator(".leaflet-control-layers-overlays label",
                 has_text=re.compile(r"^\s*Incidents")).click()
    page.wait_for_function(f"() => ({CLUSTER_COUNT_JS})('incidents') > 0", timeout=10000)
    # the layer box names it in a word; its legend entry says what is counted
    entry = page.locator(".pr-legend-overlay", has_text=re.compile(r"Incidents \(")).inner_text()
    assert re.search(r"Incidents \(.*\d incidents\)", entry), entry
    page.locator(".leaflet-control-layers-overlays label", has_text="Coverage gaps").click()
    page.wait_for_load_state("networkidle")

    # the legend belongs to the ward layer: it goes when the wards are switched off
    page.locator(".leaflet-control-layers-overlays label", has_text="Wards (shaded").click()
    assert page.locator(".pr-legend").is_hidden()
    page.locator(".leaflet-control-layers-overlays label", has_text="Wards (shaded").click()
    assert page.locator(".pr-legend").is_visible()
    page.locator(".pr-map").screenshot(path=str(artifacts_dir / "priority-layers.png"))
    browser_page.assert_clean()


def test_can_link_navigates(browser_page, base_url, demo_dir):
    page = browser_page.page
    _open(page, base_url + "/priority")
    link = page.locator(".pr-can-table a.pr-can-link").first
    can_id = link.inner_text()
    assert can_id == "CAN-01"
    with page.expect_navigation() as navigation:
        link.click()
    assert page.url.endswith(f"/neighbourhood/{can_id}")
    response = navigation.value
    # the neighbourhood page is another engineer's; until it exists the link may 404
    if response is not None and response.status == 404:
        browser_page.console_errors[:] = [
            e for e in browser_page.console_errors if "404" not in e
        ]
    browser_page.assert_clean()


def test_map_options_and_borough_filter(browser_page, base_url, demo_dir):
    page = browser_page.page
    _open(page, base_url + "/priority")
    page.select_option("#indicator", "imd_score")
    page.select_option("#scheme", "natural")
    page.select_option("#classes", "4")
    with page.expect_navigation():
        page.click("text=Update map")
    assert "indicator=imd_score" in page.url and "scheme=natural" in page.url
    # a function, not an expression: Playwright polls expressions with eval, which the
    # Content-Security-Policy blocks
    page.wait_for_function("() => document.querySelector('.leaflet-overlay-pane canvas') "
                           "!== null")
    assert page.locator(".pr-legend li").count() in (4, 5)  # + "no data" when any
    code = _wards(demo_dir)["borough_code"].iloc[0]
    page.select_option("#borough", code)
    with page.expect_navigation():
        page.click("text=Update map")
    assert f"borough={code}" in page.url
    browser_page.assert_clean()


def test_settings_error_summary(browser_page, base_url, workspace_dir, artifacts_dir):
    page = browser_page.page
    browser_sign_in(page, base_url, workspace_dir, "admin")
    _open(page, base_url + "/priority")
    page.fill("#setting-weight_need", "lots")
    with page.expect_navigation() as navigation:
        page.click("text=Re-run the analysis")
    assert navigation.value.status == 400
    summary = page.locator(".pr-error-summary")
    assert summary.is_visible() and "There is a problem" in summary.inner_text()
    assert page.evaluate("document.activeElement.classList.contains('pr-error-summary')")
    summary.locator("a").first.click()
    assert page.evaluate("document.activeElement.id") == "setting-weight_need"
    summary.screenshot(path=str(artifacts_dir / "priority-error.png"))
    # the 400 of the page itself is expected; nothing else may go wrong
    browser_page.console_errors[:] = [e for e in browser_page.console_errors if "400" not in e]
    browser_page.assert_clean()


def test_decision_record_prints(browser_page, base_url, artifacts_dir):
    page = browser_page.page
    response = page.goto(base_url + "/priority/decision-record", wait_until="networkidle")
    assert response is not None and response.status == 200
    assert "weight_need" in page.inner_text("main")
    page.emulate_media(media="print")
    assert page.locator("[data-print]").is_hidden()
    page.screenshot(path=str(artifacts_dir / "decision-record.png"), full_page=True)
    page.emulate_media(media="screen")
    browser_page.assert_clean()
