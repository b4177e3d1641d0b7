"""User text stays text: on the demo workspace with groups, premises and incidents named
like markup (imported through the real importer), a ward and the study area renamed the
same way, no page carries that markup unescaped, the JSON API keeps it as data, and in
headless Chromium the names show literally in tables, popups and tooltips while no
script runs (no dialog, no console error, no CSP violation)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from browser_scripts import WARD_CENTRE_JS

from mapper import overlay
from mapper.analysis_run import analyse
from mapper.config import Settings
from mapper.pipeline import import_file
from mapper.store import Workspace
from mapper.web import create_app

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE = (SCRIPT, IMG)
STUDY_AREA = f"{SCRIPT} Demoborough (synthetic)"


@dataclass(frozen=True)
class Hostile:
    """The hostile workspace and where its hostile records are."""

    directory: Path
    postcode: str  # where the hostile groups, premises and incidents are
    ward_code: str  # the ward holding them, renamed IMG
    can_id: str  # the CAN of that ward, else the first CAN


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, demo_module_copy) -> Hostile:
    """The demo workspace, plus hostile records imported from CSV files at a postcode of a
    ward in the first CAN; that ward renamed IMG and the study area renamed SCRIPT."""
    root = tmp_path_factory.mktemp("xss")
    workspace = Workspace(demo_module_copy)
    summary = workspace.read_layer("ward_summary")
    ward_code = str(summary.loc[summary["can_id"].notna(), "ward_code"].sort_values().iloc[0])
    postcodes = workspace.read_layer("postcodes")
    postcode = str(postcodes.loc[postcodes["ward_code"] == ward_code, "postcode"].iloc[0])
    latest = str(overlay.read_layer(workspace, "incidents")["date"].dropna().max())[:10]

    wards = workspace.read_layer("wards")
    wards.loc[wards["ward_code"] == ward_code, "ward_name"] = IMG
    with workspace.transaction() as tx:
        tx.write_layer("wards", wards)  # keeps the layer's provenance
        tx.set_meta("study_area", STUDY_AREA)

    files = [
        _write_csv(root / "hostile_groups.csv",
                   ["group_id", "name", "category", "description", "communities_served",
                    "languages", "postcode", "opening_hours", "emergency_offer",
                    "last_verified"],
                   [["xss-g1", SCRIPT, "food", IMG, SCRIPT, IMG, postcode, SCRIPT,
                     f"food; volunteers; {SCRIPT}", "2025-01-01"],
                    ["xss-g2", IMG, SCRIPT, SCRIPT, IMG, SCRIPT, postcode, IMG,
                     f"rest centre; {IMG}", "2025-01-01"]]),
        _write_csv(root / "hostile_premises.csv",
                   ["premises_id", "name", "type", "address", "postcode", "capacity",
                    "step_free"],
                   [["xss-p1", SCRIPT, SCRIPT, IMG, postcode, "50", "yes"],
                    ["xss-p2", IMG, "hall", SCRIPT, postcode, "20", "no"]]),
        _write_csv(root / "hostile_incidents.csv",
                   ["incident_id", "date", "type", "description", "postcode",
                    "location_description", "outcome"],
                   [["xss-i1", latest, SCRIPT, IMG, postcode, SCRIPT, IMG],
                    ["xss-i2", latest, IMG, SCRIPT, postcode, IMG, SCRIPT]]),
    ]
    for path in files:
        import_file(path, workspace)
    analyse(workspace, Settings(stability_draws=10))

    summary = workspace.read_layer("ward_summary").set_index("ward_code")
    can = summary.loc[ward_code, "can_id"]
    if not isinstance(can, str) or not can:
        can = str(workspace.read_layer("neighbourhoods")["can_id"].iloc[0])
    return Hostile(workspace.directory, postcode, ward_code, can)


@pytest.fixture
def hostile_app(hostile):
    return create_app({"TESTING": True, "WORKSPACE": str(hostile.directory), "TILES": "none"})


@pytest.fixture
def client(hostile_app):
    return hostile_app.test_client()


# -- every page, through the test client ----------------------------------------------


class _Tags(HTMLParser):
    """Every start tag of a page, as (tag, attributes)."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _pages(h: Hostile) -> list[str]:
    near = urlencode({"postcode": h.postcode, "k": "20"})
    return [
        "/",
        "/priority",
        "/priority?" + urlencode({"indicator": "groups_total"}),
        "/priority/decision-record",
        "/neighbourhoods",
        f"/neighbourhood/{h.can_id}",
        f"/ward/{h.ward_code}",
        f"/ward/{h.ward_code}?" + urlencode({"q": SCRIPT}),
        "/incident",
        f"/incident?{near}",
        f"/incident/callsheet?{near}",
    ]


