"""Every map page keeps its view in the URL: change the state, open the copied URL in a
fresh page (a reload, or a link sent to someone), and the same view comes back. In headless
Chromium on the demo at 1280 and 390 px; every page must stay clean (no console errors, no
request to another host). The priority page's own round trip is in
test_browser_mapstate.py."""

from __future__ import annotations

import pytest
from accounts import browser_sign_in
from map_views import VIEW_JS, _no_overflow, _open, _query, watched

from mapper import overlay
from mapper.store import Workspace
from mapper.web import create_app

pytestmark = pytest.mark.browser

WIDTHS = [1280, 390]

#: the view of a page's map (folium's, or the editor's own)
ANY_VIEW_JS = """
() => {
    const map = window.MapState.map;
    const c = map.getCenter();
    return {zoom: map.getZoom(), lat: c.lat, lon: c.lng};
}
"""


@pytest.fixture
def base_url(shared_demo, live_server):
    return live_server(create_app({"WORKSPACE": str(shared_demo), "TILES": "none"}))


def _move(page, dlat=0.004, dlon=-0.006, dzoom=1) -> dict:
    """Move the page's map as a person would (pan and zoom); wait for the URL to say so."""
    before = page.evaluate(ANY_VIEW_JS)
    target = round(before["zoom"]) + dzoom
    page.evaluate("([lat, lon, zoom]) => window.MapState.map.setView([lat, lon], zoom, "
                  "{animate: false})", [before["lat"] + dlat, before["lon"] + dlon, target])
    page.wait_for_function(f"() => (new URLSearchParams(location.search).get('map') || '')"
                           f".startsWith('{target}/')")
    return page.evaluate(ANY_VIEW_JS)


def _reopen(seen, url):
    """The URL in a new page of the same browser (a reload, or a shared link)."""
    fresh = seen.page.context.new_page()
    fresh.on("console", lambda m: m.type == "error" and seen.console_errors.append(m.text))
    fresh.on("pageerror", lambda e: seen.page_errors.append(str(e)))
    _open(fresh, url)
    return fresh


def _same_view(fresh, moved):
    after = fresh.evaluate(ANY_VIEW_JS)
    assert after["zoom"] == moved["zoom"]
    assert after["lat"] == pytest.approx(moved["lat"], abs=1e-4)
    assert after["lon"] == pytest.approx(moved["lon"], abs=1e-4)


