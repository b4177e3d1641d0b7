"""Map state in the URL, the place search box and "Use my location", in headless Chromium
on the demo (static/mapstate.js, static/incident.js): every page must stay clean (no
console errors, no request to another host), at 1280 and 390 px."""

from __future__ import annotations

from urllib.parse import urlsplit

import geopandas as gpd
import pytest
from map_views import VIEW_JS, _no_overflow, _open, _query, query_layers, watched

from mapper import overlay
from mapper.geo import to_display
from mapper.store import Workspace
from mapper.web import create_app

pytestmark = pytest.mark.browser

WIDTHS = [1280, 390]

@pytest.fixture
def base_url(shared_demo, live_server):
    return live_server(create_app({"WORKSPACE": str(shared_demo), "TILES": "none"}))


@pytest.mark.parametrize("width", WIDTHS)
def test_indicator_and_zoom_go_in_the_url_and_come_back(chromium, base_url, width):
    with watched(chromium, width) as seen:
        page = seen.page
        _open(page, base_url + "/priority")
        options = page.eval_on_selector_all("#indicator option", "os => os.map(o => o.value)")
        chosen = options[-1]
        page.select_option("#indicator", chosen)
        page.click(".pr-toolbar button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.wait_for_function("() => window.MapState && window.MapState.map !== null")
        assert _query(page.url)["indicator"] == chosen
        before = page.evaluate(VIEW_JS)
        target = round(before["zoom"]) + 2
        page.evaluate("([lat, lon, zoom]) => window.MapState.map.setView([lat, lon], zoom, "
                      "{animate: false})", [before["lat"] + 0.004, before["lon"] - 0.006, target])
        page.wait_for_function("() => new URLSearchParams(location.search).has('map')")
        query = _query(page.url)
        assert query["indicator"] == chosen
        zoom, lat, lon = query["map"].split("/")
        assert float(zoom) == target == page.evaluate(VIEW_JS)["zoom"]
        assert float(lat) == pytest.approx(before["lat"] + 0.004, abs=1e-4)
        # switch a layer on: it joins the URL
        page.locator(".leaflet-control-layers").hover()
        label = page.locator(".leaflet-control-layers-overlays label",
                             has_text="Community premises")
        label.locator("input").check()
        page.wait_for_function("() => (new URLSearchParams(location.search).get('layers') "
                               "|| '').includes('community-premises')")
        shared = page.url
        _no_overflow(page)
        assert page.locator("#place-search-q").is_visible()

        fresh = page.context.new_page()
        fresh.on("console", lambda m: m.type == "error" and seen.console_errors.append(m.text))
        fresh.on("pageerror", lambda e: seen.page_errors.append(str(e)))
        _open(fresh, shared)
        after = fresh.evaluate(VIEW_JS)
        assert after["zoom"] == float(zoom)
        assert after["lat"] == pytest.approx(float(lat), abs=1e-4)
        assert after["lon"] == pytest.approx(float(lon), abs=1e-4)
        assert fresh.locator("#indicator").input_value() == chosen
        assert fresh.evaluate("""() => [...document.querySelectorAll(
            '.leaflet-control-layers-overlays label')].find(l => l.textContent.includes(
            'Community premises')).querySelector('input').checked""")
        # the form keeps the view when the indicator changes again
        assert fresh.locator(".pr-toolbar input[name=map]").input_value() == query["map"]
        # ... but another area starts a new view, fitted to it
        borough = fresh.eval_on_selector_all("#borough option", "os => os.map(o => o.value)")[1]
        fresh.select_option("#borough", borough)
        fresh.click(".pr-toolbar button[type=submit]")
        fresh.wait_for_load_state("networkidle")
        moved = _query(fresh.url)
        assert moved["borough"] == borough and "map" not in moved
        assert moved["layers"] == query_layers(shared)


@pytest.mark.parametrize("width", WIDTHS)
def test_search_a_postcode_flies_there(chromium, base_url, shared_demo, width):
    postcodes = overlay.read_layer(Workspace(shared_demo), "postcodes")
    row = postcodes.dropna(subset=["postcode"]).iloc[len(postcodes) // 2]
    point = to_display(gpd.GeoSeries([row.geometry], crs=postcodes.crs)).iloc[0]
    with watched(chromium, width) as seen:
        page = seen.page
        _open(page, base_url + "/priority")
        start = page.evaluate(VIEW_JS)
        page.fill("#place-search-q", str(row["postcode"]).lower().replace(" ", ""))
        page.press("#place-search-q", "Enter")
        page.wait_for_function("() => (new URLSearchParams(location.search).get('map') || '')"
                               ".split('/')[0] >= 13")
        page.wait_for_timeout(1200)  # the flight ends
        view = page.evaluate(VIEW_JS)
        assert view["zoom"] > start["zoom"]
        assert view["lat"] == pytest.approx(point.y, abs=0.003)
        assert view["lon"] == pytest.approx(point.x, abs=0.005)
        assert "on the map" in page.locator("#place-search-status").inner_text()
        # nothing matches: a clear message, the map stays
        page.fill("#place-search-q", "qqzz nowhere")
        page.press("#place-search-q", "Enter")
        page.wait_for_function("() => document.getElementById('place-search-status')"
                               ".textContent.includes('matches')")
        assert page.locator("#place-search-status").inner_text() == (
            "No ward, borough, neighbourhood or postcode matches 'qqzz nowhere'.")
        _no_overflow(page)


def test_search_lists_places_for_the_keyboard(chromium, base_url, shared_demo):
    wards = overlay.read_layer(Workspace(shared_demo), "wards")
    borough = str(wards["borough_name"].iloc[0])
    with watched(chromium, 1280) as seen:
        page = seen.page
        _open(page, base_url + "/neighbourhood/" + str(
            overlay.read_layer(Workspace(shared_demo), "neighbourhoods")["can_id"].iloc[0]))
        page.fill("#place-search-q", borough)
        page.wait_for_selector("#place-search-list [role=option]")
        assert page.get_attribute("#place-search-q", "aria-expanded") == "true"
        page.press("#place-search-q", "ArrowDown")
        active = page.get_attribute("#place-search-q", "aria-activedescendant")
        assert active == "place-search-option-0"
        assert page.get_attribute("#" + active, "aria-selected") == "true"
        assert page.locator("#" + active).inner_text().startswith(f"Borough: {borough}")
        page.press("#place-search-q", "Enter")
        page.wait_for_function("() => new URLSearchParams(location.search).has('map')")
        assert f"Showing Borough: {borough}" in page.locator("#place-search-status").inner_text()


def _inside_demo(shared_demo) -> tuple[float, float]:
    wards = overlay.read_layer(Workspace(shared_demo), "wards")
    point = to_display(wards.geometry.iloc[[len(wards) // 2]].representative_point()).iloc[0]
    return point.y, point.x


@pytest.mark.parametrize("width", WIDTHS)
def test_use_my_location_searches_from_there(chromium, base_url, shared_demo, width):
    lat, lon = _inside_demo(shared_demo)
    with watched(chromium, width, geolocation={"latitude": lat, "longitude": lon},
                 permissions=["geolocation"]) as seen:
        page = seen.page
        _open(page, base_url + "/incident")
        button = page.locator("[data-use-location]")
        assert button.is_visible()
        with page.expect_navigation(wait_until="networkidle"):
            button.click()
        query = _query(page.url)
        assert float(query["lat"]) == pytest.approx(lat, abs=1e-5)
        assert float(query["lon"]) == pytest.approx(lon, abs=1e-5)
        assert page.locator("#group-1").count() == 1  # the nearest groups are listed
        _no_overflow(page)


def test_use_my_location_refused_says_so(chromium, base_url):
    with watched(chromium, 390) as seen:  # no permission granted: the browser refuses
        page = seen.page
        _open(page, base_url + "/incident")
        page.click("[data-use-location]")
        page.wait_for_function("() => document.getElementById('inc-status').textContent"
                               ".includes('did not allow')")
        assert "/incident" == urlsplit(page.url).path and "lat" not in _query(page.url)
        assert page.locator("[data-use-location]").is_enabled()


def test_use_my_location_outside_the_study_area(chromium, base_url):
    with watched(chromium, 1280, geolocation={"latitude": 57.48, "longitude": -4.22},
                 permissions=["geolocation"]) as seen:  # Inverness
        page = seen.page
        _open(page, base_url + "/incident")
        page.click("[data-use-location]")
        page.wait_for_function("() => document.getElementById('inc-status').textContent"
                               ".includes('outside the area')")
        assert "lat" not in _query(page.url)


def test_no_geolocation_hides_the_button(chromium, base_url):
    with watched(chromium, 1280) as seen:
        page = seen.page
        page.add_init_script("delete Navigator.prototype.geolocation;")
        _open(page, base_url + "/incident")
        assert page.locator("[data-use-location]").first.is_hidden()
