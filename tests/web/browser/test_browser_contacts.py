"""The contact list in headless Chromium: an officer signs in through the real form, opens
Contacts from the header, picks a ward, sees its groups and downloads the CSV; no console
errors, no outside requests."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from accounts import browser_sign_in
from contact_workspace import *  # noqa: F403 - the fixture ws_dir (contact_workspace.__all__)

from mapper import overlay
from mapper.store import Workspace
from mapper.web import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
def base_url(ws_dir, live_server):
    return live_server(create_app({"WORKSPACE": str(ws_dir), "TILES": "none"}))


def test_an_officer_picks_a_ward_and_downloads_its_csv(browser_page, base_url, ws_dir,
                                                        artifacts_dir):
    page = browser_page.page
    browser_sign_in(page, base_url, ws_dir, "officer")
    page.click("nav.site-nav >> text=Contacts")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/contacts")
    page.select_option("#ward", label="St Mary's & Holy Trinity")
    with page.expect_navigation():
        page.click("#by-ward button[type=submit]")
    assert page.url.endswith("/contacts?ward=E05900005")
    heading = page.text_content("#list-title")
    assert " ".join(heading.split()) == "3 groups"
    names = [n.strip().split("\n")[0] for n in page.locator(
        "#contact-table tbody th").all_inner_texts()]
    assert names == ["Alpha Food Bank", "epsilon Residents", "Gamma Mosque"]
    page.screenshot(path=str(artifacts_dir / "contacts-ward.png"), full_page=True)
    with page.expect_download() as caught:
        page.click("#download-csv")
    download = caught.value
    assert download.suggested_filename.startswith("contacts-ward-E05900005-")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["group_id"] for r in rows] == ["g1", "g5", "g3"]
    assert rows[0]["emergency_consent"] == "yes" and rows[1]["emergency_consent"] == (
        "not recorded")
    exports = [r for r in Workspace(ws_dir).appdb.read_audit() if r["action"] == "export"]
    assert len(exports) == 1 and exports[0]["detail"].endswith("as CSV: contact details "
                                                              "of 3 groups")


LONG_LINK = "https://www.facebook.com/groups/245970890138651245970890138651/"


@pytest.mark.parametrize("path", ["/incident", "/incident/callsheet"])
def test_an_officer_on_a_phone_reads_the_incident_page_without_sideways_scrolling(
        browser_page, base_url, ws_dir, path):
    # a web address with no space or hyphen (as Facebook group links are) wrapped nowhere
    # on a 390 px phone, and the call sheet's eight columns pushed the page to 913 px
    workspace = Workspace(ws_dir)
    groups = overlay.read_layer(workspace, "groups")
    groups.loc[groups["group_id"] == "g1", "website"] = LONG_LINK
    with workspace.transaction() as tx:
        tx.write_layer("groups", groups)
    page = browser_page.page
    browser_sign_in(page, base_url, ws_dir, "officer")
    page.set_viewport_size({"width": 390, "height": 844})
    response = page.goto(f"{base_url}{path}?postcode=ZZ9+9ZZ", wait_until="networkidle")
    assert response is not None and response.status == 200
    assert LONG_LINK in page.inner_text("body")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    if path.endswith("callsheet"):
        # on a phone each group is a card of labelled lines (nothing to scroll sideways),
        # and the sheet prints whole as a table on A4 landscape
        box = page.locator(".cs-table-wrap")
        assert box.evaluate("e => e.scrollWidth <= e.clientWidth")
        assert page.locator(".cs-table tbody td[data-label]").count() > 0
        page.set_viewport_size({"width": 1123, "height": 794})
        page.emulate_media(media="print")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1123
        assert box.evaluate("e => e.scrollWidth <= e.clientWidth")
    browser_page.assert_clean()
