"""The place search behind the map pages' search box (/api/search, mapper/web/places.py):
answers checked by hand on the tiny grid workspace and on the demo."""

from __future__ import annotations

import logging

import geopandas as gpd
import pytest
from conftest import GRID_CELL_M, GRID_ORIGIN
from shapely.geometry import box

from mapper import overlay
from mapper.geo import to_display
from mapper.store import Workspace
from mapper.web import create_app


def lonlat_bounds(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    shown = to_display(gpd.GeoSeries([box(x0, y0, x1, y1)], crs="EPSG:27700"))
    return [round(float(v), 5) for v in shown.total_bounds]


def cell(col: int, row: int, cols: int = 1, rows: int = 1) -> list[float]:
    """WGS84 bounds of the grid cells from (col, row), `cols` wide and `rows` high."""
    x, y = GRID_ORIGIN
    return lonlat_bounds(x + col * GRID_CELL_M, y + row * GRID_CELL_M,
                         x + (col + cols) * GRID_CELL_M, y + (row + rows) * GRID_CELL_M)


def search(client, q: str, status: int = 200) -> dict:
    response = client.get("/api/search", query_string={"q": q})
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def test_a_ward_by_name_is_its_cell(client):
    body = search(client, "middleton west")
    first = body["features"][0]["properties"]
    assert (first["kind"], first["id"], first["name"]) == ("ward", "E05900004", "Middleton West")
    assert first["detail"] == "Middleton"
    assert first["bbox"] == pytest.approx(cell(0, 1), abs=1e-5)
    lon, lat = body["features"][0]["geometry"]["coordinates"]
    west, south, east, north = first["bbox"]
    assert west < lon < east and south < lat < north
    assert body["message"] is None


def test_a_borough_by_name_comes_before_its_wards(client):
    body = search(client, "Middleton")
    kinds = [(f["properties"]["kind"], f["properties"]["id"]) for f in body["features"]]
    assert kinds[0] == ("borough", "E09900002")
    # ward 5 is in Middleton but named "St Mary's & Holy Trinity": names are searched
    assert sorted(kinds[1:]) == [("ward", "E05900004"), ("ward", "E05900006")]
    # row 1 of the grid: three cells wide
    assert body["features"][0]["properties"]["bbox"] == pytest.approx(cell(0, 1, cols=3),
                                                                      abs=1e-5)


def test_a_code_finds_exactly_that_place_first(client):
    assert search(client, "e09900003")["features"][0]["properties"]["name"] == "Northbrook"
    ward = search(client, "E05900005")["features"][0]["properties"]
    assert ward["name"] == "St Mary's & Holy Trinity"
    assert ward["bbox"] == pytest.approx(cell(1, 1), abs=1e-5)
    # words in any order, "and" for "&"
    assert search(client, "trinity st mary's and holy")["features"][0]["properties"]["id"] \
        == "E05900005"


def test_no_match_says_so_clearly(client):
    body = search(client, "xyz")
    assert body["features"] == []
    assert body["message"] == "No ward, borough, neighbourhood or postcode matches 'xyz'."
    # a postcode-shaped query in a workspace without postcodes: no match, no error
    assert search(client, "SW1A 1AA")["features"] == []


def test_missing_query_is_a_400_naming_q(client):
    assert "q" in search(client, "  ", status=400)["error"]
    response = client.get("/api/search?q=a&x=1")
    assert response.status_code == 400 and "x" in response.get_json()["error"]


def test_a_contact_detail_typed_as_q_is_never_repeated_or_logged(client, caplog):
    phone, email = "07700 900123", "someone@example.org"
    with caplog.at_level(logging.DEBUG):
        for q in (phone, email):
            body = search(client, q)
            assert body["features"] == []
            assert body["message"] == ("No ward, borough, neighbourhood or postcode matches "
                                       "what you typed.")
            assert body["query"]["q"] is None
    assert phone not in caplog.text and email not in caplog.text


# -- the demo: CANs and postcodes ----------------------------------------------------------


@pytest.fixture(scope="module")
def demo_client(shared_demo):
    return create_app({"TESTING": True, "WORKSPACE": str(shared_demo),
                       "TILES": "none"}).test_client()


def test_demo_can_by_id_and_name(demo_client, shared_demo):
    summary = overlay.read_layer(Workspace(shared_demo), "ward_summary")
    cans = overlay.read_layer(Workspace(shared_demo), "neighbourhoods")
    can_id, name = str(cans["can_id"].iloc[0]), str(cans["name"].iloc[0])
    wards = summary[summary["can_id"] == can_id]
    expected = [round(float(v), 5) for v in to_display(wards.geometry).total_bounds]
    for q in (can_id, can_id.lower()):
        first = search(demo_client, q)["features"][0]["properties"]
        assert (first["kind"], first["id"], first["name"]) == ("neighbourhood", can_id, name)
        assert first["bbox"] == pytest.approx(expected, abs=1e-5)
    found = [(f["properties"]["kind"], f["properties"]["id"])
             for f in search(demo_client, name)["features"]]
    assert ("neighbourhood", can_id) in found


def test_demo_postcode_any_spacing_is_its_centroid(demo_client, shared_demo):
    postcodes = overlay.read_layer(Workspace(shared_demo), "postcodes")
    row = postcodes.dropna(subset=["postcode"]).iloc[0]
    point = to_display(gpd.GeoSeries([row.geometry], crs=postcodes.crs)).iloc[0]
    squashed = str(row["postcode"]).replace(" ", "").lower()
    feature = search(demo_client, squashed)["features"][0]
    assert feature["properties"]["kind"] == "postcode"
    assert feature["properties"]["id"] == row["postcode"]
    lon, lat = feature["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx((point.x, point.y), abs=2e-5)


def test_demo_ward_and_borough_by_name(demo_client, shared_demo):
    wards = overlay.read_layer(Workspace(shared_demo), "wards")
    ward = wards.iloc[3]
    first = search(demo_client, str(ward["ward_name"]))["features"][0]["properties"]
    assert first["id"] == ward["ward_code"]
    borough = search(demo_client, str(ward["borough_name"]))["features"][0]["properties"]
    assert (borough["kind"], borough["id"]) == ("borough", ward["borough_code"])
    body = search(demo_client, "zzqx nowhere")
    assert body["message"] == ("No ward, borough, neighbourhood or postcode matches "
                               "'zzqx nowhere'.")
