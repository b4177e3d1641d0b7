"""The incident page in headless Chromium, on the synthetic demo: no console errors and no
outside requests, the list matches a brute-force scan, clicking the map (or the "map
centre" button, from the keyboard) moves the search, rings drawn, screenshots saved."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from expected import brute_force
from pyproj import Transformer

from mapper import overlay
from mapper.store import Workspace
from mapper.web import create_app

pytestmark = pytest.mark.browser

_to_grid = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)

#: in the page: the incident map (its element id is its global variable)
MAP_JS = "window[document.getElementById('inc-map').dataset.mapName]"

#: what the map draws: its rings, numbered markers and search point, and its view
MAP_STATE_JS = f"""
() => {{
    const map = {MAP_JS};
    const circles = [], groups = [];
    let labels = 0;
    map.eachLayer(layer => {{
        if (layer instanceof L.Circle) {{
            circles.push({{radius: layer.getRadius(), dash: layer.options.dashArray,
                           canvas: layer._renderer instanceof L.Canvas,
                           drawn: !!layer._point}});
        }} else if (layer instanceof L.Marker && layer.options.rank) {{
            groups.push({{rank: layer.options.rank, title: layer.options.title,
                          inView: map.getBounds().contains(layer.getLatLng())}});
        }}
    }});
    labels = [...document.querySelectorAll('#inc-map .inc-ring-label')].map(e => e.textContent);
    const centre = map.getCenter();
    return {{circles, groups, labels, centre: {{lat: centre.lat, lon: centre.lng}},
             points: document.querySelectorAll('#inc-map .inc-point').length}};
}}
"""

#: a spot on the map (page coordinates) well away from every marker and the map's controls
EMPTY_SPOT_JS = f"""
() => {{
    const map = {MAP_JS};
    const size = map.getSize();
    const taken = [];
    map.eachLayer(layer => {{
        if (layer instanceof L.Marker) taken.push(map.latLngToContainerPoint(layer.getLatLng()));
    }});
    let best = null, bestGap = -1;
    for (let fx = 0.15; fx <= 0.85; fx += 0.05) {{
        for (let fy = 0.2; fy <= 0.85; fy += 0.05) {{
            const p = L.point(fx * size.x, fy * size.y);
            const gap = Math.min(...taken.map(t => t.distanceTo(p)));
            if (gap > bestGap) {{ bestGap = gap; best = p; }}
        }}
    }}
    // whole page pixels (the mouse clicks on them), then the map's point under them
    const box = map.getContainer().getBoundingClientRect();
    const x = Math.round(box.left + best.x), y = Math.round(box.top + best.y);
    const latlng = map.containerPointToLatLng(L.point(x - box.left, y - box.top));
    return {{x: x, y: y, lat: latlng.lat, lon: latlng.lng, gap: bestGap}};
}}
"""

LISTED_JS = "() => [...document.querySelectorAll('li.inc-result')].map(li => li.dataset.groupId)"


@pytest.fixture(scope="module")
def demo(demo_module_copy) -> Workspace:
    return Workspace(demo_module_copy)


@pytest.fixture(scope="module")
def groups(demo):
    return overlay.read_layer(demo, "groups")


@pytest.fixture(scope="module")
def postcode(demo, groups) -> str:
    """A demo postcode with a group at it."""
    known = set(demo.read_layer("postcodes")["postcode"])
    return next(p for p in groups["postcode"] if p in known)


@pytest.fixture(scope="module")
def postcode_xy(demo, postcode) -> tuple[float, float]:
    postcodes = demo.read_layer("postcodes")
    point = postcodes.loc[postcodes["postcode"] == postcode].geometry.iloc[0]
    return point.x, point.y


@pytest.fixture
def app(demo):
    return create_app({"WORKSPACE": str(demo.directory), "TILES": "none"})


@pytest.fixture
def base_url(app, live_server):
    return live_server(app)


def _open(browser_page, url: str, status: int = 200):
    page = browser_page.page
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == status
    return page


def _api_ids(app, **params) -> list[str] | None:
    """The group ids the JSON API gives for the same search, when the app has the API."""
    if not any(rule.rule == "/api/nearest" for rule in app.url_map.iter_rules()):
        return None
    response = app.test_client().get("/api/nearest?" + urlencode(params, doseq=True))
    assert response.status_code == 200
    return [f["properties"]["group_id"] for f in response.get_json()["features"]]


def test_incident_page_lists_draws_and_moves(
    browser_page, app, base_url, groups, postcode, postcode_xy, artifacts_dir
):
    query = {"postcode": postcode, "k": "8", "offer": "volunteers"}
    page = _open(browser_page, f"{base_url}/incident?{urlencode(query)}")
    page.wait_for_function("() => document.querySelector('#inc-map canvas') !== null")

    # the list: the brute-force nearest 8 groups offering volunteers (and the API agrees)
    expected = brute_force(groups, *postcode_xy, k=8, offers=("volunteers",))
    listed = page.evaluate(LISTED_JS)
    assert listed == expected["group_id"].tolist()
    api = _api_ids(app, postcode=postcode, k=8, offer="volunteers")
    assert api is None or api == listed

    # the map: three dashed rings on the canvas, labelled; a numbered marker per group,
    # all in view; one search point, at the centre
    state = page.evaluate(MAP_STATE_JS)
    circles = state["circles"]
    assert len(circles) == 3
    assert sorted(c["radius"] for c in circles) == [250, 500, 1000]
    assert all(c["canvas"] and c["drawn"] and c["dash"] for c in circles)
    assert len({c["dash"] for c in circles}) == 3
    assert sorted(state["labels"]) == sorted(["250 m", "500 m", "1 km"])
    assert sorted(g["rank"] for g in state["groups"]) == list(range(1, len(listed) + 1))
    assert all(g["inView"] for g in state["groups"])
    assert state["points"] == 1
    x, y = _to_grid.transform(state["centre"]["lon"], state["centre"]["lat"])
    assert abs(x - postcode_xy[0]) < 25 and abs(y - postcode_xy[1]) < 25
    page.screenshot(path=str(artifacts_dir / "incident.png"), full_page=True)

    # a group's marker leads to its entry in the list
    page.evaluate(
        f"() => {MAP_JS}.eachLayer(l => {{ if (l.options.rank === 3) l.fire('click'); }})"
    )
    assert page.evaluate("document.activeElement.id") == "group-3"

    # clicking the map searches from there, keeping the other choices
    page.locator("#inc-map").scroll_into_view_if_needed()
    spot = page.evaluate(EMPTY_SPOT_JS)
    assert spot["gap"] > 20, "need a spot of the map away from the markers"
    with page.expect_navigation(wait_until="networkidle"):
        page.mouse.click(spot["x"], spot["y"])
    moved = parse_qs(urlsplit(page.url).query)
    assert "postcode" not in moved
    assert moved["k"] == ["8"] and moved["offer"] == ["volunteers"]
    lat, lon = float(moved["lat"][0]), float(moved["lon"][0])
    assert lat == pytest.approx(spot["lat"], abs=2e-5)
    assert lon == pytest.approx(spot["lon"], abs=2e-5)
    expected = brute_force(groups, *_to_grid.transform(lon, lat), k=8, offers=("volunteers",))
    assert page.evaluate(LISTED_JS) == expected["group_id"].tolist()
    assert f"latitude {lat:.5f}, longitude {lon:.5f}" in page.inner_text("h1")
    assert page.evaluate(MAP_STATE_JS)["points"] == 1
    page.screenshot(path=str(artifacts_dir / "incident-moved.png"), full_page=False)
    browser_page.assert_clean()


def test_map_centre_button_works_from_the_keyboard(
    browser_page, base_url, groups, postcode, postcode_xy
):
    page = _open(browser_page, f"{base_url}/incident?postcode={postcode}&category=faith")
    button = page.locator("#inc-use-centre")
    assert button.is_visible()
    # pan the map with the keyboard, then search from its new centre
    page.focus("#inc-map .leaflet-container")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(400)
    centre = page.evaluate(f"() => {{ const c = {MAP_JS}.getCenter(); return [c.lat, c.lng]; }}")
    button.focus()
    with page.expect_navigation(wait_until="networkidle"):
        page.keyboard.press("Enter")
    moved = parse_qs(urlsplit(page.url).query)
    lat, lon = float(moved["lat"][0]), float(moved["lon"][0])
    assert lat == pytest.approx(centre[0], abs=2e-5) and lon == pytest.approx(centre[1], abs=2e-5)
    x, y = _to_grid.transform(lon, lat)
    assert x - postcode_xy[0] > 50, "the map was panned east before searching"
    expected = brute_force(groups, x, y, k=10, category="faith")
    assert page.evaluate(LISTED_JS) == expected["group_id"].tolist()
    browser_page.assert_clean()


def test_clicking_the_area_map_on_the_empty_form(browser_page, base_url, groups):
    page = _open(browser_page, f"{base_url}/incident")
    page.wait_for_function("() => document.querySelector('#inc-map canvas') !== null")
    page.locator("#inc-map").scroll_into_view_if_needed()
    box = page.locator("#inc-map").bounding_box()
    with page.expect_navigation(wait_until="networkidle"):
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    moved = parse_qs(urlsplit(page.url).query)
    lat, lon = float(moved["lat"][0]), float(moved["lon"][0])
    expected = brute_force(groups, *_to_grid.transform(lon, lat), k=10)
    assert page.evaluate(LISTED_JS) == expected["group_id"].tolist()
    browser_page.assert_clean()


def test_call_sheet_prints_on_a4(
    browser_page, base_url, groups, postcode, postcode_xy, artifacts_dir
):
    page = _open(browser_page, f"{base_url}/incident?postcode={postcode}&k=12")
    with page.expect_navigation(wait_until="networkidle"):
        page.get_by_role("link", name="Printable call sheet").click()
    assert urlsplit(page.url).path == "/incident/callsheet"
    rows = page.evaluate(
        "[...document.querySelectorAll('tr[data-group-id]')].map(tr => tr.dataset.groupId)"
    )
    assert rows == brute_force(groups, *postcode_xy, k=12)["group_id"].tolist()
    assert page.locator("#cs-print").is_visible()
    assert page.locator("text=Synthetic demo data — not real places").is_visible()
    headings = page.locator(".cs-table thead th").all_inner_texts()
    assert [h.replace("\n", " ") for h in headings][-2:] == ["Called (time)", "Outcome"]

    # as printed: A4 landscape, no buttons
    page.set_viewport_size({"width": 1123, "height": 794})
    page.emulate_media(media="print")
    assert not page.locator("#cs-print").is_visible()
    assert page.locator(".cs-table").is_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the sheet must fit the width of the paper"
    page.screenshot(path=str(artifacts_dir / "incident-callsheet.png"), full_page=True)
    browser_page.assert_clean()


def test_errors_are_announced(browser_page, base_url, artifacts_dir):
    page = _open(browser_page, f"{base_url}/incident?postcode=nonsense&lat=&lon=&k=0", 400)
    assert page.evaluate("document.activeElement.classList.contains('inc-error-summary')")
    summary = page.locator(".inc-error-summary").inner_text()
    assert "is not a full UK postcode" in summary and "from 1 to 100" in summary
    page.locator(".inc-error-summary a", has_text="from 1 to 100").click()
    assert page.evaluate("document.activeElement.id") == "k"
    page.screenshot(path=str(artifacts_dir / "incident-error.png"), full_page=True)
    # the 400 of the page itself is expected; nothing else may go wrong
    browser_page.console_errors[:] = [
        e for e in browser_page.console_errors if "400" not in e or "Failed to load" not in e
    ]
    browser_page.assert_clean()


def test_incident_page_on_a_phone(browser_page, base_url, postcode, artifacts_dir):
    page = browser_page.page
    page.set_viewport_size({"width": 390, "height": 844})
    _open(browser_page, f"{base_url}/incident?postcode={postcode}")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert page.locator("#group-1").is_visible()
    page.screenshot(path=str(artifacts_dir / "incident-phone.png"), full_page=True)
    browser_page.assert_clean()
