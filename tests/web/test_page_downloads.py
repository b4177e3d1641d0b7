"""Downloads from the pages (mapper/web/downloads.py): CAN boundaries from the priority
and neighbourhood pages, the incident page's groups, the /wards table; the favicon and
the API docs page.

Every expected answer is read again here straight from the workspace's layers: the demo
workspace (analysed, with groups and contacts) for the downloads, the 3x3 grid workspace
for the ward table, the favicon and the docs page's examples.
"""

from __future__ import annotations

import io
import json
import re
import shutil

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from accounts import sign_in
from csvfiles import csv_rows

from mapper.registers import PERSONAL_COLUMNS
from mapper.store import Workspace
from mapper.web import create_app
from mapper.web.downloads import ABOUT_COLUMNS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_dir(shared_demo, tmp_path_factory):
    """A private copy of the demo (the tests sign users in and read the audit log)."""
    directory = tmp_path_factory.mktemp("downloads") / "demo"
    shutil.copytree(shared_demo, directory)
    return directory


@pytest.fixture(scope="module")
def demo_app(demo_dir):
    return create_app({"TESTING": True, "WORKSPACE": str(demo_dir)})


@pytest.fixture(scope="module")
def ws(demo_dir):
    return Workspace(demo_dir)


def _can_wards(ws, can_ids) -> set[tuple[str, str]]:
    summary = ws.read_layer("ward_summary")
    inside = summary[summary["can_id"].isin(can_ids)]
    return set(zip(inside["can_id"], inside["ward_code"], strict=True))


# -- CAN boundaries ------------------------------------------------------------------------


