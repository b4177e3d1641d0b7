"""The real app in headless Chromium: no console errors, no outside requests, every ward
drawn, tooltips on hover, screenshots in test-artifacts/ to look at."""

from __future__ import annotations

import pytest
from browser_scripts import WARD_CENTRE_JS

from mapper.web import create_app

pytestmark = pytest.mark.browser

#: in the page: the folium map (its element id is its global variable) and its wards
WARD_LAYERS_JS = """
() => {
    const id = document.querySelector('.folium-map').id;
    const map = window[id];
    const wards = [];
    map.eachLayer(layer => {
        const props = layer.feature && layer.feature.properties;
        if (props && props.ward_code && typeof layer.getBounds === 'function') {
            wards.push({
                code: props.ward_code,
                name: props.ward_name,
                // drawn: Leaflet has projected it into at least one visible ring
                drawn: Array.isArray(layer._parts) && layer._parts.length > 0,
                canvas: layer._renderer instanceof L.Canvas,
                inView: map.getBounds().contains(layer.getBounds()),
            });
        }
    });
    return wards;
}
"""


@pytest.fixture
def base_url(tiny_workspace, live_server):
    app = create_app({"WORKSPACE": str(tiny_workspace), "TILES": "none"})
    return live_server(app)


def test_overview_draws_every_ward_offline(browser_page, base_url, tiny_wards, artifacts_dir):
    page = browser_page.page
    response = page.goto(base_url + "/", wait_until="networkidle")
    assert response is not None and response.status == 200
    page.wait_for_function("() => document.querySelector('.leaflet-overlay-pane canvas') !== null")

    wards = page.evaluate(WARD_LAYERS_JS)
    assert sorted(w["code"] for w in wards) == sorted(tiny_wards["ward_code"])
    assert all(w["drawn"] and w["canvas"] and w["inView"] for w in wards), wards

    # hover a ward: its tooltip names it
    target = tiny_wards.iloc[0]
    point = page.evaluate(WARD_CENTRE_JS, target["ward_code"])
    page.mouse.move(point["x"] - 40, point["y"] - 40)
    page.mouse.move(point["x"], point["y"], steps=5)
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for(state="visible", timeout=5000)
    text = tooltip.inner_text()
    assert target["ward_name"] in text
    assert target["ward_code"] in text and target["borough_name"] in text

    # click another ward: still no errors, and its tooltip shows
    other = tiny_wards.iloc[8]
    point = page.evaluate(WARD_CENTRE_JS, other["ward_code"])
    page.mouse.click(point["x"], point["y"])
    page.wait_for_function(
        "(name) => [...document.querySelectorAll('.leaflet-tooltip')]"
        ".some(t => t.textContent.includes(name))",
        arg=other["ward_name"],
        timeout=5000,
    )

    # leave the pointer on the middle ward so the screenshot shows a highlight and tooltip
    middle = tiny_wards.iloc[4]
    point = page.evaluate(WARD_CENTRE_JS, middle["ward_code"])
    page.mouse.move(point["x"], point["y"], steps=10)
    page.wait_for_function(
        "(name) => [...document.querySelectorAll('.leaflet-tooltip')]"
        ".some(t => t.textContent.includes(name))",
        arg=middle["ward_name"],
        timeout=5000,
    )
    page.screenshot(path=str(artifacts_dir / "overview.png"), full_page=True)
    browser_page.assert_clean()


def test_overview_on_a_phone(browser_page, base_url, tiny_wards, artifacts_dir):
    page = browser_page.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base_url + "/", wait_until="networkidle")
    assert page.locator("text=Synthetic demo data — not real places").is_visible()
    # nothing wider than the screen except inside scrollable table wrappers
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    page.screenshot(path=str(artifacts_dir / "overview-phone.png"), full_page=True)
    # the ward table's page fits the phone too (its table scrolls inside its wrapper)
    page.goto(base_url + "/wards", wait_until="networkidle")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert page.locator("#ward-table caption").is_visible()
    page.screenshot(path=str(artifacts_dir / "wards-phone.png"), full_page=True)
    browser_page.assert_clean()


def test_skip_link_leads_to_the_ward_table(browser_page, base_url, tiny_wards):
    """Keyboard users skip the map to the table of the same wards (a page of its own),
    every ward in it, and come back to the map."""
    page = browser_page.page
    page.goto(base_url + "/", wait_until="load")
    link = page.locator(".skip-map a")
    link.focus()
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    assert page.url == base_url + "/wards"
    assert page.locator("#ward-table tbody tr").count() == len(tiny_wards)
    assert page.locator("#ward-table caption").is_visible()
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="Back to the map").click()
    assert page.url == base_url + "/"
    browser_page.assert_clean()


def test_missing_workspace_page_is_clean(browser_page, tmp_path, live_server, artifacts_dir):
    base = live_server(create_app({"WORKSPACE": str(tmp_path / "nowhere")}))
    page = browser_page.page
    response = page.goto(base + "/", wait_until="networkidle")
    assert response is not None and response.status == 404
    assert "mapper demo" in page.inner_text("main")
    page.screenshot(path=str(artifacts_dir / "no-workspace.png"), full_page=True)
    # the 404 of the page itself is expected; nothing else may go wrong
    browser_page.console_errors[:] = [
        e for e in browser_page.console_errors if "404" not in e or "Failed to load" not in e
    ]
    browser_page.assert_clean()


def test_browser_page_catches_outside_requests_and_errors(browser_page, live_server):
    """The guard itself: a page that reaches for a CDN and logs an error is caught."""
    from flask import Flask

    bad = Flask("bad")

    @bad.get("/")
    def page():
        return (
            "<!doctype html><title>bad</title><link rel='icon' href='data:,'>"
            "<script src='https://cdn.example.org/lib.js'></script>"
            "<script>console.error('boom'); undefinedFunction();</script>"
        )

    browser_page.page.goto(live_server(bad) + "/", wait_until="networkidle")
    problems = browser_page.problems()
    assert any("cdn.example.org" in p for p in browser_page.foreign_requests), problems
    assert "boom" in browser_page.console_errors, problems
    assert any("undefinedFunction" in e for e in browser_page.page_errors), problems
    # forget them, so the fixture's own check at teardown passes
    browser_page.foreign_requests.clear()
    browser_page.console_errors.clear()
    browser_page.page_errors.clear()
