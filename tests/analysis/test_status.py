"""Status (open, temporarily closed, closed, unknown) and capabilities only from evidence.

Registers are built in code: a Give Food style file with closed flags, a warm-spaces and a
mutual-aid file (whose capabilities once were constants for the whole file), a generic
file with status words and end dates, an OSM extract with ``disused:`` / ``was:`` tags.
Closed records must stay in the registers, marked, and never reach nearest answers,
supply counts, access distances or coverage; officers close and reopen through the edit
API (audited, stamped with who and when).
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from accounts import sign_in
from demo_editing import _to_lonlat, audit_rows, headers, nearest_ids
from realdata import london_dir

from mapper import overlay, registers
from mapper.analysis._tables import in_service
from mapper.analysis.assets import count_by, nearest_distance
from mapper.analysis.coverage import uncovered_population
from mapper.analysis.nearest import NearestIndex
from mapper.duplicates import flag_duplicates
from mapper.pipeline import read_file
from mapper.sources import capabilities, detect_file, status
from mapper.sources.base import Context
from mapper.store import Workspace
from mapper.web import create_app

DAY = date(2026, 11, 3)


# -- the rules --------------------------------------------------------------------------


def test_status_from_flags_words_and_end_dates():
    table = pd.DataFrame({
        "Closed": ["True", "False", "", "", "", "no"],
        "Status": ["", "active", "temporarily closed", "defunct", "", "suspended"],
        "End date": ["", "", "", "", "31/10/2026", "2027-01-01"],
    })
    got, origin = status.from_table(table, source="Pantry list", today=DAY)
    assert list(got) == ["closed", "open", "temporarily closed", "closed", "closed",
                         "temporarily closed"]
    assert list(origin) == [
        "Pantry list marks it closed (column 'Closed')",
        "Pantry list marks it open (column 'Closed')",
        "Pantry list: Status 'temporarily closed'",
        "Pantry list: Status 'defunct'",
        "Pantry list: End date 2026-10-31 has passed",
        "Pantry list: Status 'suspended'",  # the most closed signal wins over 'open'
    ]
    hours = pd.DataFrame({"date closed": ["17:00", "1/2/24"]})  # a time is not a date
    assert status.from_table(hours, source="X", today=DAY)[0].tolist() == ["unknown", "closed"]
    blank = pd.DataFrame({"name": ["A"]})
    assert status.from_table(blank, source="X")[0].tolist() == ["unknown"]
    assert status.from_table(blank, source="X")[1].tolist() == ["not recorded by X"]


def test_osm_lifecycle_tags_mean_closed():
    tags = pd.DataFrame({"amenity": ["community_centre", "", "library"],
                         "disused:amenity": ["", "community_centre", ""],
                         "disused": ["", "", "yes"]})
    got, origin = status.osm_lifecycle(tags)
    assert list(got) == ["unknown", "closed", "closed"]
    assert list(origin) == ["not recorded by OpenStreetMap",
                            "OpenStreetMap: disused:amenity=community_centre",
                            "OpenStreetMap: disused=yes"]


def test_capability_rules_name_a_column_and_a_capability(tmp_path):
    bad = tmp_path / "capabilities.csv"
    bad.write_text("source,field,value,capability\n"
                   "warm_spaces,*,*,rest centre\n"
                   "givefood,network,ifan,soup\n")
    with pytest.raises(Exception) as excinfo:
        capabilities.load_rules(bad)
    message = str(excinfo.value)
    assert "capabilities.csv row 2 column 'field'" in message  # a whole-file constant
    assert "capabilities.csv row 3 column 'capability': 'soup'" in message


# -- imports ------------------------------------------------------------------------------

GIVE_FOOD = ["name", "slug", "shopping_list_url", "network", "charity_number", "address",
             "postcode", "closed", "lat", "lon"]


def _import(path: Path, context: Context | None = None):
    return read_file(detect_file(path), path, context or Context())


def _write(path: Path, header: list[str], rows: list[list]) -> Path:
    pd.DataFrame(rows, columns=header).to_csv(path, index=False)
    return path


@pytest.fixture
def food_banks(tmp_path) -> Path:
    return _write(tmp_path / "foodbanks.csv", GIVE_FOOD, [
        ["Bethnal Green", "bethnal-green", "u", "Trussell Trust", "1111111", "1 A St",
         "E2 0AA", "True", 51.527, -0.055],
        ["Bow", "bow", "u", "Trussell Trust", "1111111", "2 B St", "E3 2AA", "False",
         51.528, -0.020],
        ["Stepney Pantry", "stepney", "u", "Independent", "", "3 C St", "E1 3AA", "False",
         51.517, -0.045],
    ])


def test_give_food_closed_flags_and_offers_from_the_network_column(food_banks):
    frame = _import(food_banks).frame.set_index("source_id")
    assert dict(frame["status"]) == {"bethnal-green": "closed", "bow": "open",
                                     "stepney": "open"}
    assert (frame.loc["bethnal-green", "status_source"]
            == "Give Food marks it closed (column 'closed')")
    assert dict(frame["emergency_offer"]) == dict.fromkeys(frame.index, "food")
    assert frame.loc["bow", "offer_source"] == "food: from Give Food (network 'Trussell Trust')"
    assert frame.loc["stepney", "offer_source"] == "food: from Give Food (network 'Independent')"


def test_warm_spaces_and_mutual_aid_offer_nothing_without_evidence(tmp_path):
    warm = _write(tmp_path / "warm.csv",
                  ["title", "address", "postcode", "description", "hours_text",
                   "hours_opening", "url", "contact", "_source", "lon", "lat"],
                  [["St Anne's hall", "1 Road", "E1 6AN", "Tea and warmth", "Mo 10-12",
                    "Mo 10:00-12:00", "", "", "warm_welcome", -0.07, 51.52]])
    aid = _write(tmp_path / "aid.csv",
                 ["id", "name", "location_name", "link_facebook", "description", "lon", "lat"],
                 [["g1", "Bow mutual aid", "Bow", "https://example.org", "", -0.02, 51.53]])
    for path in (warm, aid):
        frame = _import(path).frame
        assert frame["emergency_offer"].isna().all() and frame["offer_source"].isna().all()
        assert list(frame["status"]) == ["unknown"]


def test_a_workspace_rules_file_adds_capabilities_from_a_column(tmp_path):
    rules = tmp_path / "capabilities.csv"
    rules.write_text("source,field,value,capability\n"
                     "generic,rest centre,yes,rest centre\n")
    venues = _write(tmp_path / "community_groups.csv", ["name", "rest centre", "lat", "lon"],
                    [["Civic Hall", "Yes", 51.5, -0.1], ["Chapel", "no", 51.51, -0.1]])
    frame = _import(venues, Context(capability_rules=rules)).frame.set_index("name")
    assert frame.loc["Civic Hall", "emergency_offer"] == "rest centre"
    assert frame.loc["Civic Hall", "offer_source"] == (
        "rest centre: from community_groups (rest centre 'Yes')")
    assert pd.isna(frame.loc["Chapel", "emergency_offer"])


def test_every_capability_has_an_origin(food_banks, tmp_path):
    offers = _write(tmp_path / "groups.csv", ["name", "emergency_offer", "lat", "lon"],
                    [["Scouts", "transport; first aid", 51.5, -0.1], ["Choir", "", 51.5, -0.1]])
    for path in (food_banks, offers):
        frame = _import(path).frame
        has = frame["emergency_offer"].notna()
        assert has.any()
        assert frame.loc[has, "offer_source"].notna().all()
        assert frame.loc[~has, "offer_source"].isna().all()
    frame = _import(offers).frame.set_index("name")
    assert frame.loc["Scouts", "offer_source"] == "from groups (emergency_offer)"


def test_osm_disused_features_are_premises_marked_closed(tmp_path):
    features = gpd.GeoDataFrame(
        {"@id": ["node/1", "node/2", "node/3"],
         "amenity": ["community_centre", None, "place_of_worship"],
         "disused:amenity": [None, "community_centre", None],
         "name": ["Open Hall", "Old Hall", "Chapel"]},
        geometry=[shapely.Point(-0.1, 51.5), shapely.Point(-0.11, 51.5),
                  shapely.Point(-0.12, 51.5)], crs="EPSG:4326")
    path = tmp_path / "osm.geojson"
    features.to_file(path, driver="GeoJSON")
    frame = _import(path).frame.set_index("name")
    assert dict(frame["type"]) == {"Open Hall": "community centre",
                                   "Old Hall": "community centre",
                                   "Chapel": "place of worship"}
    assert dict(frame["status"]) == {"Open Hall": "unknown", "Old Hall": "closed",
                                     "Chapel": "unknown"}
    assert frame.loc["Old Hall", "status_source"] == (
        "OpenStreetMap: disused:amenity=community_centre")


# -- the analysis leaves closed records out ---------------------------------------------


def _groups(rows) -> gpd.GeoDataFrame:
    """(id, x, y, status, charity number, ward) rows as a groups register."""
    frame = pd.DataFrame(rows, columns=["group_id", "x", "y", "status", "charity_number",
                                        "ward_code"])
    frame["name"] = frame["group_id"]
    frame["category"] = "food"
    frame["emergency_offer"] = "food"
    return registers.conform(frame, "groups",
                             gpd.points_from_xy(frame["x"], frame["y"], crs="EPSG:27700"))


REGISTER = [
    ("closed-near", 100, 0, "closed", "", "W1"),
    ("temp", 300, 0, "temporarily closed", "", "W1"),
    ("open-far", 500, 0, "open", "", "W2"),
    ("unknown", 700, 0, None, "", "W2"),
]


def test_nearest_never_offers_a_closed_group():
    index = NearestIndex(_groups(REGISTER))
    found = index.query(0, 0, k=10, category="food", capabilities=["food"])
    assert list(found["id"]) == ["temp", "open-far", "unknown"]
    assert list(found["distance_m"]) == [300, 500, 700]


def test_supply_and_access_leave_closed_groups_out():
    groups = _groups(REGISTER)
    counts = count_by(groups, pd.Index(["W1", "W2"], name="ward_code"), column="category",
                      prefix="groups")
    assert counts["groups_total"].to_dict() == {"W1": 1, "W2": 2}
    people = gpd.GeoDataFrame(geometry=gpd.points_from_xy([0], [0]), crs="EPSG:27700")
    distance = nearest_distance(people, groups, category_column="category")
    assert distance["distance_food_m"].iloc[0] == 300.0  # not 100 m: that one has closed
    uncovered = uncovered_population(people, groups, radius_m=200)
    assert uncovered.tolist() == [True]


def test_in_service_is_one_rule_for_every_register():
    groups = _groups(REGISTER)
    assert in_service(groups).tolist() == [False, True, True, True]
    assert in_service(groups.drop(columns="status")).all()


def test_a_duplicate_flag_never_hides_an_open_record_behind_a_closed_one():
    rows = [("bethnal-green", 0, 0, "closed", "1111111", "W1"),
            ("bow", 30, 0, "open", "1111111", "W1"),
            ("old-a", 0, 5000, "closed", "2222222", "W2"),
            ("old-b", 10, 5000, "closed", "2222222", "W2")]
    flagged = flag_duplicates(_groups(rows), "groups").set_index("group_id")
    assert pd.isna(flagged.loc["bow", "duplicate_of"])
    assert flagged.loc["bethnal-green", "duplicate_of"] == "bow"
    assert flagged.loc["bethnal-green", "duplicate_reason"] == (
        "same charity number 1111111 within 250 m")
    # all closed: the first is kept, as before
    assert pd.isna(flagged.loc["old-a", "duplicate_of"])
    assert flagged.loc["old-b", "duplicate_of"] == "old-a"


# -- officers close and reopen ----------------------------------------------------------


@pytest.fixture
def app(demo_copy):
    return create_app({"TESTING": True, "WORKSPACE": str(demo_copy)})


def test_an_officer_closes_and_reopens_a_group_audited(app, demo_copy):
    officer = sign_in(app.test_client(), "officer", username="olive")
    ws = Workspace(demo_copy)
    groups = overlay.read_layer(ws, "groups")
    point = groups.loc[groups["group_id"] == "demo-g014"].geometry.iloc[0]
    lon, lat = _to_lonlat.transform(point.x, point.y)
    near = {"lat": round(lat, 6), "lon": round(lon, 6), "k": 100}
    assert nearest_ids(officer, **near)[0][0] == "demo-g014"

    bad = officer.patch("/api/groups/demo-g014", json={"status": "shut"},
                        headers=headers(officer, 1))
    assert bad.status_code == 400 and "one of open, temporarily closed, closed, unknown" \
        in bad.get_data(as_text=True)
    closed = officer.patch("/api/groups/demo-g014", json={"status": "closed"},
                           headers=headers(officer, 1))
    assert closed.status_code == 200, closed.get_data(as_text=True)
    stamp = f"set by olive on {date.today().day} {date.today():%b %Y}"
    assert closed.get_json()["status_source"] == stamp
    assert "demo-g014" not in [i for i, _ in nearest_ids(officer, **near)]
    listed = officer.get("/api/groups", query_string={"status": "closed"}).get_json()
    assert [f["id"] for f in listed["features"]] == ["demo-g014"]
    assert listed["features"][0]["properties"]["status_source"] == stamp
    everyone = officer.get("/api/groups").get_json()["features"]
    assert "demo-g014" in [f["id"] for f in everyone]  # the register still shows it

    reopened = officer.patch("/api/groups/demo-g014", json={"status": "open"},
                             headers=headers(officer, 2))
    assert reopened.status_code == 200
    assert nearest_ids(officer, **near)[0][0] == "demo-g014"
    rows = [r for r in audit_rows(ws)
            if r["record_id"] == "demo-g014" and r["action"] != "view"]  # not contact views
    assert [(r["action"], r["actor"], json.loads(r["fields"])) for r in rows] == [
        ("update", "olive", ["status"]), ("update", "olive", ["status"])]


def test_the_register_list_marks_closed_records_and_filters_by_status(app, demo_copy):
    """The web register (the editor's list) still lists a closed record, marked with who
    closed it and when, and its Status filter lists exactly the closed ones."""
    officer = sign_in(app.test_client(), "officer", username="olive")
    assert officer.patch("/api/groups/demo-g014", json={"status": "closed"},
                         headers=headers(officer, 1)).status_code == 200
    every = officer.get("/register/groups?q=demo-g014").get_data(as_text=True)
    stamp = f"set by olive on {date.today().day} {date.today():%b %Y}"
    assert '<strong class="ed-tag ed-tag--red">Closed</strong>' in every and stamp in every
    closed = officer.get("/register/groups?status=closed").get_data(as_text=True)
    assert set(re.findall(r'href="/register/groups/(demo-g\d+)"', closed)) == {"demo-g014"}
    assert "1 group" in closed and '<option value="closed" selected>' in closed
    rest = officer.get("/register/groups?status=unknown").get_data(as_text=True)
    assert "demo-g014" not in rest
    premises = officer.get("/register/premises").get_data(as_text=True)
    assert '<label class="ed-label" for="status">Status</label>' in premises
    incidents = officer.get("/register/incidents").get_data(as_text=True)
    assert 'for="status"' not in incidents  # incidents have no status


def test_an_officers_offers_are_confirmed_by_them(app, demo_copy):
    officer = sign_in(app.test_client(), "officer", username="olive")
    changed = officer.patch("/api/groups/demo-g014", json={"emergency_offer": "transport"},
                            headers=headers(officer, 1))
    assert changed.status_code == 200, changed.get_data(as_text=True)
    day = date.today()
    assert changed.get_json()["offer_source"] == f"confirmed by olive on {day.day} {day:%b %Y}"


# -- real London data ---------------------------------------------------------------------


def test_london_no_closed_food_bank_is_nearest_and_no_warm_space_is_a_rest_centre():
    london = london_dir()
    frames = {}
    for name in ("london_food_banks_givefood_2024.csv", "london_warm_spaces_2026-08.csv",
                 "london_mutual_aid_groups_2020.csv"):
        frames[name] = _import(london / name).frame
    food = frames["london_food_banks_givefood_2024.csv"]
    assert (food["status"] == "closed").sum() == 7  # as the README counts them
    assert set(food.loc[food["status"] == "closed", "status_source"]) == {
        "Give Food marks it closed (column 'closed')"}
    warm = frames["london_warm_spaces_2026-08.csv"]
    assert len(warm) == 963 and warm["emergency_offer"].isna().all()
    # a warm space is a warm space: not a "community centre" for the whole file
    assert set(warm["category"]) == {"warm space"}
    aid = frames["london_mutual_aid_groups_2020.csv"]
    assert len(aid) == 657 and not aid["emergency_offer"].fillna("").str.contains(
        "volunteers").any()
    groups = pd.concat(frames.values(), ignore_index=True)
    groups = flag_duplicates(gpd.GeoDataFrame(groups, geometry="geometry", crs=food.crs),
                             "groups")
    has = groups["emergency_offer"].notna()
    assert has.sum() == 97 and groups.loc[has, "offer_source"].notna().all()
    by_slug = groups.set_index("source_id")
    assert pd.isna(by_slug.loc["bow", "duplicate_of"])  # open Bow is not hidden
    index = NearestIndex(groups)
    codepoint = pd.read_csv(london / "london_postcodes_codepoint_open_2025.csv",
                            usecols=["Postcode", "Eastings", "Northings"])
    e1 = codepoint[codepoint["Postcode"].str.replace(" ", "") == "E12PA"].iloc[0]
    found = index.query(e1["Eastings"], e1["Northings"], k=10, category="food")
    closed = set(groups.loc[groups["status"] == "closed", "group_id"])
    assert len(found) == 10 and not set(found["id"]) & closed
    assert "givefood:bow" in set(found["id"])
    # and from random points anywhere in London, for any category
    rng = np.random.default_rng(15)
    points = np.column_stack([rng.uniform(505_000, 560_000, 40),
                              rng.uniform(157_000, 200_000, 40)])
    for (x, y), category in zip(points, rng.choice(["food", "warm space", None], 40),
                                strict=True):
        answer = index.query(x, y, k=5, category=category)
        assert len(answer) == 5 and not set(answer["id"]) & closed


def test_an_officer_adding_a_capability_keeps_the_origins_of_the_others(app, demo_copy):
    day = date.today()
    olive = sign_in(app.test_client(), "officer", username="olive")
    assert olive.patch("/api/groups/demo-g014", json={"emergency_offer": "transport"},
                       headers=headers(olive, 1)).status_code == 200
    oscar = sign_in(app.test_client(), "officer", username="oscar")
    changed = oscar.patch("/api/groups/demo-g014", json={"emergency_offer": "transport; food"},
                          headers=headers(oscar, 2))
    assert changed.status_code == 200, changed.get_data(as_text=True)
    stamp = f"{day.day} {day:%b %Y}"
    assert changed.get_json()["offer_source"] == (
        f"transport: confirmed by olive on {stamp}; food: confirmed by oscar on {stamp}")
    given = capabilities.edited_origins(
        "food; volunteers", "food", "food: from Give Food (network 'IFAN')",
        "confirmed by olive on 3 Nov 2026")
    assert given == ("food: from Give Food (network 'IFAN'); "
                     "volunteers: confirmed by olive on 3 Nov 2026")
    whole = capabilities.edited_origins("first aid; food", "first aid",
                                        "from groups (emergency_offer)", "confirmed by X")
    assert whole == "first aid: from groups (emergency_offer); food: confirmed by X"
    assert capabilities.edited_origins("", "food", "from Give Food", "x") is None


def test_exports_show_closed_records_marked_and_filter_by_status(demo_copy, tmp_path):
    from mapper.cli import main
    from mapper.editing import save_record

    ws = Workspace(demo_copy)
    save_record(ws, "groups", {"status": "closed"}, actor="olive", record_id="demo-g014",
                expected_version=1)
    every = tmp_path / "all.csv"
    assert main(["--workspace", str(demo_copy), "export", "groups", "-o", str(every)]) == 0
    table = pd.read_csv(every, dtype=str)
    assert len(table) == len(overlay.read_layer(ws, "groups"))
    assert table.loc[table["group_id"] == "demo-g014", "status"].tolist() == ["closed"]
    closed = tmp_path / "closed.csv"
    assert main(["--workspace", str(demo_copy), "export", "groups", "-o", str(closed),
                 "--status", "closed"]) == 0
    table = pd.read_csv(closed, dtype=str)
    assert table["group_id"].tolist() == ["demo-g014"]
    assert table["status_source"].str.startswith("set by olive on ").all()
    rest = tmp_path / "rest.csv"
    assert main(["--workspace", str(demo_copy), "export", "groups", "-o", str(rest),
                 "--status", "open", "--status", "unknown"]) == 0
    assert "demo-g014" not in pd.read_csv(rest, dtype=str)["group_id"].tolist()


def test_ogr2ogr_other_tags_disused_is_closed(tmp_path):
    frame = gpd.GeoDataFrame(
        {"osm_id": ["31", "32"], "name": ["Working Hall", "Shut Hall"],
         "amenity": ["community_centre", None],
         "other_tags": [None, '"disused:amenity"=>"community_centre","wheelchair"=>"yes"']},
        geometry=[shapely.Point(-0.1, 51.5), shapely.Point(-0.11, 51.5)], crs="EPSG:4326")
    path = tmp_path / "ogr.geojson"
    frame.to_file(path, driver="GeoJSON")
    got = _import(path).frame.set_index("name")
    assert dict(got["type"]) == {"Working Hall": "community centre",
                                 "Shut Hall": "community centre"}
    assert dict(got["status"]) == {"Working Hall": "unknown", "Shut Hall": "closed"}
    assert got.loc["Shut Hall", "status_source"] == (
        "OpenStreetMap: other_tags:disused:amenity=community_centre")


def test_the_neighbourhood_asset_list_marks_a_closed_group(app, demo_copy):
    officer = sign_in(app.test_client(), "officer", username="olive")
    ws = Workspace(demo_copy)
    groups = overlay.read_layer(ws, "groups")
    ward = groups.loc[groups["group_id"] == "demo-g014", "ward_code"].iloc[0]
    page = officer.get(f"/ward/{ward}")
    assert page.status_code == 200, page.status_code
    assert "demo-g014" in page.get_data(as_text=True)
    assert "<strong>Closed</strong>" not in page.get_data(as_text=True)
    officer.patch("/api/groups/demo-g014", json={"status": "closed"},
                  headers=headers(officer, 1))
    text = officer.get(f"/ward/{ward}").get_data(as_text=True)
    assert "<strong>Closed</strong> (set by olive on " in text


def test_a_workspace_capabilities_file_is_used_by_import(demo_copy):
    """The rules are data the user edits: a capabilities.csv in the workspace folder
    replaces the default at the next import (README, "Point registers")."""
    from mapper.pipeline import import_file

    ws = Workspace(demo_copy)
    point = overlay.read_layer(ws, "groups").geometry.iloc[0]
    (demo_copy / "capabilities.csv").write_text(
        "source,field,value,capability\n"
        "generic,hall for hire,yes,rest centre\n"
        "generic,minibus,*,transport\n", encoding="utf-8")
    path = demo_copy.parent / "community_groups.csv"
    _write(path, ["group_id", "name", "category", "hall for hire", "minibus", "easting",
                  "northing"],
           [["cap-1", "Civic Hall", "community centre", "Yes", "16-seat", point.x + 3,
             point.y],
            ["cap-2", "Chapel", "faith", "no", "", point.x + 6, point.y]])
    import_file(path, ws)
    got = overlay.read_layer(ws, "groups").set_index("group_id")
    assert got.at["cap-1", "emergency_offer"] == "rest centre; transport"
    assert got.at["cap-1", "offer_source"] == (
        "rest centre: from community_groups (hall for hire 'Yes'); "
        "transport: from community_groups (minibus '16-seat')")
    assert pd.isna(got.at["cap-2", "emergency_offer"]) and pd.isna(got.at["cap-2",
                                                                          "offer_source"])