def _layer_box(page, name: str) -> bool:
    return page.evaluate("""(name) => [...document.querySelectorAll(
        '.leaflet-control-layers-overlays label')].find(l => l.textContent.includes(name))
        .querySelector('input').checked""", name)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_ward_page_keeps_its_incident_filter_and_view(chromium, base_url,
                                                               shared_demo, width):
    incidents = overlay.read_layer(Workspace(shared_demo), "incidents")
    months = sorted(incidents["month"].unique())
    code = incidents["ward_code"].value_counts().index[0]
    with watched(chromium, width) as seen:
        page = seen.page
        _open(page, f"{base_url}/ward/{code}")
        moved = _move(page)
        # the list's search (typed: filtered in the page) goes along with the filter
        page.fill("#asset-search", "a")
        page.wait_for_function("() => new URLSearchParams(location.search).get('q') === 'a'")
        # the compact filter: a type and a window, sent with the view
        page.select_option("#incidents_from", months[3])
        page.select_option("#incidents_to", months[8])
        page.select_option("#incident_type", "Burglary")
        page.click("#incident-filter button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.wait_for_function("() => window.MapState && window.MapState.map !== null")
        query = _query(page.url)
        assert (query["incidents_from"], query["incidents_to"], query["incident_type"]) == \
            (months[3], months[8], "Burglary")
        assert query["q"] == "a"
        assert query["map"].split("/")[0] == str(int(moved["zoom"]))
        _same_view(page, moved)
        counted = page.locator("#incidents-counted").inner_text()
        assert counted.startswith("Incident figures count: burglary, ")
        moved = _move(page, dlat=-0.002, dlon=0.003, dzoom=0)
        shared = page.url
        _no_overflow(page)

        fresh = _reopen(seen, shared)
        _same_view(fresh, moved)
        assert fresh.locator("#incident_type").input_value() == "Burglary"
        assert fresh.locator("#incidents_from").input_value() == months[3]
        assert fresh.locator("#incidents-counted").inner_text() == counted
        # the asset table's filter and sort forms keep the incident filter and the view
        for form in ("[data-asset-filters]", "#asset-sort"):
            assert fresh.locator(f"{form} input[name=incident_type]").input_value() == \
                "Burglary"
            assert fresh.locator(f"{form} input[name=map]").input_value() == \
                _query(shared)["map"]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_priority_page_keeps_filters_and_view_through_a_sort(chromium, base_url,
                                                                 shared_demo, width):
    months = sorted(overlay.read_layer(Workspace(shared_demo), "incidents")["month"].unique())
    with watched(chromium, width) as seen:
        page = seen.page
        _open(page, f"{base_url}/priority?indicator=incidents&scheme=equal&classes=4"
                    f"&incidents_from={months[2]}&incidents_to={months[5]}"
                    "&incident_type=Burglary")
        moved = _move(page)
        link = page.locator("th a[data-mapstate-carry]").first
        assert _query(link.get_attribute("href"))["map"] == _query(page.url)["map"]
        link.click()
        page.wait_for_load_state("networkidle")
        page.wait_for_function("() => window.MapState && window.MapState.map !== null")
        query = _query(page.url)
        assert {k: query[k] for k in ("indicator", "scheme", "classes", "incidents_from",
                                      "incidents_to", "incident_type")} == {
            "indicator": "incidents", "scheme": "equal", "classes": "4",
            "incidents_from": months[2], "incidents_to": months[5],
            "incident_type": "Burglary"}
        assert "sort" in query
        _same_view(page, moved)
        assert page.locator("#incident_type").input_value() == "Burglary"
        assert page.locator("#scheme").input_value() == "equal"
        _no_overflow(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_overview_keeps_its_view_and_layers(chromium, base_url, width):
    with watched(chromium, width) as seen:
        page = seen.page
        _open(page, base_url + "/")
        page.locator(".leaflet-control-layers").hover()
        label = page.locator(".leaflet-control-layers-overlays label").last
        name = label.inner_text().strip()
        was = label.locator("input").is_checked()
        label.locator("input").set_checked(not was)
        page.wait_for_function("() => new URLSearchParams(location.search).has('layers')")
        moved = _move(page)
        _no_overflow(page)
        fresh = _reopen(seen, page.url)
        _same_view(fresh, moved)
        assert _layer_box(fresh, name[:12]) is (not was)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_incident_page_keeps_its_search_and_view(chromium, base_url, shared_demo, width):
    postcodes = overlay.read_layer(Workspace(shared_demo), "postcodes")
    postcode = str(postcodes.dropna(subset=["postcode"])["postcode"].iloc[0])
    with watched(chromium, width) as seen:
        page = seen.page
        page.goto(base_url + "/incident", wait_until="networkidle")
        page.fill("#postcode", postcode)
        page.locator("#radius_m").evaluate("(s) => { s.value = '1000'; }")  # in "more options"
        page.click(".inc-form button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.wait_for_function("() => window.MapState && window.MapState.map !== null")
        query = _query(page.url)
        assert query["radius_m"] == "1000" and query["postcode"]
        moved = _move(page, dzoom=-1)
        _no_overflow(page)
        fresh = _reopen(seen, page.url)
        _same_view(fresh, moved)
        assert fresh.locator("#radius_m").input_value() == "1000"
        assert fresh.locator("#postcode").input_value().replace(" ", "").upper() == \
            postcode.replace(" ", "").upper()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_register_editor_map_keeps_its_view(chromium, live_server, demo_copy, width):
    base = live_server(create_app({"WORKSPACE": str(demo_copy), "TILES": "none"}))
    with watched(chromium, width) as seen:
        page = seen.page
        browser_sign_in(page, base, demo_copy, "officer")
        page.goto(base + "/register/groups/demo-g001", wait_until="networkidle")
        page.wait_for_function("() => window.MapState && window.MapState.map !== null && "
                               "document.getElementById('editor-map').dataset.wardsLoaded")
        moved = _move(page, dzoom=-2)
        assert page.locator("#place-search-q").count() == 0  # no search inside the form
        fresh = _reopen(seen, page.url)
        fresh.wait_for_function("() => document.getElementById('editor-map')"
                                ".dataset.wardsLoaded")
        _same_view(fresh, moved)  # the wards' outlines arriving leave the view alone


@pytest.mark.parametrize("width", WIDTHS)
def test_a_draft_comparison_map_keeps_its_view(chromium, live_server, grid_dir,
                                               width):
    base = live_server(create_app({"WORKSPACE": str(grid_dir), "TILES": "none"}))
    with watched(chromium, width) as seen:
        page = seen.page
        browser_sign_in(page, base, grid_dir, "officer")
        page.goto(base + "/priority", wait_until="networkidle")
        page.fill("#setting-can_top_share", "0.3")
        page.fill("#draft_name", "Fewer wards")
        with page.expect_navigation():
            page.click("#save-draft")
        page.wait_for_function("() => window.MapState && window.MapState.map !== null")
        assert "/priority/drafts/" in page.url
        moved = _move(page, dlat=0.001, dlon=0.001)
        _no_overflow(page)
        fresh = _reopen(seen, page.url)
        _same_view(fresh, moved)


def test_view_js_is_the_folium_map(chromium, base_url):
    """The shared helper reads the same map as MapState on a folium page."""
    with watched(chromium, 1280) as seen:
        _open(seen.page, base_url + "/")
        assert seen.page.evaluate(VIEW_JS) == seen.page.evaluate(ANY_VIEW_JS)