def assert_inert(response) -> None:
    """No hostile markup in the page as markup: only escaped, never a tag or handler; and
    every script carries the response's CSP nonce."""
    page = response.get_data(as_text=True)
    for text in HOSTILE:
        assert text not in page, f"{text} unescaped in {response.request.path}"
    assert "<img src=x" not in page.lower()
    parser = _Tags()
    parser.feed(page)
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    for tag, attrs in parser.tags:
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"<{tag}> with {handlers} in {response.request.path}"
        assert not (tag == "img" and attrs.get("src") == "x")
        if tag == "script":
            assert attrs.get("nonce") == nonce, f"script without the nonce: {attrs}"


def test_every_page_escapes_the_hostile_names(client, hostile):
    for path in _pages(hostile):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        assert "alert(1)" in page, f"the hostile text never reached {path}"
        assert_inert(response)


def test_the_hostile_records_are_listed_as_text(client, hostile):
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    ward = client.get(f"/ward/{hostile.ward_code}").get_data(as_text=True)
    assert ward.count(escaped) >= 2  # at least the group and the premises rows
    assert "&lt;img src=x onerror=alert(1)&gt;" in ward
    near = urlencode({"postcode": hostile.postcode, "k": "20"})
    incident = client.get(f"/incident?{near}").get_data(as_text=True)
    assert f">{escaped}</span>" in incident  # the listed group's name
    overview = client.get("/").get_data(as_text=True)
    assert f">{escaped} Demoborough (synthetic)</h1>" in overview


def test_errors_echoing_hostile_input_escape_it(client):
    for path, status in [
        (f"/neighbourhood/{quote(SCRIPT)}", 404),
        (f"/ward/{quote(IMG)}", 404),
        ("/incident?" + urlencode({"postcode": SCRIPT}), 400),
        ("/priority?" + urlencode({"indicator": SCRIPT}), 400),
    ]:
        response = client.get(path, follow_redirects=True)
        assert response.status_code == status, (path, response.status_code)
        assert_inert(response)


@pytest.mark.parametrize("path", ["/api/groups", "/api/premises", "/api/incidents",
                                  "/priority/layers/groups.json"])
def test_json_keeps_the_names_as_data(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype.endswith("json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    texts = set()

    def walk(value):
        if isinstance(value, str):
            texts.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(response.get_json())
    assert SCRIPT in texts and IMG in texts


# -- in the browser -------------------------------------------------------------------


@pytest.fixture
def base_url(hostile, live_server):
    return live_server(create_app({"WORKSPACE": str(hostile.directory), "TILES": "none"}))


@pytest.fixture
def dialogs(browser_page) -> list[str]:
    """Messages of every alert/confirm/prompt the page opens (dismissed at once)."""
    opened: list[str] = []

    def on_dialog(dialog):
        opened.append(dialog.message)
        dialog.dismiss()

    browser_page.page.on("dialog", on_dialog)
    return opened


def _open(browser_page, url: str):
    page = browser_page.page
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == 200
    # Predicates are written as functions: Playwright evaluates a function once and then
    # calls it, but re-evaluates a bare expression (eval) on each poll, which the page's
    # Content-Security-Policy blocks.
    page.wait_for_function("() => document.querySelector('.leaflet-overlay-pane canvas')")
    return page


def _no_markup_ran(page) -> None:
    """No element the hostile names would create exists in the page."""
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    scripts = page.evaluate("[...document.scripts].map(s => s.textContent)")
    assert not [s for s in scripts if s.strip() == "alert(1)"]


@pytest.mark.browser
def test_overview_shows_the_hostile_names_as_text(browser_page, dialogs, base_url, hostile):
    page = _open(browser_page, base_url + "/")
    assert page.inner_text("h1") == STUDY_AREA
    point = page.evaluate(WARD_CENTRE_JS, hostile.ward_code)
    page.mouse.move(point["x"] - 30, point["y"] - 30)
    page.mouse.move(point["x"], point["y"], steps=5)
    page.wait_for_function(
        "(name) => [...document.querySelectorAll('.leaflet-tooltip')]"
        ".some(t => t.textContent.includes(name))",
        arg=IMG,
        timeout=5000,
    )
    _no_markup_ran(page)
    assert dialogs == []
    browser_page.assert_clean()


@pytest.mark.browser
def test_ward_page_popups_show_the_hostile_names_as_text(browser_page, dialogs, base_url,
                                                         hostile, artifacts_dir):
    page = _open(browser_page, f"{base_url}/ward/{hostile.ward_code}")
    page.wait_for_function("() => window.neighbourhoodAssetMap !== undefined")
    assert IMG in page.inner_text("h1")
    for name in HOSTILE:
        row = page.locator("#asset-table tr[data-asset-key]").filter(
            has=page.locator(".nb-asset-name", has_text=name)).first
        assert row.locator(".nb-asset-name").inner_text().strip() == name
        row.locator(".nb-show-on-map").click()
        popup = page.locator(".leaflet-popup-content .asset-popup__name")
        page.wait_for_function(
            "(name) => [...document.querySelectorAll('.leaflet-popup-content "
            ".asset-popup__name')].some(p => p.textContent === name)",
            arg=name,
            timeout=5000,
        )
        assert name in popup.all_inner_texts()
    page.locator(".nb-asset-name", has_text=SCRIPT).first.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "xss-ward.png"), full_page=False)
    _no_markup_ran(page)
    assert dialogs == []
    browser_page.assert_clean()


