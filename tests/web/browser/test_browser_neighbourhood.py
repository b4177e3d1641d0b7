"""The neighbourhood and ward pages in headless Chromium, on the demo workspace: no console
errors, no outside requests, the filter and search hide table rows and map markers
together, sorting works from the keyboard, and screenshots (screen and print) in
test-artifacts/ to look at."""

from __future__ import annotations

import pytest

from mapper import overlay
from mapper.store import Workspace
from mapper.web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: keys of the table rows shown, and of the markers on the map (clustered or not)
VISIBLE_JS = """
() => ({
    rows: [...document.querySelectorAll('#asset-table tbody tr[data-asset-key]')]
        .filter(r => !r.hidden && r.offsetParent !== null)
        .map(r => r.dataset.assetKey),
    markers: window.neighbourhoodAssetMap.layer.getLayers().map(m => m.options.assetId),
})
"""

SORT_VALUES_JS = """
(column) => [...document.querySelectorAll('#asset-table tbody tr[data-asset-key]')]
    .map(r => r.cells[column].dataset.sortValue)
"""


@pytest.fixture(scope="module")
def demo_workspace(demo_module_copy) -> Workspace:
    return Workspace(demo_module_copy)


@pytest.fixture
def base_url(demo_workspace, live_server):
    app = create_app({"WORKSPACE": str(demo_workspace.directory), "TILES": "none"})
    return live_server(app)


@pytest.fixture(scope="module")
def busiest_ward(demo_workspace) -> str:
    """The ward with the most groups and premises (so filters have something to hide)."""
    groups = overlay.read_layer(demo_workspace, "groups")["ward_code"].value_counts()
    premises = overlay.read_layer(demo_workspace, "premises")["ward_code"].value_counts()
    return str(groups.add(premises, fill_value=0).sort_values(ascending=False).index[0])


@pytest.fixture(scope="module")
def first_can(demo_workspace) -> str:
    return str(demo_workspace.read_layer("neighbourhoods")["can_id"].iloc[0])


def open_page(browser_page, url: str):
    page = browser_page.page
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == 200
    page.wait_for_function("() => document.querySelector('.leaflet-overlay-pane canvas') !== null")
    page.wait_for_function("() => window.neighbourhoodAssetMap !== undefined")
    return page


def test_neighbourhood_page_is_clean_and_looks_right(
    browser_page, base_url, first_can, artifacts_dir
):
    page = open_page(browser_page, f"{base_url}/neighbourhood/{first_can}")
    assert page.locator("text=Synthetic demo data — not real places").is_visible()
    visible = page.evaluate(VISIBLE_JS)
    assert sorted(visible["rows"]) == sorted(visible["markers"]) and visible["rows"]
    # the outline and markers are drawn inside the map's view
    in_view = page.evaluate(
        """() => {
            const r = window.neighbourhoodAssetMap;
            return r.layer.getLayers().every(m => r.map.getBounds().contains(m.getLatLng()));
        }"""
    )
    assert in_view
    assert page.locator("#asset-count").inner_text() == (
        f"Showing {len(visible['rows'])} of {len(visible['rows'])}"
    )
    # the print button appears only with JavaScript, and the charts are drawn
    assert page.locator("[data-print]").is_visible()
    assert page.locator("#deprivation svg").is_visible()
    assert page.locator("#incidents svg").is_visible()
    page.screenshot(path=str(artifacts_dir / "neighbourhood.png"), full_page=True)

    page.emulate_media(media="print")
    page.wait_for_timeout(300)  # the map refits itself to its printed size
    for hidden in (
        ".nb-filters",
        ".nb-contents",
        ".nb-breadcrumbs",
        "[data-print]",
        ".nb-download",
    ):
        assert not page.locator(hidden).first.is_visible(), hidden
    assert page.locator("#asset-table").is_visible()
    assert page.locator(".nb-map").bounding_box()["height"] < 400
    page.screenshot(path=str(artifacts_dir / "neighbourhood-print.png"), full_page=True)
    page.emulate_media(media="screen")
    browser_page.assert_clean()


def test_ward_page_is_clean(browser_page, base_url, busiest_ward, artifacts_dir):
    page = open_page(browser_page, f"{base_url}/ward/{busiest_ward}")
    visible = page.evaluate(VISIBLE_JS)
    assert sorted(visible["rows"]) == sorted(visible["markers"]) and len(visible["rows"]) > 3
    page.screenshot(path=str(artifacts_dir / "neighbourhood-ward.png"), full_page=True)
    browser_page.assert_clean()


