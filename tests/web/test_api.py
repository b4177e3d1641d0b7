"""The JSON API (/api/...) on the analysed demo workspace, through Flask's test client."""

from __future__ import annotations

import json
import math
import re
import shutil
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import write_workspace
from expected import personal_keys

from mapper import geo, overlay
from mapper.analysis.nearest import parse_capabilities
from mapper.registers import GROUP_CATEGORIES
from mapper.store import Workspace
from mapper.web import create_app

WARD_PROPERTIES = [
    "ward_code",
    "ward_name",
    "borough_code",
    "borough_name",
    "population",
    "imd_score",
    "unmet_need",
    "can_id",
]
FEATURE_ENDPOINTS = [
    "/api/wards",
    "/api/neighbourhoods",
    "/api/groups",
    "/api/premises",
    "/api/incidents",
]


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_dir(demo_module_copy):
    """The analysed demo workspace, this module's own copy."""
    return demo_module_copy


@pytest.fixture(scope="module")
def demo(demo_dir):
    return Workspace(demo_dir)


@pytest.fixture(scope="module")
def api(demo_dir):
    return create_app({"TESTING": True, "WORKSPACE": str(demo_dir)}).test_client()


@pytest.fixture(scope="module")
def groups(demo):
    return overlay.read_layer(demo, "groups")


# -- helpers ----------------------------------------------------------------------------


def _no_constant(name):
    raise ValueError(f"invalid JSON constant {name} (NaN or Infinity) in an API answer")


def fetch(client, url: str, status: int = 200) -> dict:
    """GET `url`, check the status, parse strictly (no NaN) and check for personal data."""
    response = client.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True)[:500])
    assert response.is_json, (url, response.mimetype)
    body = json.loads(response.get_data(as_text=True), parse_constant=_no_constant)
    assert not personal_keys(body), f"{url} answers personal data: {personal_keys(body)}"
    return body


def error_of(client, url: str, status: int = 400) -> str:
    body = fetch(client, url, status)
    assert set(body) == {"error"}, body
    return body["error"]


def ids(body: dict) -> list:
    return [f["id"] for f in body["features"]]


def positions(coordinates):
    """Every (lon, lat) of a GeoJSON coordinates array."""
    if isinstance(coordinates[0], int | float):
        yield coordinates
        return
    for part in coordinates:
        yield from positions(part)


def bng(lat: float, lon: float) -> tuple[float, float]:
    point = geo.points_from_xy([lon], [lat], crs=geo.CRS_DISPLAY).iloc[0]
    return point.x, point.y


def brute_force(groups, x, y, *, k=10, categories=(), offers=(), radius_m=None) -> pd.DataFrame:
    """The nearest groups by a full scan: distance, then the id as text."""
    frame = pd.DataFrame(
        {
            "id": groups["group_id"].astype(str),
            "distance": np.hypot(groups.geometry.x - x, groups.geometry.y - y),
            "category": groups["category"],
            "offers": groups["emergency_offer"].map(parse_capabilities),
        }
    )
    if categories:
        frame = frame[frame["category"].isin(categories)]
    if offers:
        frame = frame[frame["offers"].map(lambda o: set(offers) <= o)]
    if radius_m is not None:
        frame = frame[frame["distance"] <= radius_m]
    return frame.sort_values(["distance", "id"]).head(k)


def demo_lonlat_bounds(demo) -> tuple[float, float, float, float]:
    return tuple(geo.to_display(demo.read_layer("wards")).total_bounds)


# -- wards ------------------------------------------------------------------------------


def test_wards_one_feature_per_ward_with_its_measures(api, demo):
    body = fetch(api, "/api/wards")
    summary = demo.read_layer("ward_summary")
    assert body["type"] == "FeatureCollection"
    assert body["layer"] == "ward_summary"
    assert len(body["features"]) == len(summary) == 20
    assert sorted(ids(body)) == sorted(summary["ward_code"])
    numeric = summary.select_dtypes("number").columns
    for feature in body["features"]:
        properties = feature["properties"]
        assert feature["type"] == "Feature" and feature["id"] == properties["ward_code"]
        assert set(WARD_PROPERTIES) <= set(properties)
        assert set(numeric) <= set(properties)
        row = summary.set_index("ward_code").loc[properties["ward_code"]]
        assert properties["ward_name"] == row["ward_name"]
        assert properties["population"] == pytest.approx(row["population"])
        assert properties["unmet_need"] == pytest.approx(row["unmet_need"])
        assert properties["can_id"] == (None if pd.isna(row["can_id"]) else row["can_id"])
    assert any(f["properties"]["can_id"] is None for f in body["features"])
    assert any(f["properties"]["can_id"] for f in body["features"])


