"""Print and phone (issue 18): at 390x844 no page scrolls sideways (anonymous and as an
officer, and every HTML page of the app as an administrator and as an officer); a CAN
page prints to a few A4 pages with its name and map on the first; the map legend is a
panel a keyboard user can open and close, closed at first on a phone."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from accounts import browser_sign_in, sign_in
from route_sweep import _samples, _url

from mapper.store import Workspace
from mapper.web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: the demo's first CAN prints to 4 A4 pages (London's: see README); a little headroom
DEMO_CAN_PAGES = 5
#: the height of an A4 page's printable area at 96 dpi, with the 12 mm margins of
#: neighbourhood.css (297 mm - 24 mm), and its width (210 mm - 22 mm)
A4_CONTENT = {"width": 710, "height": 1031}

OVERFLOW_JS = "() => document.scrollingElement.scrollWidth - window.innerWidth"

#: the call sheet's table: its right edge, how far its box scrolls, a cell's label
CALL_SHEET_JS = """
() => {
    const table = document.querySelector('.cs-table');
    const box = table.closest('.cs-table-wrap');
    const cell = table.querySelector('tbody td[data-label="Outcome"]');
    return {table: table.getBoundingClientRect().right, box: box.scrollWidth - box.clientWidth,
            label: getComputedStyle(cell, '::before').content};
}
"""


@pytest.fixture(scope="module")
def demo(shared_demo, tmp_path_factory) -> Path:
    """A copy of the demo for this module: signing in and viewing contacts as an officer
    writes users and audit rows, which the shared demo must never hold."""
    directory = tmp_path_factory.mktemp("print-phone") / "demo"
    shutil.copytree(shared_demo, directory)
    return directory


@pytest.fixture(scope="module")
def places(demo) -> dict:
    workspace = Workspace(demo)
    can = workspace.read_layer("neighbourhoods").iloc[0]
    ward = str(workspace.read_layer("wards")["ward_code"].iloc[0])
    postcode = str(workspace.read_layer("postcodes")["postcode"].iloc[100])
    query = f"postcode={postcode.replace(' ', '+')}&k=12"
    return {
        "can_id": str(can["can_id"]),
        "can_name": str(can["name"]),
        "pages": {
            "priority": "/priority",
            "can": f"/neighbourhood/{can['can_id']}",
            "ward": f"/ward/{ward}",
            "incident": f"/incident?{query}",
            "callsheet": f"/incident/callsheet?{query}",
        },
    }


@pytest.fixture
def base_url(demo, live_server):
    return live_server(create_app({"WORKSPACE": str(demo), "TILES": "none"}))


def _open(page, url: str):
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == 200, url
    return page


@pytest.mark.parametrize("role", [None, "officer"])
def test_no_page_scrolls_sideways_on_a_phone(browser_page, base_url, demo, places, role):
    page = browser_page.page
    if role:
        browser_sign_in(page, base_url, demo, role)
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        for name, path in places["pages"].items():
            _open(page, base_url + path)
            overflow = page.evaluate(OVERFLOW_JS)
            assert overflow <= 0, f"{name} at {size['width']} px is {overflow} px too wide"
    # the call sheet on a phone: each group a card, its cells labelled, nothing cut off
    page.set_viewport_size(PHONE)
    _open(page, base_url + places["pages"]["callsheet"])
    table = page.evaluate(CALL_SHEET_JS)
    assert table["table"] <= PHONE["width"] and table["box"] <= 0
    assert table["label"] == '"Outcome: "'
    browser_page.assert_clean()


def test_can_page_prints_as_a_briefing(browser_page, base_url, places, artifacts_dir):
    page = _open(browser_page.page, base_url + places["pages"]["can"])
    pdf = page.pdf(format="A4", print_background=True)
    (artifacts_dir / "neighbourhood-print.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert 1 <= pages <= DEMO_CAN_PAGES, f"the CAN page prints to {pages} A4 pages"

    # as laid out on paper: the name, the map and its key on the first page, the map whole
    page.set_viewport_size(A4_CONTENT)
    page.emulate_media(media="print")
    boxes = page.evaluate(
        """() => Object.fromEntries(['h1', '.nb-map', '.nb-key', '#profile', '#asset-table',
            '.nb-filters', '.nb-contents', '.legend-toggle'].map(s => {
            const e = document.querySelector(s), r = e.getBoundingClientRect();
            return [s, {top: r.top + window.scrollY, bottom: r.bottom + window.scrollY,
                        shown: e.offsetParent !== null && r.height > 0,
                        text: e.innerText.slice(0, 200)}];
        }))"""
    )
    assert places["can_name"] in boxes["h1"]["text"]
    assert boxes["h1"]["top"] < boxes[".nb-map"]["top"]
    assert boxes[".nb-map"]["shown"] and boxes[".nb-map"]["bottom"] <= A4_CONTENT["height"]
    assert boxes[".nb-key"]["top"] < A4_CONTENT["height"]
    # map first, then the figures, then the list; no controls on paper
    assert boxes[".nb-map"]["bottom"] <= boxes["#profile"]["top"] < boxes["#asset-table"]["top"]
    for control in (".nb-filters", ".nb-contents", ".legend-toggle"):
        assert not boxes[control]["shown"], f"{control} is printed"
    page.screenshot(path=str(artifacts_dir / "neighbourhood-print-a4.png"), full_page=True)
    browser_page.assert_clean()


@pytest.mark.parametrize("path_key", ["can", "incident", "priority"])
def test_legend_panel_toggles_from_the_keyboard(browser_page, base_url, places, path_key):
    page = browser_page.page
    for size, opened in ((DESKTOP, "true"), (PHONE, "false")):
        page.set_viewport_size(size)
        _open(page, base_url + places["pages"][path_key])
        button = page.get_by_role("button", name="Legend")
        assert button.count() == 1
        body = page.locator("#" + button.get_attribute("aria-controls"))
        assert button.get_attribute("aria-expanded") == opened
        first = body.locator("li").first
        assert first.is_visible() == (opened == "true")
        button.focus()
        page.keyboard.press("Enter")
        flipped = "false" if opened == "true" else "true"
        assert button.get_attribute("aria-expanded") == flipped
        assert first.is_visible() == (flipped == "true")
        page.keyboard.press("Space")
        assert button.get_attribute("aria-expanded") == opened
        assert page.evaluate(OVERFLOW_JS) <= 0
    browser_page.assert_clean()


#: the share of the map's width the study area's wards span, and the map's own width
AREA_SPAN_JS = """
() => {
    const map = window[document.querySelector('.folium-map').id];
    let bounds = null;
    map.eachLayer(layer => {
        const p = layer.feature && layer.feature.properties;
        if (p && p.ward_code && typeof layer.getBounds === 'function') {
            bounds = bounds ? bounds.extend(layer.getBounds()) : L.latLngBounds(
                layer.getBounds().getSouthWest(), layer.getBounds().getNorthEast());
        }
    });
    const west = map.latLngToContainerPoint(bounds.getSouthWest());
    const east = map.latLngToContainerPoint(bounds.getNorthEast());
    const width = map.getSize().x;
    return {span: (east.x - west.x) / width, left: west.x, right: width - east.x, width};
}
"""


def test_priority_map_gives_the_area_the_width_on_a_phone(browser_page, base_url):
    """On a phone the key and layer box start folded, so the study area is fitted to the
    whole map, not beside a panel that is not there (a third of the width was left empty
    on the right); on a wide screen room is still left for them on the right."""
    page = browser_page.page
    page.set_viewport_size(PHONE)
    _open(page, base_url + "/priority")
    phone = page.evaluate(AREA_SPAN_JS)
    assert phone["width"] >= 360
    page.set_viewport_size(DESKTOP)
    _open(page, base_url + "/priority")
    desktop = page.evaluate(AREA_SPAN_JS)
    # the fit fills the limiting side; the wards never run under the panels' room on a
    # desktop, and on a phone nothing is held back on the right for folded panels
    assert desktop["right"] >= 200, desktop
    assert phone["right"] < 0.2 * phone["width"] or phone["span"] > 0.8, phone
    assert phone["left"] >= 0 and phone["right"] >= 0, phone
    browser_page.assert_clean()


#: GET routes that are not pages to look at (signing out ends the sweep's session)
NOT_PAGES = {"static", "vendor.vendor_file", "auth.signout", "favicon", "health"}


def _html_pages(app, demo: Path, places: dict, role: str) -> list[str]:
    """Every GET route of the app (with the authorisation matrix's sample arguments) and
    the pages reached by a query, that answer `role` with an HTML page (200)."""
    samples = _samples(app)
    ward = samples["ward_code"]
    urls = {_url(rule, samples) for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and rule.endpoint not in NOT_PAGES
            and "token" not in rule.arguments and "username" not in rule.arguments}
    urls |= set(places["pages"].values()) | {
        f"/contacts?ward={ward}", f"/contacts?neighbourhood={places['can_id']}",
        *(f"/register/{register}" for register in ("groups", "premises", "incidents")),
        "/?layers=groups", "/priority?layers=groups",
    }
    client = sign_in(app.test_client(), role, username=f"phone-{role}")
    pages = []
    for url in sorted(urls):
        response = client.get(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            pages.append(url)
    return pages


#: on a phone: each table wider than its box (it must scroll inside a .table-wrapper with
#: the scroll shadow as its cue), each map narrower than the content, each map legend not
#: in a closed collapsible panel
PHONE_LAYOUT_JS = """
() => {
    const tables = [...document.querySelectorAll('table')].filter(t => {
        const box = t.closest('.table-wrapper');
        const wide = t.getBoundingClientRect().width > (box || document.body).clientWidth + 1;
        if (!wide) return false;
        const style = box && getComputedStyle(box);
        return !(style && style.overflowX === 'auto'
                 && style.backgroundImage.includes('gradient'));
    }).map(t => t.id || t.className);
    const content = document.querySelector('main').clientWidth;
    const maps = [...document.querySelectorAll('.leaflet-container')]
        .filter(m => m.offsetParent !== null && m.getBoundingClientRect().width < content)
        .map(m => Math.round(m.getBoundingClientRect().width));
    const legends = [...document.querySelectorAll('.map-key, .dr-legend, .inc-key, .pr-legend')]
        .filter(k => !k.closest('.site-footer'))
        .filter(k => {
            const panel = k.closest('[data-legend-panel], .pr-legend');
            const toggle = panel && panel.querySelector('.legend-toggle');
            return !(toggle && toggle.getAttribute('aria-expanded') === 'false');
        }).map(k => k.className);
    return {tables, maps, legends};
}
"""


@pytest.mark.parametrize("role", ["admin", "officer"])
def test_every_html_page_fits_a_phone(browser_page, base_url, demo, places, role):
    """Every page the role can open, at 390 px: no sideways scrolling (a wide table scrolls
    inside its box, with a cue), maps as wide as the content with their legend in a
    closed panel, no console error, no request to another host."""
    app = create_app({"TESTING": True, "WORKSPACE": str(demo), "TILES": "none"})
    pages = _html_pages(app, demo, places, role)
    assert len(pages) >= 25, pages  # the sweep reaches the app's pages, not a few
    page = browser_page.page
    browser_sign_in(page, base_url, demo, role)
    page.set_viewport_size(PHONE)
    too_wide, layout, maps = {}, {}, 0
    for path in pages:
        response = page.goto(base_url + path, wait_until="networkidle")
        assert response is not None and response.status == 200, path
        width = page.evaluate("() => document.scrollingElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[path] = width
        found = page.evaluate(PHONE_LAYOUT_JS)
        maps += page.locator(".leaflet-container").count()
        if any(found.values()):
            layout[path] = found
    assert not too_wide, f"pages wider than {PHONE['width']} px: {too_wide}"
    assert not layout, f"wide tables without a scroll box, narrow maps, open legends: {layout}"
    assert maps >= 6  # the map pages were among them
    browser_page.assert_clean()


#: the printable area of A4 landscape at 96 dpi with incident.css's 12 mm margins
A4_LANDSCAPE_CONTENT = {"width": 1032, "height": 703}
#: the demo's call sheet of 12 groups prints to 3 landscape A4 pages (a row a group, with
#: room to write the outcome)
CALL_SHEET_PAGES = 4


def test_call_sheet_prints_on_a4_landscape_with_nothing_cut_off(browser_page, base_url,
                                                                 places, artifacts_dir):
    page = _open(browser_page.page, base_url + places["pages"]["callsheet"])
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)  # as a browser prints
    (artifacts_dir / "callsheet-print.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert 1 <= pages <= CALL_SHEET_PAGES, f"the call sheet prints to {pages} A4 pages"
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert box is not None and float(box.group(1)) > float(box.group(2))  # landscape
    # as laid out on paper: nothing reaches past the right margin
    page.set_viewport_size(A4_LANDSCAPE_CONTENT)
    page.emulate_media(media="print")
    right = page.evaluate("""() => Math.max(document.scrollingElement.scrollWidth,
        ...[...document.querySelectorAll('main *')].map(e => e.getBoundingClientRect().right))""")
    assert right <= A4_LANDSCAPE_CONTENT["width"], f"the call sheet is {right} px wide on paper"
    rows = page.locator(".cs-table tbody tr").count()
    assert rows == 12
    browser_page.assert_clean()
