"""Any area, not London: examples come from the workspace, district codes of any kind
are documented, and searches from far outside the study area are refused."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import shapely
from click.testing import CliRunner
from pyproj import Transformer

from mapper import overlay
from mapper.analysis.nearest import MAX_OUTSIDE_M, StudyArea
from mapper.cli import cli, main
from mapper.postcodes import example_postcode
from mapper.store import Workspace
from mapper.web import create_app

ROOT = Path(__file__).resolve().parents[2]
TO_LONLAT = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


@pytest.fixture(scope="module")
def demo(shared_demo):
    return Workspace(shared_demo)


@pytest.fixture(scope="module")
def client(shared_demo):
    config = {"TESTING": True, "WORKSPACE": str(shared_demo), "TILES": "none"}
    return create_app(config).test_client()


@pytest.fixture(scope="module")
def outline(demo):
    return shapely.union_all(demo.read_layer("boroughs").geometry.array)


def _east_of(outline, metres: float) -> tuple[float, float, float]:
    """A point due east of the study area's easternmost extent (lat, lon) and its true
    distance from the study area in metres."""
    minx, miny, maxx, maxy = outline.bounds
    x, y = maxx + metres, (miny + maxy) / 2
    lon, lat = TO_LONLAT.transform(x, y)
    return lat, lon, shapely.distance(outline, shapely.Point(x, y))


def test_api_refuses_a_point_far_outside_and_answers_one_just_outside(client, outline, demo):
    lat, lon, far = _east_of(outline, MAX_OUTSIDE_M + 1_000)
    assert far > MAX_OUTSIDE_M
    response = client.get(f"/api/nearest?lat={lat:.6f}&lon={lon:.6f}")
    assert response.status_code == 400
    name = demo.meta()["study_area"]
    message = response.get_json()["error"]
    assert f"km outside the study area ({name})" in message
    km = int(re.search(r"is (\d+) km outside", message)[1])
    assert abs(km - far / 1000) <= 0.5 + 0.01  # rounded to whole km (lat/lon rounding aside)
    lat, lon, near = _east_of(outline, 1_000)
    assert near <= MAX_OUTSIDE_M
    assert client.get(f"/api/nearest?lat={lat:.6f}&lon={lon:.6f}&k=3").status_code == 200


@pytest.mark.parametrize("page", ["/incident", "/incident/callsheet"])
def test_incident_pages_refuse_a_point_250_km_away(client, page):
    answer = client.get(f"{page}?lat=53.8&lon=-1.55")  # Leeds, far from the demo borough
    assert answer.status_code == 400
    assert "km outside the study area (Demoborough (synthetic))" in answer.get_data(as_text=True)


def test_cli_nearest_refuses_a_point_far_away(shared_demo, capsys):
    code = main(["-w", str(shared_demo), "nearest", "--at", "53.8", "-1.55"])
    err = capsys.readouterr().err
    assert code != 0
    assert err.startswith("Error: Latitude 53.80000, longitude -1.55000 is ")
    assert "km outside the study area (Demoborough (synthetic))" in err


def test_form_example_postcode_is_one_of_the_workspace(client, demo):
    postcodes = demo.read_layer("postcodes")
    page = client.get("/incident").get_data(as_text=True)
    shown = re.search(r'id="postcode-hint">For example ([A-Z0-9 ]+)<', page)[1]
    assert shown in set(postcodes["postcode"])
    assert "SW1A" not in page
    # the one nearest the median easting and northing, by brute force
    x, y = postcodes.geometry.x, postcodes.geometry.y
    gap = (x - x.median()) ** 2 + (y - y.median()) ** 2
    assert shown == postcodes["postcode"].iloc[int(gap.argmin())]
    # the longitude hint is that postcode's
    x, y = postcodes.geometry[postcodes["postcode"] == shown].iloc[0].coords[0]
    lon = TO_LONLAT.transform(x, y)[0]
    assert f'id="lon-hint">For example {lon:.4f}<' in page
    assert "-0.1278" not in page


def test_example_postcode_and_study_area_on_hand_made_data():
    import pandas as pd

    table = pd.DataFrame({"x": [0.0, 10.0, 20.0], "y": [0.0, 10.0, 100.0]},
                         index=["AA1 1AA", "AA1 1AB", "AA1 1AC"])
    assert example_postcode(table) == "AA1 1AB"  # median (10, 10)
    import geopandas as gpd

    square = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1000, 1000)], crs="EPSG:27700")
    area = StudyArea.of([None, square], "Square")
    assert area.refuse(500, 500, "here") is None
    assert area.refuse(1000 + MAX_OUTSIDE_M, 500, "there") is None  # exactly at the limit
    assert area.refuse(1000 + MAX_OUTSIDE_M + 1, 500, "there") == (
        "There is 5 km outside the study area (Square). This workspace holds groups in and "
        "near Square only, so it answers searches up to 5 km beyond its edge.")


def test_study_area_cells_answer_as_the_outline_does():
    """The cells refuse() answers most points from: hand-counted for an L of two boxes,
    and every answer equal to the outline's (contains, or within MAX_OUTSIDE_M)."""
    import geopandas as gpd
    import numpy as np

    from mapper.analysis.nearest import CELL_M

    assert CELL_M * 2**0.5 < MAX_OUTSIDE_M  # a touched cell's points are all near enough
    # an L: a 6 km x 1 km bar along the bottom and a 1 km x 6 km bar up the left side
    shapes = [shapely.box(0, 0, 6000, 1000), shapely.box(0, 0, 1000, 6000)]
    area = StudyArea.of([gpd.GeoDataFrame(geometry=shapes, crs="EPSG:27700")], "L")
    # bounds 6 x 6 km: 3 x 3 cells of 2.5 km; the L touches the bottom row and left column
    assert (area.columns, area.rows, area.origin) == (3, 3, (0.0, 0.0))
    assert area.touched == {0, 1, 2, 3, 6}  # column * rows + row
    assert area.refuse(4000, 4000, "here") is None  # untouched cell, 3 km from the L
    assert area.refuse(5999, 5999, "here") is None  # untouched cell, 4.999 km away
    far = 1000 + MAX_OUTSIDE_M + 1  # 5,001 m beyond both bars
    assert area.refuse(far, far, "there") == (
        "There is 5 km outside the study area (L). This workspace holds groups in and "
        "near L only, so it answers searches up to 5 km beyond its edge.")
    rng = np.random.default_rng(7)
    points = rng.uniform(-8000, 14000, (3000, 2)).tolist()
    points += [(2500.0 * i, 2500.0 * j) for i in range(-3, 7) for j in range(-3, 7)]
    for x, y in points:
        point = shapely.Point(x, y)
        near = area.shape.contains(point) or shapely.distance(area.shape, point) <= MAX_OUTSIDE_M
        assert (area.refuse(x, y, "here") is None) == near, (x, y)