def test_wards_missing_values_are_null_not_nan(api, demo):
    summary = demo.read_layer("ward_summary").set_index("ward_code")
    nan_column = next(c for c in summary.select_dtypes("number") if summary[c].isna().any())
    body = fetch(api, "/api/wards")  # fetch() parses with NaN and Infinity refused
    values = {f["id"]: f["properties"][nan_column] for f in body["features"]}
    for code, value in values.items():
        assert (value is None) == bool(pd.isna(summary.at[code, nan_column]))


def test_ward_coordinates_are_lonlat_within_the_demo_with_six_decimals(api, demo):
    west, south, east, north = demo_lonlat_bounds(demo)
    body = fetch(api, "/api/wards")
    count = 0
    for feature in body["features"]:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        for lon, lat in positions(feature["geometry"]["coordinates"]):
            count += 1
            assert west - 1e-6 <= lon <= east + 1e-6 and south - 1e-6 <= lat <= north + 1e-6
            for value in (lon, lat):
                text = repr(float(value))
                assert "e" not in text and len(text.split(".")[1]) <= 6, text
    assert count > 100


def test_wards_without_geometry_for_tables(api):
    body = fetch(api, "/api/wards?geometry=false")
    assert len(body["features"]) == 20
    assert all(f["geometry"] is None for f in body["features"])


def test_wards_borough_filter(api, demo):
    borough = demo.read_layer("wards")["borough_code"].iloc[0]
    for query in (borough, borough.lower(), f"{borough},{borough}"):
        assert len(fetch(api, f"/api/wards?borough={query}")["features"]) == 20
    assert len(fetch(api, f"/api/wards?borough={borough}&borough={borough}")["features"]) == 20
    message = error_of(api, "/api/wards?borough=E09000001")
    assert "borough='E09000001'" in message and borough in message


def test_wards_can_filter(api, demo):
    summary = demo.read_layer("ward_summary")
    can_id = summary["can_id"].dropna().iloc[0]
    expected = sorted(summary.loc[summary["can_id"] == can_id, "ward_code"])
    body = fetch(api, f"/api/wards?can_id={can_id}")
    assert sorted(ids(body)) == expected
    assert body["query"]["can_id"] == [can_id]
    assert sorted(ids(fetch(api, f"/api/wards?can_id={can_id.lower()}"))) == expected
    message = error_of(api, "/api/wards?can_id=CAN-99")
    assert "can_id='CAN-99'" in message and can_id in message


def test_wards_fall_back_to_boundaries_without_analysis(client):
    body = fetch(client, "/api/wards")
    assert body["layer"] == "wards"
    assert len(body["features"]) == 9
    for feature in body["features"]:
        assert set(WARD_PROPERTIES) <= set(feature["properties"])
        assert feature["properties"]["unmet_need"] is None
    assert "not been analysed" in error_of(client, "/api/wards?can_id=CAN-01")


# -- neighbourhoods ---------------------------------------------------------------------


def test_neighbourhoods_in_rank_order(api, demo):
    cans = demo.read_layer("neighbourhoods").sort_values("rank")
    body = fetch(api, "/api/neighbourhoods")
    assert ids(body) == list(cans["can_id"])
    assert [f["properties"]["rank"] for f in body["features"]] == list(cans["rank"])
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in body["features"])
    assert all(
        f["geometry"] is None for f in fetch(api, "/api/neighbourhoods?geometry=false")["features"]
    )


def test_neighbourhoods_404_without_analysis(client):
    assert "neighbourhoods" in error_of(client, "/api/neighbourhoods", 404)