def test_category_filter_and_search_hide_rows_and_markers(browser_page, base_url, busiest_ward):
    page = open_page(browser_page, f"{base_url}/ward/{busiest_ward}")
    everything = page.evaluate(VISIBLE_JS)
    total = len(everything["rows"])

    # kind filter
    page.select_option("#asset-category", "kind:premises")
    shown = page.evaluate(VISIBLE_JS)
    assert shown["rows"] and all(k.startswith("premises:") for k in shown["rows"])
    assert sorted(shown["markers"]) == sorted(shown["rows"])
    assert len(shown["rows"]) < total
    assert page.locator("#asset-count").inner_text() == f"Showing {len(shown['rows'])} of {total}"

    # one group category, chosen from the keyboard
    option = page.locator("#asset-category option[value^='group:']").first
    value = option.get_attribute("value")
    expected = page.evaluate(
        """(value) => [...document.querySelectorAll('#asset-table tr[data-asset-key]')]
            .filter(r => 'group:' + r.dataset.category === value).map(r => r.dataset.assetKey)""",
        value,
    )
    page.select_option("#asset-category", value)
    shown = page.evaluate(VISIBLE_JS)
    assert sorted(shown["rows"]) == sorted(expected) == sorted(shown["markers"])

    # text search, typed, on top of "everything"
    page.select_option("#asset-category", "")
    name = page.locator("#asset-table tr[data-asset-key] .nb-asset-name").first.inner_text()
    word = name.split()[0]
    page.locator("#asset-search").focus()
    page.keyboard.type(word.lower())
    shown = page.evaluate(VISIBLE_JS)
    assert 0 < len(shown["rows"]) < total
    assert sorted(shown["markers"]) == sorted(shown["rows"])
    rows_text = page.evaluate(
        """() => [...document.querySelectorAll('#asset-table tr[data-asset-key]')]
            .filter(r => !r.hidden).map(r => r.dataset.search)"""
    )
    assert all(word.lower() in text for text in rows_text)
    # the downloads follow the filter
    assert f"q={word.lower()}" in page.locator("a[data-export=csv]").get_attribute("href")

    page.keyboard.type(" zzznothing")
    shown = page.evaluate(VISIBLE_JS)
    assert shown == {"rows": [], "markers": []}
    assert page.locator("#asset-table tr[data-empty]").is_visible()

    page.fill("#asset-search", "")
    page.dispatch_event("#asset-search", "input")
    assert len(page.evaluate(VISIBLE_JS)["rows"]) == total
    browser_page.assert_clean()


def test_sorting_with_header_buttons(browser_page, base_url, busiest_ward):
    page = open_page(browser_page, f"{base_url}/ward/{busiest_ward}")
    headers = page.locator("#asset-table thead th")
    verified = headers.nth(5)
    button = verified.locator("button")

    button.click()
    assert verified.get_attribute("aria-sort") == "ascending"
    dates = page.evaluate(SORT_VALUES_JS, 5)
    assert dates == sorted(dates)

    button.focus()
    page.keyboard.press("Enter")  # keyboard: the same button
    assert verified.get_attribute("aria-sort") == "descending"
    dates = page.evaluate(SORT_VALUES_JS, 5)
    assert dates == sorted(dates, reverse=True)
    assert headers.nth(0).get_attribute("aria-sort") is None
    assert "descending" in page.locator("#sort-status").inner_text()

    headers.nth(2).locator("button").click()  # category
    categories = page.evaluate(SORT_VALUES_JS, 2)
    assert categories == sorted(categories)
    assert verified.get_attribute("aria-sort") is None
    # sorting leaves the page where it is (no reload) and the filter still applies
    page.select_option("#asset-category", "kind:group")
    assert all(k.startswith("group:") for k in page.evaluate(VISIBLE_JS)["rows"])
    browser_page.assert_clean()


def test_show_on_map_opens_the_popup(browser_page, base_url, busiest_ward):
    page = open_page(browser_page, f"{base_url}/ward/{busiest_ward}")
    row = page.locator("#asset-table tr[data-asset-key]").first
    name = row.locator(".nb-asset-name").inner_text()
    row.locator(".nb-show-on-map").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible", timeout=5000)
    text = popup.inner_text()
    assert name in text and "Last verified" in text
    browser_page.assert_clean()


def test_ward_search_on_the_index(browser_page, base_url, demo_workspace, artifacts_dir):
    wards = demo_workspace.read_layer("ward_summary")
    page = browser_page.page
    page.goto(f"{base_url}/neighbourhoods", wait_until="networkidle")
    rows = page.locator("#ward-table tbody tr[data-search]")
    assert rows.count() == len(wards)
    name = wards["ward_name"].iloc[0]
    page.locator("#ward-search").focus()
    page.keyboard.type(name[:5])
    visible = page.evaluate(
        """() => [...document.querySelectorAll('#ward-table tr[data-search]')]
            .filter(r => !r.hidden).map(r => r.querySelector('code').textContent)"""
    )
    assert wards["ward_code"].iloc[0] in visible and len(visible) < len(wards)
    page.screenshot(path=str(artifacts_dir / "neighbourhoods-index.png"), full_page=True)
    browser_page.assert_clean()


def test_neighbourhood_page_on_a_phone(browser_page, base_url, first_can, artifacts_dir):
    page = browser_page.page
    page.set_viewport_size({"width": 390, "height": 844})
    open_page(browser_page, f"{base_url}/neighbourhood/{first_can}")
    # nothing wider than the screen except inside scrollable table wrappers (charts shrink)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert page.locator("#asset-search").is_visible()
    page.screenshot(path=str(artifacts_dir / "neighbourhood-phone.png"), full_page=True)
    browser_page.assert_clean()
