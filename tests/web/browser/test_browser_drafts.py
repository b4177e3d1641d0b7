"""An officer's draft in headless Chromium: from the priority page's settings to the
comparison map and tables; no console errors, no requests to other hosts (the
``browser_page`` fixture). Screenshot: test-artifacts/draft.png. The grid and its
hand-computed selections: tests/analysis/test_drafts.py."""

from __future__ import annotations

import pytest
from accounts import browser_sign_in

from mapper.store import Workspace
from mapper.web import create_app

pytestmark = pytest.mark.browser

#: the comparison map's ward features: code -> the selection the tooltip names
FEATURES_JS = """
() => {
    const map = window[document.querySelector('.folium-map').id];
    const out = {};
    map.eachLayer(layer => {
        const p = layer.feature && layer.feature.properties;
        if (p && p.ward_code && typeof layer.getBounds === 'function') {
            out[p.ward_code] = p.label;
        }
    });
    return out;
}
"""


def test_officer_makes_a_draft_and_sees_the_comparison(browser_page, grid_dir, live_server,
                                                       artifacts_dir):
    base_url = live_server(create_app({"WORKSPACE": str(grid_dir), "TILES": "none"}))
    page = browser_page.page
    browser_sign_in(page, base_url, grid_dir, "officer")
    page.goto(base_url + "/priority", wait_until="networkidle")
    assert page.locator("text=Re-run the analysis").count() == 0  # officers: drafts only
    page.fill("#setting-can_top_share", "0.3")
    page.fill("#draft_name", "Fewer wards")
    with page.expect_navigation() as navigation:
        page.click("#save-draft")
    assert navigation.value.status == 200
    assert page.url.endswith("/priority/drafts/1")
    page.wait_for_function("() => document.querySelector('.leaflet-overlay-pane canvas') "
                           "!== null")
    assert page.inner_text("h1") == "Fewer wards"
    features = page.evaluate(FEATURES_JS)
    assert len(features) == 9  # every ward: the other four for orientation
    assert {code: label for code, label in features.items() if label != "in neither"} == {
        "E05900001": "in both", "E05900002": "in both", "E05900003": "in both",
        "E05900004": "only in the published selection",
        "E05900005": "only in the published selection"}
    legend = page.locator(".dr-legend")
    assert legend.locator('[data-status="both"] .dr-count').inner_text() == "3"
    assert legend.locator('[data-status="draft"] .dr-count').inner_text() == "0"
    assert legend.locator('[data-status="published"] .dr-count').inner_text() == "2"
    assert page.locator("#draft-wards tbody tr").count() == 5
    assert "Not in the draft" in page.inner_text('#draft-cans [data-change="retired"]')
    page.screenshot(path=str(artifacts_dir / "draft.png"), full_page=True)
    # the published map is unchanged for everyone
    assert Workspace(grid_dir).read_layer("neighbourhoods", read_geometry=False)[
        "can_id"].tolist() == ["CAN-01", "CAN-02"]