# -- nearest ----------------------------------------------------------------------------


def _origins(demo, count=6):
    """Points spread over the demo area, in (lat, lon)."""
    west, south, east, north = demo_lonlat_bounds(demo)
    rng = np.random.default_rng(7)
    return [
        (south + (north - south) * a, west + (east - west) * b)
        for a, b in rng.uniform(0.05, 0.95, size=(count, 2))
    ]


@pytest.mark.parametrize("k", [1, 3, 10, 25])
def test_nearest_by_lat_lon_equals_a_full_scan(api, demo, groups, k):
    for lat, lon in _origins(demo):
        body = fetch(api, f"/api/nearest?lat={lat}&lon={lon}&k={k}")
        expected = brute_force(groups, *bng(lat, lon), k=k)
        assert ids(body) == list(expected["id"])
        distances = [f["properties"]["distance_m"] for f in body["features"]]
        assert distances == [round(d) for d in expected["distance"]]
        assert distances == sorted(distances)
        assert body["origin"] == {"lat": round(lat, 6), "lon": round(lon, 6)}
        assert body["query"]["k"] == k


def test_nearest_defaults_to_ten_with_the_public_record(api, demo, groups):
    lat, lon = _origins(demo, 1)[0]
    body = fetch(api, f"/api/nearest?lat={lat}&lon={lon}")
    assert len(body["features"]) == 10
    record = groups.set_index("group_id")
    for feature in body["features"]:
        properties = feature["properties"]
        assert feature["id"] == properties["group_id"]
        for key in (
            "distance_m",
            "group_id",
            "name",
            "category",
            "emergency_offer",
            "languages",
            "communities_served",
            "opening_hours",
            "last_verified",
            "address",
            "postcode",
            "duplicate_of",
        ):
            assert key in properties
        assert properties["name"] == record.at[feature["id"], "name"]
        assert feature["geometry"]["type"] == "Point"