#: the incident map's numbered marker whose title includes `text`: its rank, after its
#: tooltip has been opened
OPEN_GROUP_TOOLTIP_JS = """
(text) => {
    const map = window[document.getElementById('inc-map').dataset.mapName];
    let rank = null;
    map.eachLayer(layer => {
        if (layer instanceof L.Marker && layer.options.rank && !rank
                && layer.options.title.includes(text)) {
            rank = layer.options.rank;
            layer.openTooltip();
        }
    });
    return rank;
}
"""


@pytest.mark.browser
def test_incident_search_shows_the_hostile_names_as_text(browser_page, dialogs, base_url,
                                                         hostile):
    query = urlencode({"postcode": hostile.postcode, "k": "20"})
    page = _open(browser_page, f"{base_url}/incident?{query}")
    titles = page.locator(".inc-result__title").all_inner_texts()
    assert SCRIPT in titles and IMG in titles
    for name in HOSTILE:
        rank = page.evaluate(OPEN_GROUP_TOOLTIP_JS, name)
        assert rank, f"no marker for {name}"
        tooltip = page.locator(".leaflet-tooltip", has_text=name)
        tooltip.wait_for(state="visible", timeout=5000)
        assert tooltip.inner_text().startswith(f"{rank}. {name}, ")
    _no_markup_ran(page)
    assert dialogs == []
    browser_page.assert_clean()


#: the tooltips of the priority map's point layer `kind` that include `text`, opened
OPEN_POINT_TOOLTIPS_JS = """
([kind, text]) => {
    // markers carry their row; the tooltip is made when the pointer first reaches one
    const map = window[document.querySelector('.folium-map').id];
    const group = map.pointLayers[kind];
    const found = group.getLayers().filter(
        marker => (marker.row || []).slice(2).some(v => String(v || '').includes(text)));
    return new Promise(resolve => {
        if (!found.length) { resolve(0); return; }
        group.zoomToShowLayer(found[0], () => {
            found[0].fire('mouseover', {}, true);  // as the pointer would (propagates)
            resolve(found.length);
        });
    });
}
"""


@pytest.mark.browser
def test_priority_map_layers_show_the_hostile_names_as_text(browser_page, dialogs, base_url):
    page = _open(browser_page, base_url + "/priority")
    # zoomed in, where the layers show their markers (zoomed out: counts per ward)
    page.evaluate("() => { window[document.querySelector('.folium-map').id]"
                  ".setZoom(15, {animate: false}); }")
    # "Incidents (what is counted)", not "Heatmap of incidents": the names' starts
    for label, kind in ((r"^\s*VCS groups", "groups"), (r"^\s*Community premises", "premises"),
                        (r"^\s*Incidents", "incidents")):
        page.locator(".leaflet-control-layers-overlays label",
                     has_text=re.compile(label)).click()
        page.wait_for_function(
            "(kind) => (window[document.querySelector('.folium-map').id].pointLayers[kind]"
            " || {getLayers: () => []}).getLayers().length > 0",
            arg=kind,
            timeout=10000,
        )
        for name in HOSTILE:
            assert page.evaluate(OPEN_POINT_TOOLTIPS_JS, [kind, name]) >= 1, (kind, name)
            page.locator(".leaflet-tooltip", has_text=name).first.wait_for(
                state="visible", timeout=5000)
    _no_markup_ran(page)
    assert dialogs == []
    browser_page.assert_clean()
