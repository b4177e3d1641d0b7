"""The page downloads in headless Chromium, on the demo workspace, at 1280 and 390 px: each
link is visible on the screen next to what it downloads, is reached and followed from the
keyboard (focus, Enter) and gives a file; pages ask for nothing that fails (the favicon
is served), and the API docs page wears the site's header."""

from __future__ import annotations

import pytest

from mapper.web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (1280, 390)


@pytest.fixture
def base_url(shared_demo, live_server):
    return live_server(create_app({"WORKSPACE": str(shared_demo), "TILES": "none"}))


@pytest.fixture(scope="module")
def first_can(shared_demo) -> str:
    from mapper.store import Workspace

    return str(Workspace(shared_demo).read_layer("neighbourhoods")["can_id"].iloc[0])


@pytest.fixture(scope="module")
def postcode(shared_demo) -> str:
    from mapper.web import data

    app = create_app({"WORKSPACE": str(shared_demo), "TILES": "none"})
    with app.test_request_context("/"):
        return str(data.example_postcode())


def _failed_responses(page) -> list[str]:
    failed: list[str] = []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    return failed


def _download_by_keyboard(page, selector: str, width: int) -> str:
    """Focus the link, check it is on the screen, press Enter; the file's suggested name."""
    link = page.locator(selector)
    link.scroll_into_view_if_needed()
    assert link.is_visible(), selector
    box = link.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (
        selector, box)
    link.focus()
    assert page.evaluate("document.activeElement.dataset.export") == selector.split('"')[1]
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    download = info.value
    assert download.failure() is None
    return download.suggested_filename


@pytest.mark.parametrize("width", WIDTHS)
def test_downloads_are_visible_and_work_from_the_keyboard(
        browser_page, base_url, first_can, postcode, width, artifacts_dir):
    page = browser_page.page
    page.set_viewport_size({"width": width, "height": 844 if width < 600 else 900})
    failed = _failed_responses(page)

    page.goto(f"{base_url}/priority?indicator=imd_score", wait_until="networkidle")
    assert _download_by_keyboard(page, '[data-export="cans-geojson"]', width) == "cans.geojson"
    assert _download_by_keyboard(page, '[data-export="cans-gpkg"]', width) == "cans.gpkg"
    assert _download_by_keyboard(page, '[data-export="wards-csv"]', width).endswith(".csv")
    page.screenshot(path=str(artifacts_dir / f"downloads-priority-{width}.png"))

    page.goto(f"{base_url}/neighbourhood/{first_can}", wait_until="networkidle")
    assert _download_by_keyboard(page, '[data-export="boundary-csv"]', width) == (
        f"{first_can}-boundary.csv")

    page.goto(f"{base_url}/incident?postcode={postcode}&radius_m=1000", wait_until="networkidle")
    name = _download_by_keyboard(page, '[data-export="results-geojson"]', width)
    assert name.startswith("incident-groups-") and name.endswith(".geojson")
    page.screenshot(path=str(artifacts_dir / f"downloads-incident-{width}.png"))

    page.goto(f"{base_url}/wards", wait_until="networkidle")
    assert _download_by_keyboard(page, '[data-export="wards-csv"]', width) == "wards.csv"

    page.goto(f"{base_url}/api/docs", wait_until="networkidle")
    assert page.locator(".site-header").is_visible()
    assert page.locator("#contact-rule").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(artifacts_dir / f"downloads-api-docs-{width}.png"))
    assert not failed, failed


def test_the_favicon_loads(browser_page, base_url):
    """/favicon.ico (where browsers look unasked) and the icon base.html links."""
    page = browser_page.page
    page.goto(f"{base_url}/wards", wait_until="networkidle")
    linked = page.get_attribute('link[rel="icon"]', "href")
    assert linked == "/static/favicon.ico"
    for url in ("/favicon.ico", linked):
        response = page.request.get(base_url + url)
        assert response.status == 200, url
        assert response.headers["content-type"].startswith("image/"), url
        assert response.body()[:4] == b"\x00\x00\x01\x00"