def test_nearest_by_postcode(api, demo, groups):
    postcodes = demo.read_layer("postcodes")
    row = postcodes.iloc[len(postcodes) // 2]
    typed = row["postcode"].replace(" ", "").lower()
    body = fetch(api, f"/api/nearest?postcode={typed}&k=5")
    expected = brute_force(groups, row.geometry.x, row.geometry.y, k=5)
    assert ids(body) == list(expected["id"])
    assert body["origin"]["postcode"] == row["postcode"]
    shown = geo.to_display(postcodes.iloc[[len(postcodes) // 2]]).geometry.iloc[0]
    assert body["origin"]["lat"] == pytest.approx(shown.y, abs=1e-6)
    assert body["origin"]["lon"] == pytest.approx(shown.x, abs=1e-6)
    assert body["query"]["postcode"] == row["postcode"]


def test_nearest_unknown_postcode_is_404_naming_it(api):
    message = error_of(api, "/api/nearest?postcode=ZZ99 9ZZ", 404)
    assert "postcode" in message and "ZZ99 9ZZ" in message


def test_nearest_category_offer_and_radius_filters(api, demo, groups):
    offered = sorted({o for v in groups["emergency_offer"] for o in parse_capabilities(v)})
    for lat, lon in _origins(demo, 3):
        x, y = bng(lat, lon)
        base = f"/api/nearest?lat={lat}&lon={lon}"
        body = fetch(api, base + "&category=faith&category=Youth&k=8")
        assert ids(body) == list(
            brute_force(groups, x, y, k=8, categories=("faith", "youth"))["id"]
        )
        assert {f["properties"]["category"] for f in body["features"]} <= {"faith", "youth"}
        assert ids(fetch(api, base + "&category=faith,youth&k=8")) == ids(body)
        for offer in offered[:3]:
            body = fetch(api, base + f"&offer={quote(offer)}&k=5")
            assert ids(body) == list(brute_force(groups, x, y, k=5, offers=(offer,))["id"])
        pair = f"&offer={quote(offered[0])}&offer={quote(offered[1])}"
        assert ids(fetch(api, base + pair + "&k=50")) == list(
            brute_force(groups, x, y, k=50, offers=tuple(offered[:2]))["id"]
        )
        body = fetch(api, base + "&radius_m=750&k=100")
        expected = brute_force(groups, x, y, k=100, radius_m=750)
        assert ids(body) == list(expected["id"])
        assert all(f["properties"]["distance_m"] <= 750 for f in body["features"])
        assert body["query"]["radius_m"] == 750


def test_nearest_far_radius_and_no_match_give_empty_collections(api, demo):
    lat, lon = _origins(demo, 1)[0]
    body = fetch(api, f"/api/nearest?lat={lat}&lon={lon}&radius_m=0.5")
    assert body["features"] == []
    assert body["type"] == "FeatureCollection"


# -- the registers ----------------------------------------------------------------------


def test_groups_register_without_personal_data(api, groups):
    assert groups["phone"].notna().any()  # the demo has contacts to leave out
    body = fetch(api, "/api/groups")
    assert sorted(ids(body)) == sorted(groups["group_id"])
    first = body["features"][0]["properties"]
    assert {"group_id", "name", "category", "duplicate_of", "ward_code"} <= set(first)
    text = json.dumps(body)
    for phone in groups["phone"].dropna().head(5):
        assert phone not in text


def test_groups_filters(api, demo, groups):
    ward = groups["ward_code"].iloc[0]
    borough = groups["borough_code"].iloc[0]
    assert sorted(ids(fetch(api, f"/api/groups?ward={ward}"))) == sorted(
        groups.loc[groups["ward_code"] == ward, "group_id"]
    )
    assert len(fetch(api, f"/api/groups?borough={borough}")["features"]) == (
        (groups["borough_code"] == borough).sum()
    )
    body = fetch(api, "/api/groups?category=faith,food")
    assert sorted(ids(body)) == sorted(
        groups.loc[groups["category"].isin(["faith", "food"]), "group_id"]
    )
    word = groups["name"].iloc[0].split()[0]
    text = (groups["name"].fillna("") + " " + groups["description"].fillna("")).str.lower()
    expected = groups.loc[text.str.contains(word.lower(), regex=False), "group_id"]
    assert sorted(ids(fetch(api, f"/api/groups?q={word.upper()}"))) == sorted(expected)
    assert len(expected) >= 1
    assert ids(fetch(api, "/api/groups?q=zzzz-no-such-words")) == []


def test_premises_filters(api, demo):
    premises = overlay.read_layer(demo, "premises")
    body = fetch(api, "/api/premises")
    assert sorted(ids(body)) == sorted(premises["premises_id"])
    kind = premises["type"].iloc[0]
    assert sorted(ids(fetch(api, f"/api/premises?type={quote(kind.upper())}"))) == sorted(
        premises.loc[premises["type"] == kind, "premises_id"]
    )
    word = premises["name"].iloc[0].split()[0]
    expected = premises.loc[premises["name"].str.lower().str.contains(word.lower(), regex=False)]
    assert sorted(ids(fetch(api, f"/api/premises?q={word}"))) == sorted(expected["premises_id"])


def test_duplicates_are_included_and_flagged(tmp_path, demo_dir):
    copy = tmp_path / "copy"
    shutil.copytree(demo_dir, copy)
    workspace = Workspace(copy)
    groups = overlay.read_layer(workspace, "groups")
    groups.loc[groups.index[1], ["duplicate_of", "duplicate_reason"]] = (
        groups["group_id"].iloc[0],
        "same charity number",
    )
    with workspace.transaction() as tx:
        tx.write_layer("groups", groups)
    client = create_app({"TESTING": True, "WORKSPACE": str(copy)}).test_client()
    features = fetch(client, "/api/groups")["features"]
    assert len(features) == len(groups)
    flagged = [f["properties"] for f in features if f["properties"]["duplicate_of"]]
    assert [(p["group_id"], p["duplicate_of"]) for p in flagged] == [
        (groups["group_id"].iloc[1], groups["group_id"].iloc[0])
    ]


def test_incident_months_are_inclusive(api, demo):
    incidents = overlay.read_layer(demo, "incidents")
    months = sorted(incidents["month"].unique())
    first, last = months[2], months[5]
    expected = incidents[(incidents["month"] >= first) & (incidents["month"] <= last)]
    body = fetch(api, f"/api/incidents?from={first}&to={last}&limit=5000")
    assert body["total"] == len(expected) and body["truncated"] is False
    assert sorted(ids(body)) == sorted(expected["incident_id"])
    assert {f["properties"]["month"] for f in body["features"]} == set(months[2:6])
    only = fetch(api, f"/api/incidents?from={first}&to={first}")
    assert only["total"] == (incidents["month"] == first).sum()


def test_incident_limit_truncates_newest_first(api, demo):
    incidents = overlay.read_layer(demo, "incidents")
    body = fetch(api, "/api/incidents?limit=25")
    assert body["total"] == len(incidents) and body["truncated"] is True
    assert len(body["features"]) == 25
    months = [f["properties"]["month"] for f in body["features"]]
    assert months == sorted(months, reverse=True) and months[0] == incidents["month"].max()
    default = fetch(api, "/api/incidents")
    assert len(default["features"]) == min(5000, len(incidents))
    assert default["truncated"] is (len(incidents) > 5000)


def test_every_list_comes_in_pages_that_join_up_to_every_match(api, demo):
    """limit and offset on every list; `next` links walk the whole list exactly once."""
    for url, layer in (("/api/groups?category=faith,food", "groups"),
                       ("/api/incidents?geometry=false", "incidents"),
                       ("/api/premises", "premises"), ("/api/wards", "wards"),
                       ("/api/neighbourhoods", "neighbourhoods")):
        whole = fetch(api, url)
        assert whole["truncated"] is False and whole["next"] is None, url
        assert whole["returned"] == whole["total"] == len(whole["features"]) > 0, url
        assert whole["total"] > 6 or layer == "neighbourhoods", url
        seen, link, pages = [], url + ("&" if "?" in url else "?") + "limit=3", 0
        while link:
            body = fetch(api, link)
            assert body["offset"] == len(seen) and body["returned"] == len(body["features"])
            assert body["total"] == whole["total"] and len(body["features"]) <= 3
            assert body["truncated"] is (body["next"] is not None)
            # the OGC API Features names of the same counts (as /ogc answers them)
            assert (body["numberMatched"], body["numberReturned"]) == (
                body["total"], body["returned"])
            seen += ids(body)
            link, pages = body["next"], pages + 1
        assert seen == ids(whole), url  # same order, nothing twice, nothing left out
        assert pages == -(-whole["total"] // 3)
    last = fetch(api, "/api/groups?offset=100000")
    assert last["features"] == [] and last["next"] is None and last["offset"] == 100000


def test_a_page_ends_before_it_passes_the_size_limit(api, monkeypatch):
    from mapper.web import api as api_module

    whole = fetch(api, "/api/groups")
    sizes = [len(json.dumps(f, ensure_ascii=False, separators=(",", ":")).encode())
             for f in whole["features"]]
    budget = sum(sizes[:4]) + 4  # room for four features (and their commas), not five
    monkeypatch.setattr(api_module, "PAGE_MAX_BYTES", budget)
    body = fetch(api, "/api/groups?limit=100")
    assert body["returned"] == 4 and ids(body) == ids(whole)[:4]
    assert body["next"].endswith("limit=100&offset=4")
    follow = fetch(api, body["next"])
    assert ids(follow)[0] == ids(whole)[4]


def test_incident_type_and_area_filters(api, demo):
    incidents = overlay.read_layer(demo, "incidents")
    kind = incidents["type"].value_counts().index[0]
    ward = incidents["ward_code"].iloc[0]
    body = fetch(api, f"/api/incidents?type={quote(kind.lower())}&ward={ward}&limit=5000")
    expected = incidents[(incidents["type"] == kind) & (incidents["ward_code"] == ward)]
    assert sorted(ids(body)) == sorted(expected["incident_id"])


def test_incident_type_filter_takes_the_vocabulary_and_its_other_spellings(api, demo):
    """The demo's types are vocabulary names; "asb" and the police.uk API's slug are other
    spellings of Anti-social behaviour (mapper/mappings/incident_types.csv)."""
    from mapper.incident_types import vocabulary

    incidents = overlay.read_layer(demo, "incidents")
    assert set(incidents["type"].dropna()) <= set(vocabulary().types)
    expected = sorted(incidents.loc[incidents["type"] == "Anti-social behaviour",
                                    "incident_id"])
    assert expected
    for spelling in ("Anti-social behaviour", "asb", "anti-social-behaviour"):
        body = fetch(api, f"/api/incidents?type={quote(spelling)}&limit=5000")
        assert sorted(ids(body)) == expected, spelling
    response = api.get("/api/incidents?type=Arsonn")
    assert response.status_code == 400
    assert "unknown incident type" in response.get_data(as_text=True)


# -- every answer: provenance, no personal data ----------------------------------------


def test_every_collection_carries_attribution_licences_and_synthetic(api, demo):
    urls = [
        *FEATURE_ENDPOINTS,
        "/api/nearest?lat=51.5&lon=-0.07",
        "/api/nearest?postcode=" + quote(demo.read_layer("postcodes")["postcode"].iloc[0]),
    ]
    for url in urls:
        body = fetch(api, url)
        assert body["type"] == "FeatureCollection"
        assert body["attribution"] and all(isinstance(a, str) and a for a in body["attribution"])
        assert body["licences"] and len(set(body["licences"])) == len(body["licences"])
        assert body["synthetic"] is True
        assert "Synthetic demo data" in " ".join(body["attribution"])


def test_synthetic_is_false_for_real_workspaces(tmp_path):
    client = create_app(
        {"TESTING": True, "WORKSPACE": str(write_workspace(tmp_path / "ws", synthetic="no"))}
    ).test_client()
    body = fetch(client, "/api/wards")
    assert body["synthetic"] is False
    assert body["attribution"] == ["Contains OS data © Crown copyright and database right 2024"]


def test_no_personal_data_anywhere(api, demo):
    postcode = demo.read_layer("postcodes")["postcode"].iloc[0]
    urls = [
        *FEATURE_ENDPOINTS,
        "/api/incidents?limit=5000",
        "/api/groups?q=a",
        "/api/nearest?lat=51.5&lon=-0.07&k=100",
        f"/api/nearest?postcode={postcode}",
        "/api/openapi.json",
    ]
    for url in urls:
        fetch(api, url)  # fetch() fails on any personal-data key at any depth


def test_register_endpoints_404_when_the_layer_is_missing(client):
    for url in ("/api/groups", "/api/premises", "/api/incidents"):
        assert "layer" in error_of(client, url, 404)


# -- bad parameters ---------------------------------------------------------------------

BAD = [
    ("/api/nearest", "lat"),
    ("/api/nearest?lon=-0.07", "lat"),
    ("/api/nearest?lat=51.5", "lon"),
    ("/api/nearest?lat=abc&lon=-0.07", "lat"),
    ("/api/nearest?lat=51.5&lon=west", "lon"),
    ("/api/nearest?lat=nan&lon=-0.07", "lat"),
    ("/api/nearest?lat=inf&lon=-0.07", "lat"),
    ("/api/nearest?lat=48.9&lon=-0.07", "lat"),
    ("/api/nearest?lat=51.5&lon=3.5", "lon"),
    ("/api/nearest?lat=51.5&lat=51.6&lon=-0.07", "lat"),
    ("/api/nearest?lat=51.5&lon=-0.07&postcode=E1 6AN", "postcode"),
    ("/api/nearest?postcode=not a postcode", "postcode"),
    ("/api/nearest?lat=51.5&lon=-0.07&k=0", "k"),
    ("/api/nearest?lat=51.5&lon=-0.07&k=101", "k"),
    ("/api/nearest?lat=51.5&lon=-0.07&k=2.5", "k"),
    ("/api/nearest?lat=51.5&lon=-0.07&k=ten", "k"),
    ("/api/nearest?lat=51.5&lon=-0.07&radius_m=0", "radius_m"),
    ("/api/nearest?lat=51.5&lon=-0.07&radius_m=-5", "radius_m"),
    ("/api/nearest?lat=51.5&lon=-0.07&radius_m=50001", "radius_m"),
    ("/api/nearest?lat=51.5&lon=-0.07&radius_m=far", "radius_m"),
    ("/api/nearest?lat=51.5&lon=-0.07&radius_m=inf", "radius_m"),
    ("/api/nearest?lat=51.5&lon=-0.07&category=pubs", "category"),
    ("/api/nearest?lat=51.5&lon=-0.07&category=faith,pubs", "category"),
    ("/api/nearest?lat=51.5&lon=-0.07&offer=teleportation", "offer"),
    ("/api/nearest?lat=51.5&lon=-0.07&catgory=faith", "catgory"),
    ("/api/wards?borough=E09999999", "borough"),
    ("/api/wards?can_id=CAN-99", "can_id"),
    ("/api/wards?geometry=maybe", "geometry"),
    ("/api/wards?ward=E05990001", "ward"),
    ("/api/neighbourhoods?borough=E09000099", "borough"),
    ("/api/groups?ward=E05000001", "ward"),
    ("/api/groups?borough=Camden", "borough"),
    ("/api/groups?category=pubs", "category"),
    ("/api/groups?q=" + "x" * 201, "q"),
    ("/api/groups?type=faith", "type"),
    ("/api/premises?type=pub", "type"),
    ("/api/premises?category=faith", "category"),
    ("/api/incidents?from=2024-13", "from"),
    ("/api/incidents?to=May 2025", "to"),
    ("/api/incidents?from=2025-06&to=2025-01", "from"),
    ("/api/incidents?limit=0", "limit"),
    ("/api/incidents?limit=5001", "limit"),
    ("/api/groups?limit=5001", "limit"),
    ("/api/wards?offset=-1", "offset"),
    ("/api/premises?offset=x", "offset"),
    ("/api/incidents?limit=many", "limit"),
    ("/api/incidents?type=alien landing", "type"),
    ("/api/incidents?q=burglary", "q"),
]


@pytest.mark.parametrize(("url", "parameter"), BAD)
def test_bad_parameters_answer_400_naming_them(api, url, parameter):
    message = error_of(api, url)
    assert re.search(rf"\b{re.escape(parameter)}\b", message), message


def test_every_problem_is_reported_at_once(api):
    message = error_of(api, "/api/nearest?lat=abc&lon=91&k=0&radius_m=-1&category=pubs")
    for part in ("lat='abc'", "lon='91'", "k='0'", "radius_m='-1'", "category='pubs'"):
        assert part in message, message
    assert "faith" in message  # the valid categories are listed
    assert all(c in message for c in GROUP_CATEGORIES)


def test_swapped_coordinates_are_recognised(api):
    message = error_of(api, "/api/nearest?lat=-0.07&lon=51.5")
    assert "swapped" in message and "lat='-0.07'" in message


def test_cache_buster_parameter_is_ignored(api):
    assert fetch(api, "/api/wards?geometry=false&_=12345")["features"]


def test_unknown_paths_and_methods_answer_json(api):
    assert error_of(api, "/api/no-such-thing", 404)
    response = api.post("/api/wards")
    assert response.status_code == 405 and response.is_json
    assert "error" in response.get_json() and "GET" in response.headers["Allow"]


# -- the description of the API --------------------------------------------------------


def test_openapi_describes_every_endpoint(api):
    app = api.application
    document = fetch(api, "/api/openapi.json")
    assert document["openapi"].startswith("3.1")
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
              for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")}
    assert routes <= set(document["paths"]), routes - set(document["paths"])
    for path, item in document["paths"].items():
        if "get" not in item or "{" in path:
            continue  # the editing routes (officers only): see tests/web/test_edit_api.py
        operation = item["get"]
        assert operation["summary"] and "200" in operation["responses"]
        if path not in ("/api/openapi.json", "/api/docs"):
            for status in ("400", "404"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}
        for parameter in operation["parameters"]:
            assert parameter["in"] == "query" and parameter["schema"]
    assert document["components"]["schemas"]["Error"]["properties"]["error"] == {"type": "string"}
    nearest = {p["name"]: p for p in document["paths"]["/api/nearest"]["get"]["parameters"]}
    assert nearest["k"]["schema"]["maximum"] == 100 and nearest["k"]["schema"]["minimum"] == 1
    assert nearest["category"]["schema"]["items"]["enum"] == list(GROUP_CATEGORIES)
    assert nearest["lat"]["schema"]["minimum"] == 49


def test_openapi_parameters_are_the_ones_accepted(api):
    """A documented parameter is never 'unknown'; an undocumented one always is."""
    document = fetch(api, "/api/openapi.json")
    for path, item in document["paths"].items():
        if "get" not in item or "{" in path:
            continue  # the editing routes (officers only): see tests/web/test_edit_api.py
        names = [p["name"] for p in item["get"]["parameters"]]
        query = "&".join(f"{name}=" for name in names)  # blank values count as absent
        message = error_of(api, f"{path}?{query}&undocumented=1")
        assert message.count("unknown parameter") == 1, message
        assert message.startswith("undocumented='1': unknown parameter")
        assert all(name in message.split("takes")[1] for name in names), message


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.links, self.anchors = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs.get("src"))
        if tag == "link":
            self.links.append(attrs.get("href"))
        if tag == "a" and attrs.get("href"):
            self.anchors.append(attrs["href"])


def test_docs_page_lists_endpoints_and_its_examples_work(api):
    response = api.get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    parser = _Page()
    parser.feed(page)
    assert not [s for s in parser.scripts if s and urlsplit(s).netloc]
    assert not [h for h in parser.links if h and urlsplit(h).netloc]
    assert "cdn" not in page.lower() and "swagger" not in page.lower()
    for path in (
        "/api/wards",
        "/api/neighbourhoods",
        "/api/nearest",
        "/api/groups",
        "/api/premises",
        "/api/incidents",
        "/api/openapi.json",
    ):
        assert f"GET {path}" in page
    for name in ("radius_m", "postcode", "offer", "limit", "from", "geometry"):
        assert f"<code>{name}</code>" in page
    examples = [a for a in parser.anchors if a.startswith("/api/")]
    assert len(examples) >= 12
    assert not [a for a in parser.anchors if urlsplit(a).netloc]
    for href in examples:
        assert api.get(href).status_code == 200, href


def test_numbers_are_finite_everywhere(api):
    for url in FEATURE_ENDPOINTS:
        body = fetch(api, url + "?geometry=false")
        for feature in body["features"]:
            for value in feature["properties"].values():
                assert not (isinstance(value, float) and not math.isfinite(value))


def test_answers_are_typed_geojson(api):
    response = api.get("/api/groups")
    assert response.mimetype == "application/geo+json"
    body = gpd.GeoDataFrame.from_features(response.get_json()["features"], crs="EPSG:4326")
    assert len(body) == len(fetch(api, "/api/groups")["features"])


def test_feature_halves_wrap_a_leading_member_into_valid_features():
    """/api/nearest writes each feature as its halves joined around its own members
    (mapper.geojson.join_halves): with and without other properties, the text is the
    feature with those members first."""
    from mapper.geojson import join_halves
    from mapper.web.layers import Table

    table = Table(frame=pd.DataFrame(index=range(2)), ids=["a", 7],
                  properties=[b'{"name":"Hall \\"A\\"","n":null}', b"{}"],
                  geometry=[b'{"type":"Point","coordinates":[0.1,51.5]}', b"null"],
                  layers=("groups",), id_texts=[b'"a"', b"7"])
    first = json.loads(join_halves(*table.halves[0], {"distance_m": 12}))
    assert first == {"type": "Feature", "id": "a",
                     "geometry": {"type": "Point", "coordinates": [0.1, 51.5]},
                     "properties": {"distance_m": 12, "name": 'Hall "A"', "n": None}}
    assert list(first["properties"]) == ["distance_m", "name", "n"]
    second = json.loads(join_halves(*table.halves[1], {"distance_m": 3}))
    assert second == {"type": "Feature", "id": 7, "geometry": None,
                      "properties": {"distance_m": 3}}
    assert [json.loads(f) for f in table.features] == [
        {**first, "properties": {"name": 'Hall "A"', "n": None}},
        {**second, "properties": {}}]