def test_one_can_wards_csv_lists_exactly_its_wards(demo_app, ws):
    cans = ws.read_layer("neighbourhoods")
    can_id = str(cans["can_id"].iloc[0])
    response = demo_app.test_client().get(f"/neighbourhood/{can_id}/boundary.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f'filename="{can_id}-boundary.csv"' in response.headers["Content-Disposition"]
    rows = csv_rows(response.data)
    assert {(r["can_id"], r["ward_code"]) for r in rows} == _can_wards(ws, [can_id])
    assert len(rows) == len(_can_wards(ws, [can_id]))  # each ward once
    names = dict(zip(ws.read_layer("wards")["ward_code"], ws.read_layer("wards")["ward_name"],
                     strict=True))
    assert all(r["ward_name"] == names[r["ward_code"]] for r in rows)
    assert {r["can_name"] for r in rows} == {str(cans["name"].iloc[0])}
    first = rows[0]
    assert list(first)[-len(ABOUT_COLUMNS):] == list(ABOUT_COLUMNS)
    assert "demo_wards.geojson" in first["sources"] and first["generated_at"]
    assert ws.meta()["analysed_at"] in first["analysis"]


def test_all_cans_csv_with_the_priority_page_filters(demo_app, ws):
    cans = ws.read_layer("neighbourhoods")
    response = demo_app.test_client().get(
        "/neighbourhoods/boundaries.csv?indicator=imd_score&incidents_from=2025-09"
        "&incidents_to=2026-02")
    rows = csv_rows(response.data)
    assert {(r["can_id"], r["ward_code"]) for r in rows} == _can_wards(ws, set(cans["can_id"]))
    summary = ws.read_layer("ward_summary").set_index("ward_code")
    for row in rows:  # the indicator asked for, with its value
        assert float(row["imd_score"]) == pytest.approx(summary.at[row["ward_code"],
                                                                   "imd_score"])
    # ... and what the CANs' incident figures count (the filter's months, every type)
    assert rows[0]["filters"].startswith("indicator=imd_score; incidents_from=2025-09; "
                                         "incidents_to=2026-02; incidents_counted=all "
                                         "incident types, Sep 2025 - Feb 2026, ")
    # CANs in rank order
    ranks = [int(r["can_rank"]) for r in rows]
    assert ranks == sorted(ranks)


def test_boundaries_geojson_has_the_can_polygons_and_provenance(demo_app, ws):
    cans = ws.read_layer("neighbourhoods")
    borough = str(ws.read_layer("wards")["borough_code"].iloc[0])
    response = demo_app.test_client().get(
        f"/neighbourhoods/boundaries.geojson?borough={borough}&indicator=unmet_need")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    doc = json.loads(response.data)
    assert [f["properties"]["can_id"] for f in doc["features"]] == list(
        cans.sort_values("rank")["can_id"])
    got = gpd.GeoDataFrame.from_features(doc["features"], crs="EPSG:4326").to_crs(cans.crs)
    expected = cans.sort_values("rank").reset_index(drop=True)
    for shape, want in zip(got.geometry, expected.geometry, strict=True):
        assert shape.symmetric_difference(want).area < 1e-4 * want.area  # 6-decimal rounding
    assert doc["filters"] == {"borough": borough, "indicator": "unmet_need"}
    layers = {p["layer"] for p in doc["provenance"]}
    assert {"wards", "neighbourhoods", "ward_summary"} <= layers
    assert doc["licences"] and doc["attribution"] and doc["synthetic"] is True
    assert doc["analysis"]["analysed_at"] == ws.meta()["analysed_at"]
    assert doc["generated_at"]


def test_boundary_geopackage_opens_with_its_layers_and_metadata(demo_app, ws, tmp_path):
    cans = ws.read_layer("neighbourhoods")
    can_id = str(cans["can_id"].iloc[-1])
    response = demo_app.test_client().get(f"/neighbourhood/{can_id}/boundary.gpkg")
    assert response.status_code == 200
    assert response.mimetype == "application/geopackage+sqlite3"
    path = tmp_path / "can.gpkg"
    path.write_bytes(response.data)
    layers = {str(name) for name, _ in pyogrio.list_layers(path)}
    assert layers == {"cans", "can_wards", "about"}
    boundary = pyogrio.read_dataframe(path, layer="cans")
    assert list(boundary["can_id"]) == [can_id]
    assert boundary.crs.to_epsg() == 27700
    want = cans.loc[cans["can_id"] == can_id].geometry.iloc[0]
    assert boundary.geometry.iloc[0].symmetric_difference(want).area < 1e-6 * want.area
    wards = pyogrio.read_dataframe(path, layer="can_wards")
    assert set(zip(wards["can_id"], wards["ward_code"], strict=True)) == _can_wards(ws, [can_id])
    metadata = pyogrio.read_info(path, layer="cans")["layer_metadata"]
    assert "demo_wards.geojson" in metadata["sources"] and metadata["generated_at"]
    about = pyogrio.read_dataframe(path, layer="about")
    keys = dict(zip(about["key"], about["value"], strict=True))
    assert keys["title"].startswith(f"Community Action Neighbourhood {can_id}")
    assert json.loads(keys["provenance_json"])[0]["layer"]


def test_boundary_download_refusals(demo_app):
    client = demo_app.test_client()
    assert client.get("/neighbourhoods/boundaries.shp").status_code == 404
    assert "boundaries.gpkg" in client.get("/neighbourhoods/boundaries.shp").get_data(
        as_text=True)
    assert client.get("/neighbourhoods/boundaries.csv?borough=E09999999").status_code == 400
    assert client.get("/neighbourhoods/boundaries.csv?indicator=nope").status_code == 400
    assert client.get("/neighbourhood/CAN-99/boundary.csv").status_code == 404


def test_pages_link_their_downloads(demo_app, ws):
    client = demo_app.test_client()
    can_id = str(ws.read_layer("neighbourhoods")["can_id"].iloc[0])
    page = client.get(f"/neighbourhood/{can_id}").get_data(as_text=True)
    for fmt in ("geojson", "gpkg", "csv"):
        assert f'href="/neighbourhood/{can_id}/boundary.{fmt}"' in page
    page = client.get("/priority?indicator=unmet_need&incidents_from=2025-09").get_data(
        as_text=True)
    links = re.findall(r'href="(/neighbourhoods/boundaries\.[a-z]+\?[^"]*)"', page)
    assert len(links) == 3
    assert all("indicator=unmet_need" in h and "incidents_from=2025-09" in h for h in links)
    for href in links:
        assert client.get(href.replace("&amp;", "&")).status_code == 200
    assert 'id="ward-downloads"' in page
    exported = csv_rows(client.get("/priority/export.csv?indicator=unmet_need").data)
    assert "indicator=unmet_need" in exported[0]["filters"]


# -- the incident page's groups -----------------------------------------------------------


def _postcode(demo_app) -> str:
    from mapper.web import data

    with demo_app.test_request_context("/"):
        return str(data.example_postcode())


def test_incident_results_carry_the_search_point_and_radius(demo_app):
    postcode = _postcode(demo_app)
    client = demo_app.test_client()
    query = f"postcode={postcode}&k=4&radius_m=2000"
    page = client.get(f"/incident?{query}").get_data(as_text=True)
    assert 'data-export="results-csv"' in page and 'data-export="results-geojson"' in page
    doc = json.loads(client.get(f"/incident/results.geojson?{query}").data)
    point, ring, *groups = doc["features"]
    assert point["properties"]["feature"] == "search point"
    assert point["geometry"]["type"] == "Point"
    assert doc["search"]["postcode"] == postcode and doc["search"]["radius_m"] == 2000
    assert point["geometry"]["coordinates"] == [doc["search"]["longitude"],
                                                doc["search"]["latitude"]]
    assert ring["properties"]["feature"] == "search radius"
    circle = gpd.GeoDataFrame.from_features([ring], crs="EPSG:4326").to_crs("EPSG:27700")
    assert circle.geometry.iloc[0].area == pytest.approx(3.14159 * 2000 ** 2, rel=0.01)
    assert 1 <= len(groups) <= 4
    distances = [g["properties"]["distance_m"] for g in groups]
    assert distances == sorted(distances) and max(distances) <= 2000
    assert [g["properties"]["rank"] for g in groups] == list(range(1, len(groups) + 1))
    assert doc["filters"] == {"postcode": postcode, "k": 4, "radius_m": 2000}
    rows = csv_rows(client.get(f"/incident/results.csv?{query}").data)
    assert [r["group_id"] for r in rows] == [g["properties"]["group_id"] for g in groups]
    assert {r["search_postcode"] for r in rows} == {postcode}
    assert {r["search_radius_m"] for r in rows} == {"2000"}
    assert {r["search_latitude"] for r in rows} == {str(doc["search"]["latitude"])}


def test_incident_results_refuse_a_bad_query(demo_app):
    response = demo_app.test_client().get("/incident/results.csv?postcode=ZZ&k=0")
    assert response.status_code == 400


def _group_contacts(ws) -> pd.DataFrame:
    return ws.read_layer("groups").set_index("group_id")


def test_anonymous_results_have_no_contact_details(demo_app, ws):
    postcode = _postcode(demo_app)
    client = demo_app.test_client()
    before = len(ws.appdb.read_audit())
    for fmt in ("csv", "geojson"):
        response = client.get(f"/incident/results.{fmt}?postcode={postcode}&k=20")
        text = response.get_data(as_text=True)
        for column in PERSONAL_COLUMNS:
            assert f'"{column}"' not in text and f",{column}," not in text
        groups = _group_contacts(ws)
        for value in pd.concat([groups["email"], groups["phone"]]).dropna():
            assert str(value) not in text
    assert len(ws.appdb.read_audit()) == before  # nothing shown, nothing to audit


def test_officer_results_have_contacts_and_are_audited(demo_app, ws):
    postcode = _postcode(demo_app)
    client = sign_in(demo_app.test_client(), "officer", username="dl-officer")
    response = client.get(f"/incident/results.csv?postcode={postcode}&k=5")
    assert response.headers["Cache-Control"] == "no-store"
    rows = csv_rows(response.data)
    groups = _group_contacts(ws)
    for row in rows:
        want = groups.at[row["group_id"], "email"]
        assert row["email"] == ("" if pd.isna(want) else str(want))
    exports = [r for r in ws.appdb.read_audit(actor="dl-officer") if r["action"] == "export"]
    assert len(exports) == 1
    assert exports[0]["detail"].startswith("GET /incident/results.csv: incident results as CSV")
    assert postcode not in str(exports[0])


def test_partner_sees_only_their_wards_contacts(demo_app, ws):
    postcode = _postcode(demo_app)
    public = csv_rows(demo_app.test_client().get(
        f"/incident/results.csv?postcode={postcode}&k=10").data)
    groups = _group_contacts(ws)
    wards = [groups.at[r["group_id"], "ward_code"] for r in public]
    granted = wards[0]
    client = sign_in(demo_app.test_client(), "partner", username="dl-partner", areas=[granted])
    rows = csv_rows(client.get(f"/incident/results.csv?postcode={postcode}&k=10").data)
    assert [r["group_id"] for r in rows] == [r["group_id"] for r in public]
    seen = 0
    for row, ward in zip(rows, wards, strict=True):
        email = groups.at[row["group_id"], "email"]
        if ward == granted:
            assert row["email"] == ("" if pd.isna(email) else str(email))
            seen += bool(row["email"])
        else:
            assert row["email"] == "" and row["phone"] == ""
    assert seen >= 1
    doc = json.loads(client.get(f"/incident/results.geojson?postcode={postcode}&k=10").data)
    for feature in doc["features"][1:]:
        props = feature["properties"]
        if groups.at[props["group_id"], "ward_code"] != granted:
            assert props["email"] is None and props["phone"] is None


# -- the ward table, on the grid -----------------------------------------------------------


def test_wards_table_csv_lists_every_ward(client):
    page = client.get("/wards").get_data(as_text=True)
    assert 'href="/wards.csv"' in page
    response = client.get("/wards.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = csv_rows(response.data)
    assert sorted(r["ward_code"] for r in rows) == [f"E0590000{n}" for n in range(1, 10)]
    assert [r["borough_name"] for r in rows] == sorted(r["borough_name"] for r in rows)
    row = next(r for r in rows if r["ward_code"] == "E05900005")
    assert row["ward_name"] == "St Mary's & Holy Trinity" and row["borough_code"] == "E09900002"
    assert "tiny_wards.geojson (2024, OGL v3)" in row["sources"] and row["licence"] == "OGL v3"
    assert row["filters"] == "none"


# -- favicon and API docs --------------------------------------------------------------------


def test_favicon_is_served_and_linked(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in ("image/x-icon", "image/vnd.microsoft.icon")
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
    page = client.get("/wards").get_data(as_text=True)
    assert '<link rel="icon" href="/static/favicon.ico"' in page
    static = client.get("/static/favicon.ico")
    assert static.status_code == 200 and static.data == response.data
    static.close()  # a file response holds its file open


def test_api_docs_in_the_site_layout_with_true_contact_text(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert 'class="site-header"' in page and 'aria-label="Main"' in page
    assert 'aria-current="page">API</a>' in page
    assert "never included for anonymous" in " ".join(page.split())
    assert "Contact details are never included" not in page
    assert "partners those of groups in the wards granted to them" in " ".join(page.split())
    # examples from this workspace (the grid), never London's
    for london in ("E09000007", "E05000129", "E1 6AN", "51.5155"):
        assert london not in page
    assert "/api/wards?borough=E0990000" in page
    # the grid has no groups or incidents: their examples are left out, not invented
    assert "/api/incidents?month=" not in page


def test_api_docs_say_what_the_signed_in_user_sees(app):
    client = sign_in(app.test_client(), "officer")
    page = client.get("/api/docs").get_data(as_text=True)
    assert "You can see every group" in page


def test_docs_examples_on_the_demo_answer(demo_app):
    client = demo_app.test_client()
    page = client.get("/api/docs").get_data(as_text=True)
    hrefs = re.findall(r'<a href="(/api/[^"#]+)"', page)
    assert len(hrefs) >= 12
    for href in hrefs:
        assert client.get(href.replace("&amp;", "&")).status_code == 200, href


def test_downloads_module_writes_csv_excel_and_qgis_read(demo_app):
    """The CSV's first line is its header (no 'about' block to skip), so pandas (as QGIS
    and Excel) reads every column at once."""
    body = demo_app.test_client().get("/neighbourhoods/boundaries.csv").data
    frame = pd.read_csv(io.BytesIO(body), encoding="utf-8-sig")
    assert list(frame.columns[:2]) == ["can_id", "can_rank"]
    assert list(frame.columns[-len(ABOUT_COLUMNS):]) == list(ABOUT_COLUMNS)
