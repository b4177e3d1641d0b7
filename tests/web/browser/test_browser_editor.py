"""The register editing form in headless Chromium, on a copy of the synthetic demo: sign in
through the real form, open a group, click the map to move it into another ward, save,
see the confirmation; no console errors, no outside requests; screenshots saved."""

from __future__ import annotations

import pytest
from accounts import browser_sign_in
from demo_editing import *  # noqa: F403 - the fixtures (ws_dir: a copy of the demo per test)
from demo_editing import _to_grid, ward_at, ward_point

from mapper.editing import current_record
from mapper.store import Workspace
from mapper.web import create_app

pytestmark = pytest.mark.browser

#: pan the form's map to a point (as an officer would) and give that point's page position
POINT_ON_PAGE_JS = """
([lat, lon]) => {
    const element = document.getElementById('editor-map');
    const map = element.leafletMap;
    element.scrollIntoView({block: 'center'});
    map.setView([lat, lon], 15, {animate: false});
    const p = map.latLngToContainerPoint([lat, lon]);
    const box = element.getBoundingClientRect();
    return {x: box.left + p.x, y: box.top + p.y};
}
"""

MAP_STATE_JS = """
() => {
    const element = document.getElementById('editor-map');
    const map = element.leafletMap;
    const markers = [], wards = [];
    map.eachLayer(layer => {
        if (layer instanceof L.Marker) {
            const at = layer.getLatLng();
            markers.push({lat: at.lat, lon: at.lng,
                          inView: map.getBounds().contains(at)});
        } else if (layer.feature && layer.feature.properties) {
            wards.push(layer.feature.properties.ward_code);
        }
    });
    return {markers, wards};
}
"""


@pytest.fixture
def base_url(ws_dir, live_server):
    return live_server(create_app({"WORKSPACE": str(ws_dir), "TILES": "none"}))


def test_click_the_map_to_move_a_group(browser_page, base_url, ws_dir, artifacts_dir):
    ws = Workspace(ws_dir)
    wards = ws.read_layer("wards")
    before, _, _ = current_record(ws, "groups", "demo-g001")
    target = "E05990003"
    assert before["ward_code"] != target
    target_name = wards.loc[wards["ward_code"] == target, "ward_name"].iloc[0]
    _, _, lat, lon = ward_point(wards, target)

    page = browser_page.page
    browser_sign_in(page, base_url, ws_dir, "officer")
    # the header link, then the list, then the group
    page.click("nav.site-nav >> text=Register")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/register/groups")
    page.screenshot(path=str(artifacts_dir / "editor-list.png"), full_page=True)
    page.fill("#q", "wrenmoor methodist")
    with page.expect_navigation():
        page.click(".ed-filter button[type=submit]")
    assert page.locator(".ed-table tbody tr").count() == 1
    page.click("a[href='/register/groups/demo-g001']")
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("#editor-map[data-wards-loaded]")
    state = page.evaluate(MAP_STATE_JS)
    assert len(state["wards"]) == len(wards)
    assert len(state["markers"]) == 1 and state["markers"][0]["inView"]
    assert "Now in" in page.inner_text("#location-status")
    page.screenshot(path=str(artifacts_dir / "editor-form.png"), full_page=True)

    spot = page.evaluate(POINT_ON_PAGE_JS, [lat, lon])
    page.wait_for_timeout(200)  # let the ward outlines redraw after panning
    page.mouse.click(spot["x"], spot["y"])
    typed_lat = float(page.input_value("#lat"))
    typed_lon = float(page.input_value("#lon"))
    assert abs(typed_lat - lat) < 1e-4 and abs(typed_lon - lon) < 1e-4  # within a pixel
    assert page.inner_text("#location-status").startswith("New point:")
    marker = page.evaluate(MAP_STATE_JS)["markers"][0]
    assert abs(marker["lat"] - typed_lat) < 1e-6 and abs(marker["lon"] - typed_lon) < 1e-6
    page.screenshot(path=str(artifacts_dir / "editor-form-clicked.png"))

    with page.expect_navigation():
        page.click("#save-button")
    page.wait_for_load_state("networkidle")
    message = page.inner_text(".ed-banner--success .ed-banner__text")
    assert message == f"Saved version 2. It is in {target_name} ward."
    assert page.evaluate("document.activeElement.classList.contains('ed-banner')")
    page.screenshot(path=str(artifacts_dir / "editor-saved.png"), full_page=True)

    after, version, _ = current_record(ws, "groups", "demo-g001")
    x, y = _to_grid.transform(typed_lon, typed_lat)
    assert version == 2 and abs(after["x"] - x) < 0.02 and abs(after["y"] - y) < 0.02
    assert after["ward_code"] == ward_at(wards, x, y) == target
    assert after["name"] == before["name"] and after["phone"] == before["phone"]
    # the reloaded form draws the marker at the new place
    page.wait_for_selector("#editor-map[data-wards-loaded]")
    marker = page.evaluate(MAP_STATE_JS)["markers"][0]
    assert abs(marker["lat"] - typed_lat) < 1e-5 and abs(marker["lon"] - typed_lon) < 1e-5