def test_openapi_documents_every_kind_of_district_code(client):
    doc = client.get("/api/openapi.json").get_json()
    params = {p["name"]: p for p in doc["paths"]["/api/groups"]["get"]["parameters"]}
    pattern = params["borough"]["schema"]["items"]["pattern"]
    for code in ("E06000001", "E07000026", "E08000035", "E09000007", "W06000015"):
        assert re.fullmatch(pattern, code), code
    assert not re.fullmatch(pattern, "E05000001")
    assert "E06, E07, E08 or E09" in params["borough"]["description"]


def test_no_london_in_pages_scripts_or_cli_help():
    files = list((ROOT / "templates").rglob("*.html")) + [
        p for p in (ROOT / "static").glob("*") if p.is_file()]
    assert files
    said = [f.name for f in files if "london" in f.read_text(errors="ignore").lower()]
    assert said == []
    runner = CliRunner()
    for args in ([], ["build"], ["import"], ["nearest"], ["export"], ["info"]):
        out = runner.invoke(cli, [*args, "--help"]).output
        assert "london" not in out.lower(), args


@pytest.fixture(scope="module")
def no_groups(shared_grid, tmp_path_factory):
    """The tiny grid workspace, built from files: boundaries, IoD, postcodes, no groups."""
    directory = tmp_path_factory.mktemp("nogroups") / "ws"
    shutil.copytree(shared_grid, directory)
    return directory


def test_api_docs_examples_come_from_a_workspace_without_groups(no_groups):
    """With no groups, the example point of /api/nearest is the workspace's example
    postcode, not a default elsewhere in England (it was a point in east London)."""
    app = create_app({"TESTING": True, "WORKSPACE": str(no_groups), "TILES": "none"})
    html = app.test_client().get("/api/docs").get_data(as_text=True)
    postcodes = Workspace(no_groups).read_layer("postcodes")
    x, y = postcodes.geometry.x, postcodes.geometry.y
    middle = postcodes.geometry.iloc[int(((x - x.median()) ** 2 + (y - y.median()) ** 2).argmin())]
    lon, lat = TO_LONLAT.transform(middle.x, middle.y)
    assert f"/api/nearest?lat={lat:.4f}&amp;lon={lon:.4f}" in html
    assert "51.5155" not in html and "-0.0722" not in html


def test_incident_pages_say_the_workspace_has_no_groups(no_groups, client):
    """A search in a workspace without groups says why nothing is listed (there are no
    groups), not "no groups match this search", which sends people to change filters."""
    app = create_app({"TESTING": True, "WORKSPACE": str(no_groups), "TILES": "none"})
    postcode = Workspace(no_groups).read_layer("postcodes")["postcode"].iloc[0]
    for url in ("/incident", "/incident/callsheet"):
        page = app.test_client().get(url, query_string={"postcode": postcode, "radius_m": "250"})
        html = " ".join(page.get_data(as_text=True).split())
        assert page.status_code == 200, url
        assert "This workspace has no voluntary and community groups yet" in html, url
        assert "No groups match this search" not in html, url
    sheet = " ".join(app.test_client().get("/incident/callsheet", query_string={
        "postcode": postcode}).get_data(as_text=True).split())
    # in words, not the placeholder token "None" (issue 15: no nan/None/NaT/null/undefined)
    assert "Groups listed</th> <td> No groups. Straight-line distances." in sheet
    assert not re.search(r"\bNone\b", re.sub(r"<[^>]+>", " ", sheet))
    assert "The 0 nearest" not in sheet
    assert f"No groups found near postcode {postcode}" in " ".join(
        app.test_client().get("/incident", query_string={"postcode": postcode})
        .get_data(as_text=True).split())

def test_a_search_that_finds_no_groups_among_some_says_no_match(client, demo):
    """With groups in the workspace, an empty answer is the search's: "no groups match".
    The postcode is one with no group within 250 m, found by brute force."""
    groups = overlay.read_layer(demo, "groups").geometry
    postcodes = demo.read_layer("postcodes")
    far = postcodes[[groups.distance(p).min() > 260 for p in postcodes.geometry]]
    assert len(far), "the demo has no postcode 260 m from every group"
    page = client.get("/incident", query_string={
        "postcode": far["postcode"].iloc[0], "radius_m": "250"})
    html = " ".join(page.get_data(as_text=True).split())
    assert "No groups match this search" in html
    assert "This workspace has no voluntary" not in html
