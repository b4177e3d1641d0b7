"""Rows that are not organisations are reported on import, not listed; the same charity
at sites far apart is one organisation with several sites, not a duplicate (issue 15)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from mapper import overlay, registers
from mapper.cli import main
from mapper.duplicates import CHARITY_SITE_M, charity_sites, flag_duplicates
from mapper.pipeline import check_register_import, import_file, rejection_reasons
from mapper.sources import organisations
from mapper.sources.organisations import AREA_PROFILE, NO_NAME, normalise_area_name
from mapper.store import Workspace

# the tiny workspace (tests/conftest.py): 1 km wards from (530000, 180000), boroughs
# Southfield (south row), Middleton, Northbrook; wards "Southfield West" ...
ROWS = [  # name, description, charity number, status, geometry (EPSG:27700)
    ("Middleton", "Read indicators for this borough (https://example.org/middleton)", "",
     "", Point(531500, 181500)),                                               # 1 profile
    ("Southfield West Ward", "Ward profile", "", "", Point(530500, 180500)),    # 2 profile
    ("Northbrook", "Food bank, Tuesdays 10-12", "", "open", Point(531500, 182500)),  # 3 kept
    ("Tinytown estates", "", "", "", box(531000, 180000, 531500, 180500)),      # 4 25 ha
    ("Church hall", "", "", "", box(532000, 181000, 532040, 181040)),          # 5 0.16 ha
    ("", "A row with no name", "", "", Point(532500, 182500)),                  # 6 nameless
    ("Bethnal Green Food Bank", "", "1234567", "closed", Point(530200, 180200)),  # 7
    ("Bow Food Bank", "", "1234567", "open", Point(532600, 182000)),            # 8 3 km away
    ("Old Hall Pantry", "", "7654321", "closed", Point(531500, 181200)),       # 9
    ("Old Hall Pantry CIO", "", "7654321", "open", Point(531520, 181200)),     # 10 20 m away
]


def _file(path):
    frame = gpd.GeoDataFrame(
        {"name": [r[0] for r in ROWS], "category": "food",
         "description": [r[1] for r in ROWS], "charity_number": [r[2] for r in ROWS],
         "status": [r[3] for r in ROWS]},
        geometry=[r[4] for r in ROWS], crs="EPSG:27700").to_crs("EPSG:4326")
    frame.to_file(path, driver="GeoJSON")
    return path


@pytest.fixture
def imported(tiny_workspace, tmp_path):
    ws = Workspace(tiny_workspace)
    imp = import_file(_file(tmp_path / "register.geojson"), ws, register="groups")
    return ws, imp


def test_rows_that_are_not_organisations_are_rejected_with_their_reasons(imported):
    ws, imp = imported
    why = {p.row: p.message for p in imp.rejected}
    assert why == {1: AREA_PROFILE, 2: AREA_PROFILE, 4: why[4], 6: NO_NAME}
    assert why[4].startswith("not an organisation: a polygon of 25 ha")
    assert {p.row_label for p in imp.rejected} == {"feature"}
    assert {p.severity for p in imp.rejected} == {"rejected"}  # left out by rule
    assert imp.rows_read == 10 and len(imp.frame) == 6
    groups = overlay.read_layer(ws, "groups").set_index("source_row")
    assert sorted(groups.index) == [3, 5, 7, 8, 9, 10]
    # a borough's name alone is no reason: many food banks are named after their borough
    assert groups.loc[3, "name"] == "Northbrook"
    hall = groups.loc[5, "geometry"]  # a building's outline: placed inside it
    assert box(532000, 181000, 532040, 181040).contains(hall)


def test_the_import_report_counts_them(imported, tiny_workspace, tmp_path):
    _, imp = imported
    assert rejection_reasons(imp.rejected) == [
        f"2 features: {AREA_PROFILE} (features 1, 2)",
        "1 feature: not an organisation: a polygon of 25 ha, an area (at least 20 ha) rather "
        "than a site; expected a point or a building's outline (feature 4)",
        f"1 feature: {NO_NAME} (feature 6)",
    ]
    # the upload's dry run lists the same, and they are not in the register it would make
    checked, register = check_register_import(tmp_path / "register.geojson",
                                              Workspace(tiny_workspace))
    assert sorted(p.row for p in checked.rejected) == [1, 2, 4, 6]
    assert not register["name"].isin(["Middleton", "Tinytown estates"]).any()


def test_the_cli_prints_the_rows_left_out(tiny_workspace, tmp_path, capsys):
    path = _file(tmp_path / "register.geojson")
    assert main(["--workspace", str(tiny_workspace), "import", str(path), "--as",
                 "groups"]) == 0
    out = capsys.readouterr().out
    assert f"rejected: 2 features: {AREA_PROFILE} (features 1, 2)" in out
    assert f"rejected: 1 feature: {NO_NAME} (feature 6)" in out


def test_same_charity_far_apart_is_two_sites_near_is_a_duplicate(imported):
    ws, _ = imported
    groups = overlay.read_layer(ws, "groups").set_index("name")
    # 3 km apart (2,400 m east, 1,800 m north): one charity's two sites, neither flagged
    assert round(groups.loc["Bethnal Green Food Bank"].geometry.distance(
        groups.loc["Bow Food Bank"].geometry)) == 3000  # (through GeoJSON's lon/lat)
    assert groups.loc[["Bethnal Green Food Bank", "Bow Food Bank"], "duplicate_of"].isna().all()
    # 20 m apart: a duplicate, the open one kept though the closed one came first
    assert pd.isna(groups.loc["Old Hall Pantry CIO", "duplicate_of"])
    pantry = groups.loc["Old Hall Pantry"]
    assert pantry["duplicate_of"] == groups.loc["Old Hall Pantry CIO", "group_id"]
    assert pantry["duplicate_reason"] == "same charity number 7654321 within 250 m"
    assert charity_sites(overlay.read_layer(ws, "groups")) == 2


def _groups(rows):
    frame = pd.DataFrame(rows, columns=["group_id", "charity_number", "postcode", "status"])
    geometry = [Point(x, 0) for x in (0, 260, 5000, 9000)]
    return flag_duplicates(registers.conform(frame, "groups", geometry), "groups")


def test_same_charity_at_the_same_postcode_is_a_duplicate_at_any_distance():
    assert CHARITY_SITE_M == 250.0
    flagged = _groups([("a", "111", "E1 1AA", "open"), ("b", "111", "E2 2BB", "open"),
                       ("c", "111", "e11aa", "open"), ("d", "1 1 1", None, "closed")])
    assert flagged["duplicate_of"].fillna("-").tolist() == ["-", "-", "a", "-"]
    assert flagged.loc[2, "duplicate_reason"] == "same charity number 111 at the same postcode"
    assert pd.isna(flagged.loc[1, "duplicate_reason"])  # 260 m from a: another site


def test_area_names_are_compared_normalised():
    names = organisations.area_names(
        pd.DataFrame({"borough_name": ["City of London", "Tower Hamlets"],
                      "ward_name": ["Spitalfields & Banglatown", None]}))
    assert names == {"london", "tower hamlets", "spitalfields and banglatown"}
    given = pd.Series(["LONDON BOROUGH OF TOWER HAMLETS", "Spitalfields and Banglatown ward",
                       "Tower Hamlets Food Bank", None])
    assert normalise_area_name(given).tolist() == [
        "tower hamlets", "spitalfields and banglatown", "tower hamlets food bank", ""]


def test_profile_words_are_whole_words():
    text = pd.DataFrame({"name": ["Bow"] * 4, "description": [
        "Read indicators for this borough", "see bsky.app/profile/x", "Bow ward statistics",
        "www.londonspovertyprofile.org.uk"]})
    assert organisations._profile_text(text).tolist() == [True, True, True, False]


def test_an_openstreetmap_area_the_size_of_a_ward_is_not_premises(tmp_path):
    """An amenity drawn over 0.7 x 0.5 km (35 ha) is left out; a hall drawn as a 40 m
    square is placed inside it."""
    import json

    from mapper.sources import osm
    from mapper.sources.base import Context
    from mapper.sources.files import peek

    def square(x, y, dx, dy):
        ring = [(x, y), (x + dx, y), (x + dx, y + dy), (x, y + dy), (x, y)]
        lonlat = gpd.GeoSeries.from_xy([p[0] for p in ring], [p[1] for p in ring],
                                       crs=27700).to_crs(4326)
        return {"type": "Polygon", "coordinates": [[[p.x, p.y] for p in lonlat]]}

    features = [
        {"type": "Feature", "properties": {"@id": "way/1", "amenity": "community_centre",
                                           "name": "Estate"},
         "geometry": square(530000, 180000, 700, 500)},
        {"type": "Feature", "properties": {"@id": "way/2", "amenity": "community_centre",
                                           "name": "Hall"},
         "geometry": square(531000, 181000, 40, 40)},
    ]
    path = tmp_path / "export.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    detection = osm.detect(peek(path))
    imported = detection.reader(path, detection, Context())
    assert list(imported.frame["name"]) == ["Hall"]
    [left] = imported.rejected
    assert (left.row, left.row_label, left.severity) == (1, "feature", "rejected")
    assert left.message.startswith("not an organisation: a polygon of 35 ha")
    assert any("1 polygon feature" in w.message for w in imported.warnings)


def test_the_upload_report_lists_them_as_left_out_by_rule(tiny_workspace, tmp_path):
    from mapper.uploads import Limits, inspect_upload

    data = _file(tmp_path / "register.geojson").read_bytes()
    report = inspect_upload("register.geojson", data, Workspace(tiny_workspace), "groups",
                            Limits(in_process=True))
    assert (report.rows_read, report.accepted, report.rejected_count) == (10, 6, 4)
    assert report.invalid_count == 0  # left out by rule, not invalid: "import all" works
    by_row = {p["row"]: p for p in report.rejected}
    assert by_row[1]["message"] == AREA_PROFILE and not by_row[1]["invalid"]
    assert by_row[6]["message"] == NO_NAME
    assert f"2 features: {AREA_PROFILE} (features 1, 2)" in report.reasons
    assert report.can_import_all
    # the duplicate is the closed pantry, never the open one; the food banks are not listed
    assert [(d["name"], d["reason"]) for d in report.duplicates] == [
        ("Old Hall Pantry", "same charity number 7654321 within 250 m")]