def test_validation_errors_link_to_their_fields(browser_page, base_url, ws_dir, artifacts_dir):
    page = browser_page.page
    browser_sign_in(page, base_url, ws_dir, "officer")
    page.goto(base_url + "/register/groups/new", wait_until="networkidle")
    page.fill("#field-name", "")
    page.fill("#field-email", "not an address")
    with page.expect_navigation() as navigation:
        page.click("#save-button")
    assert navigation.value.status == 400
    # the 400 of the page itself is expected; nothing else may go wrong
    browser_page.console_errors[:] = [
        e for e in browser_page.console_errors if "400" not in e or "Failed to load" not in e
    ]
    summary = page.locator(".ed-error-summary")
    assert page.evaluate("document.activeElement.classList.contains('ed-error-summary')")
    links = summary.locator("a")
    assert links.count() == 4  # name, category, e-mail and the missing point
    page.screenshot(path=str(artifacts_dir / "editor-errors.png"), full_page=True)
    summary.locator("a[href='#field-email']").click()
    assert page.evaluate("document.activeElement.id") == "field-email"
    assert page.input_value("#field-email") == "not an address"


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL (the browser smoke test)
def test_a_conflict_shows_both_versions_and_reapplies(browser_page, base_url, ws_dir,
                                                      artifacts_dir):
    from mapper.editing import save_record

    ws = Workspace(ws_dir)
    page = browser_page.page
    browser_sign_in(page, base_url, ws_dir, "officer")
    page.goto(base_url + "/register/groups/demo-g002", wait_until="networkidle")
    # someone else saves first, while the form is open
    save_record(ws, "groups", {"name": "Renamed by Alice", "opening_hours": "Sa 10:00-12:00"},
                actor="alice", record_id="demo-g002", expected_version=1)
    page.fill("#field-description", "Described by the officer")
    with page.expect_navigation() as navigation:
        page.click("#save-button")
    assert navigation.value.status == 409
    browser_page.console_errors[:] = [
        e for e in browser_page.console_errors if "409" not in e or "Failed to load" not in e
    ]
    assert page.evaluate("document.activeElement.classList.contains('ed-conflict')")
    rows = page.locator(".ed-conflict__table tbody th").all_inner_texts()
    assert rows == ["Name", "Opening hours"]
    assert page.input_value("#field-name") == "Renamed by Alice"
    assert page.input_value("#field-description") == "Described by the officer"
    page.screenshot(path=str(artifacts_dir / "editor-conflict.png"), full_page=True)
    with page.expect_navigation():
        page.click("#save-button")
    assert page.inner_text(".ed-banner--success .ed-banner__text").startswith(
        "Saved version 3.")
    record, version, _ = current_record(ws, "groups", "demo-g002")
    assert (record["name"], record["description"], version) == (
        "Renamed by Alice", "Described by the officer", 3)


def test_register_list_and_api_docs_fit_a_phone(browser_page, base_url, ws_dir, artifacts_dir):
    """At 390 px the register's search box and the API docs' parameter tables stay on the
    screen (no sideways scrolling)."""
    page = browser_page.page
    browser_sign_in(page, base_url, ws_dir)
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/register/premises", "/register/incidents", "/api/docs"):
        page.goto(base_url + path, wait_until="networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(artifacts_dir / f"phone{path.replace('/', '-')}.png"))
        assert width <= 390, f"{path} is {width} px wide on a 390 px phone"
