"""The priority page's incident filters and heatmap in headless Chromium, at 1280 and
390 px: switching on the heatmap draws it from the app's own copy of Leaflet.heat, and
changing the date range changes the choropleth's numbers and the legend's text; no
console errors and no request to another host (the browser_page fixture)."""

from __future__ import annotations

import pytest

from mapper.web import create_app

pytestmark = pytest.mark.browser

#: each ward's mapped value (the tooltip's text) and the legend's "Counted" line
STATE_JS = """
() => {
    const map = window[document.querySelector('.folium-map').id];
    const values = {};
    map.eachLayer(layer => {
        const props = layer.feature && layer.feature.properties;
        if (props && props.ward_code && props.value !== undefined) {
            values[props.ward_code] = props.value;
        }
    });
    const counted = document.querySelector('.pr-legend__counted');
    return {values, counted: counted ? counted.textContent : null,
            filter: window.incidentFilter,
            overflow: document.documentElement.scrollWidth > window.innerWidth + 1};
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


@pytest.mark.parametrize("width", [1280, 390])
def test_heatmap_and_date_range_change_the_figures(browser_page, base_url, width,
                                                   artifacts_dir):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 900})
    _open(page, base_url + "/priority?indicator=incidents")
    before = page.evaluate(STATE_JS)
    assert before["counted"] and before["counted"].startswith("Counted: all incident types")
    assert set(before["filter"]) == {"incidents_from", "incidents_to", "incident_type"}

    # switch the heatmap on through the layer control (folded on a phone)
    control = page.locator(".leaflet-control-layers")
    if "leaflet-control-layers-expanded" not in (control.get_attribute("class") or ""):
        control.hover()  # Leaflet unfolds a folded control under the pointer
        page.wait_for_selector(".leaflet-control-layers-expanded")
    page.locator(".leaflet-control-layers-overlays label",
                 has_text="Heatmap of incidents").locator("input").check()
    page.wait_for_function("() => window[document.querySelector('.folium-map').id]"
                           ".heatLayer.filled === true", timeout=15000)
    assert page.evaluate("() => window[document.querySelector('.folium-map').id]"
                         ".heatLayer.count") > 0
    assert page.locator(".pr-legend-overlay", has_text="Heatmap of incidents").is_visible()

    # one month only: fewer incidents in the wards, and the legend says so
    last = page.locator("#incidents_to option").last.get_attribute("value")
    page.select_option("#incidents_from", last)
    with page.expect_navigation(wait_until="networkidle"):
        page.locator(".pr-button", has_text="Update map").click()
    page.wait_for_function("() => document.querySelector('.leaflet-overlay-pane canvas') "
                           "!== null")
    after = page.evaluate(STATE_JS)
    assert after["filter"]["incidents_from"] == last == after["filter"]["incidents_to"]
    assert after["counted"] != before["counted"]
    assert after["values"] != before["values"]
    assert after["counted"].removeprefix("Counted: ") in \
        page.locator("#incidents-counted").inner_text()
    assert not after["overflow"], "the page is wider than the screen"
    page.screenshot(path=str(artifacts_dir / f"priority-incidents-{width}.png"))
    browser_page.assert_clean()
