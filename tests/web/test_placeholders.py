"""Nothing shown as a computer's placeholder (mapper/missing.py): every page, print view,
call sheet, map row and export of the demo, as each role, free of "nan", "None", "NaT",
"NaN", "undefined" and "null" as whole words in what a person reads: the visible text and
attributes of pages (and the HTML of map popups inside their scripts), CSV cells and the
string values of JSON (JSON's own null is fine)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from accounts import sign_in
from route_sweep import _samples, _url, placeholders, read_text

from mapper import exports, missing, overlay
from mapper.store import Workspace
from mapper.web import create_app

ROLES = ("public", "partner", "officer", "admin")


def test_read_text_finds_tokens_only_where_people_read_them():
    page = ('<p title="None">Opening hours: nan</p><script>var x = null;'
            'L.popup(`<div class="a"><p>Address: NaT</p></div>`)</script><p>none here</p>')
    assert placeholders(read_text(page, "text/html")) == ["Address: NaT", "None",
                                                          "Opening hours: nan"]
    assert placeholders(read_text('{"a": null, "b": ["undefined"]}', "application/json")) == [
        "undefined"]
    assert placeholders(read_text("a,b\n,nan\n", "text/csv")) == ["nan"]


def test_missing_values_read_as_not_recorded():
    for value in (None, float("nan"), pd.NA, pd.NaT, "", " nan ", "None", "null", "NaT",
                  "undefined", "<NA>"):
        assert missing.is_missing(value), value
        assert missing.shown(value) == "not recorded"
    for value in (0, False, "Nancy", "none of these", [1]):
        assert not missing.is_missing(value), value
    frame = pd.DataFrame({"a": ["x", "nan", None], "n": [1.0, float("nan"), 2.0]})
    assert missing.clean_frame(frame)["a"].tolist() == ["x", None, None]


@pytest.fixture(scope="module")
def workspace(shared_demo, tmp_path_factory):
    """The demo, with one group whose text fields are missing or hold placeholder text (as
    a spreadsheet saved from pandas would)."""
    directory = tmp_path_factory.mktemp("placeholders") / "demo"
    shutil.copytree(shared_demo, directory)
    ws = Workspace(directory)
    point = overlay.read_layer(ws, "groups").geometry.iloc[0]
    path = directory.parent / "blank_cells.csv"
    path.write_text(
        "group_id,name,category,description,address,opening_hours,languages,easting,northing\n"
        f"blank-1,Blank Cells Club,food,nan,None,NaT,null,{point.x + 3},{point.y}\n"
        f"blank-2,Empty Club,food,,,,,{point.x + 4},{point.y}\n",
        encoding="utf-8",
    )
    from mapper.pipeline import import_file

    import_file(path, ws)
    return directory


@pytest.fixture(scope="module")
def app(workspace):
    return create_app({"TESTING": True, "WORKSPACE": str(workspace), "TILES": "none"})


def _urls(app) -> list[str]:
    samples = _samples(app)
    ws = Workspace(app.config["WORKSPACE"])
    groups = overlay.read_layer(ws, "groups")
    near = groups[groups["group_id"] == "blank-1"].iloc[0]
    postcodes = ws.read_layer("postcodes")
    postcode = postcodes.iloc[postcodes.distance(near.geometry).argmin()]["postcode"]
    urls = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "vendor.vendor_file",
                                                          "auth.signout"):
            continue
        if "token" in rule.arguments or "username" in rule.arguments:
            continue
        if rule.endpoint in ("api.docs", "api.openapi"):  # they document JSON's null
            continue
        urls.add(_url(rule, samples))
    ward = near["ward_code"]
    urls |= {
        f"/incident?postcode={postcode}&k=25",
        f"/incident/callsheet?postcode={postcode}&k=25",
        f"/incident/results.csv?postcode={postcode}&k=25",
        f"/incident/results.geojson?postcode={postcode}&k=25",
        "/neighbourhoods/boundaries.csv", "/neighbourhoods/boundaries.geojson",
        f"/api/nearest?postcode={postcode}&k=25",
        f"/ward/{ward}", f"/ward/{ward}/assets.csv", f"/ward/{ward}/assets.geojson",
        "/register/groups/blank-1",
        # contact lists, as a page, CSV and vCards (blank-1 is in the ward and the radius)
        f"/contacts?ward={ward}", f"/contacts.csv?ward={ward}", f"/contacts.vcf?ward={ward}",
        f"/contacts?postcode={postcode}&radius_m=1000",
        f"/contacts.csv?postcode={postcode}&radius_m=1000",
        *(f"/priority/layers/{layer}.json" for layer in ("groups", "premises", "incidents",
                                                         "gaps")),
        *(f"/register/{register}" for register in ("premises", "incidents")),
    }
    return sorted(urls)


@pytest.mark.parametrize("role", ROLES)
def test_no_placeholder_on_any_page_or_export(app, workspace, role):
    client = sign_in(app.test_client(), role, areas=[_samples(app)["ward_code"]]
                     if role == "partner" else ())
    found, seen = {}, 0
    for url in _urls(app):
        response = client.get(url)
        if response.status_code >= 300:
            assert response.status_code in (302, 400, 401, 403, 404), (url, response.status_code)
            continue
        if response.mimetype.startswith("image/") or "geopackage" in response.mimetype:
            continue  # binary: the favicon, GeoPackage downloads
        seen += 1
        bad = placeholders(read_text(response.get_data(as_text=True),
                                     response.content_type or ""))
        if bad:
            found[url] = bad
    assert seen >= 20
    assert not found, "\n".join(f"{u}: {b}" for u, b in found.items())


def test_exports_have_no_placeholder(workspace, tmp_path):
    ws = Workspace(workspace)
    for register in ("groups", "premises", "incidents"):
        for suffix in (".csv", ".geojson"):
            path = tmp_path / f"{register}{suffix}"
            exports.export(ws, register, path, include_personal_data=True)
            kind = "text/csv" if suffix == ".csv" else "application/json"
            assert placeholders(read_text(path.read_text(encoding="utf-8"), kind)) == [], path
