"""The "Due for re-checking" list in headless Chromium, on the hand-built workspace of
recheck_data.py: sign in through the real form, follow the header link to the
neighbourhood's list, click "Confirmed today" on one row; the row is marked in place (no
page load), the record's last_verified is today's date and, on reload, the row is gone.
No console errors, no outside requests; screenshot saved."""

from __future__ import annotations

from datetime import date

import pytest
from accounts import browser_sign_in
from recheck_data import CAN_DUE, CAN_ID, TODAY, write_recheck_workspace

from mapper.analysis import verification
from mapper.editing import current_record
from mapper.store import Workspace
from mapper.web import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
def ws_dir(tmp_path):
    return write_recheck_workspace(tmp_path / "workspace")


@pytest.fixture
def base_url(ws_dir, live_server, monkeypatch):
    monkeypatch.setattr(verification, "today", lambda: TODAY)
    return live_server(create_app({"WORKSPACE": str(ws_dir), "TILES": "none"}))


def test_confirm_a_record_in_place(browser_page, base_url, ws_dir, artifacts_dir):
    page = browser_page.page
    browser_sign_in(page, base_url, ws_dir, "officer")
    page.click("nav.site-nav >> text=Re-checking")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/due")
    with page.expect_navigation():
        page.click(f"#due-neighbourhoods tr[data-area='{CAN_ID}'] a")
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/due/neighbourhood/{CAN_ID}")
    ids = page.eval_on_selector_all("[data-due-row]", "rows => rows.map(r => r.dataset.recordId)")
    assert ids == CAN_DUE

    marker = page.evaluate("() => { window.__samePage = true; return window.__samePage; }")
    assert marker is True
    row = page.locator("#due-groups-g-old")
    row.locator("button", has_text="Confirmed today").click()
    page.wait_for_selector("#due-groups-g-old.due-row--done")
    assert page.evaluate("() => window.__samePage === true"), "the page was reloaded"
    assert row.locator("[data-due-checked]").inner_text() == "confirmed today"
    assert row.locator(".due-done").inner_text() == "Confirmed today"
    status = page.locator("#due-status").inner_text()
    assert status.startswith("Confirmed Oak Tree Mutual Aid as still right today")
    assert page.locator("#due-count").inner_text() == "4 records still due, oldest check first."
    page.screenshot(path=str(artifacts_dir / "recheck-confirmed.png"), full_page=True)

    record, version, _ = current_record(Workspace(ws_dir), "groups", "g-old")
    assert record["last_verified"] == date.today().isoformat() and version == 2

    page.reload(wait_until="networkidle")
    ids = page.eval_on_selector_all("[data-due-row]", "rows => rows.map(r => r.dataset.recordId)")
    assert ids == [r for r in CAN_DUE if r != "g-old"]
