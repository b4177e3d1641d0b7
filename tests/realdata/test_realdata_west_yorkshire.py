"""Real-data run on the West Yorkshire open data in ../shared/data/west-yorkshire (see
realdata.py and that folder's README.md, whose counts are asserted here): a non-London
area with three ward vintages, two LSOA vintages, a headerless Code-Point Open and an
NSPL-derived ``Postcode,lat,long`` table, built whole with ``mapper build --from``. The
boundaries, postcodes, lookup and the area's name are asserted here; the deprivation and
police files in their own tests."""

from __future__ import annotations

import re
import shutil

import factories as fx
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from realdata import west_yorkshire_dir

from mapper import overlay
from mapper.cli import cli
from mapper.pipeline import import_file
from mapper.postcodes import normalise_postcodes
from mapper.sources import Context, Skipped, detect_file
from mapper.store import Workspace

pytestmark = pytest.mark.realdata

DISTRICTS = {"E08000032": "Bradford", "E08000033": "Calderdale", "E08000034": "Kirklees",
             "E08000035": "Leeds", "E08000036": "Wakefield"}


@pytest.fixture(scope="module")
def wy():
    return west_yorkshire_dir()


@pytest.fixture(scope="module")
def built(wy, tmp_path_factory):
    directory = tmp_path_factory.mktemp("wy") / "ws"
    result = CliRunner().invoke(cli, ["-w", str(directory), "build", "--from", str(wy)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return Workspace(directory), result.output


def test_boundaries_and_lookup_counts_from_the_readme(built):
    ws, out = built
    prov = ws.provenance().set_index("layer")
    counts = {layer: int(prov.loc[layer, "rows_imported"]) for layer in
              ("boroughs", "wards", "lsoas", "lsoa_ward_lookup")}
    assert counts == {"boroughs": 5, "wards": 124, "lsoas": 1388, "lsoa_ward_lookup": 1388}
    boroughs = ws.read_layer("boroughs")
    assert dict(zip(boroughs["borough_code"], boroughs["borough_name"], strict=True)) == DISTRICTS
    # the newest of the three ward vintages; LSOAs per district as in the README
    assert prov.loc["wards", "source_file"] == "wards_WD25_wy.geojson"
    assert "wards_WD13_wy.geojson: another ward boundaries file was used " \
           "(wards_WD25_wy.geojson): newer vintage (2025 against 2013)" in out
    per_district = ws.read_layer("lsoas")["borough_code"].map(DISTRICTS).value_counts()
    assert per_district.to_dict() == {"Leeds": 482, "Bradford": 310, "Kirklees": 259,
                                      "Wakefield": 209, "Calderdale": 128}
    # the 2011-to-2019 lookup against the 2025 wards: 2 wards were recoded (README)
    assert ("LSOA-to-ward lookup (ons_LSOA11_to_WD19_lookup_wy.csv): 1,360 of 1,388 LSOAs "
            "(98.0%) go to wards of the ward layer.") in out
    assert "E01011392 -> E05011393" in out
    lookup_wards = set(ws.read_layer("lsoa_ward_lookup")["ward_code"])
    assert (len(lookup_wards), len(lookup_wards & set(ws.read_layer("wards")["ward_code"]))) \
        == (124, 122)


def test_study_area_is_named_after_its_five_districts_and_analysed(built):
    ws, out = built
    assert len(ws.read_layer("ward_summary")) == 124
    assert "sharing 1,388 LSOAs between 124 wards (dasymetric)" in out
    assert ws.meta()["study_area"] == "Bradford, Calderdale, Kirklees, Leeds and Wakefield"
    assert ("Study area: Bradford, Calderdale, Kirklees, Leeds and Wakefield (from its "
            "districts; set it with --name)") in out


def test_examples_on_pages_and_api_docs_are_west_yorkshire_ones(built):
    from mapper.web import create_app

    ws, _ = built
    client = create_app({"TESTING": True, "WORKSPACE": str(ws.directory),
                         "TILES": "none"}).test_client()
    postcodes = set(ws.read_layer("postcodes")["postcode"])
    hint = re.search(r'id="postcode-hint">For example ([A-Z0-9 ]+)<',
                     client.get("/incident").get_data(as_text=True))[1]
    assert hint in postcodes
    docs = client.get("/api/docs").get_data(as_text=True)
    links = [h.replace("&amp;", "&") for h in re.findall(r'href="(/api/nearest\?[^"]*)"', docs)]
    assert len(links) == 3
    assert [client.get(link).status_code for link in links] == [200, 200, 200]
    # Leeds is in the study area; central London is 270 km away
    assert client.get("/api/nearest?lat=53.7997&lon=-1.5492").status_code == 200
    far = client.get("/api/nearest?lat=51.5074&lon=-0.1278")
    assert far.status_code == 400
    assert "km outside the study area (Bradford, Calderdale, Kirklees, Leeds and " \
           "Wakefield)" in far.get_json()["error"]


def test_postcodes_from_the_nspl_derived_lookup(built, wy):
    ws, out = built
    prov = ws.provenance().set_index("layer")
    assert prov.loc["postcodes", "source_file"] == "postcodes2latlon_nspl_may2025_wy.csv"
    assert prov.loc["postcodes", "detail"] == (
        "postcode lookup table: postcode with latitude/longitude, no area codes")
    assert int(prov.loc["postcodes", "rows_read"]) == 90_131
    # the rest lie beyond the simplified 2022 district outlines (+250 m) that bound the area
    assert int(prov.loc["postcodes", "rows_imported"]) == 90_109
    postcodes = ws.read_layer("postcodes")
    assert postcodes["postcode"].is_unique
    assert postcodes["postcode"].str.fullmatch(r"[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}").all()
    assert "LS10 1AA" in set(postcodes["postcode"])  # 'LS101AA' in the file
    assert "codepoint_open_2014_wy.csv: another postcode centroids file was used " \
           "(postcodes2latlon_nspl_may2025_wy.csv): newer vintage (2025 against 2014)" in out
    assert "codepoint_open_2014_Column_Headers.csv: Code-Point Open column headers" in out


def test_headerless_code_point_open_is_read_whole(wy):
    found = detect_file(wy / "codepoint_open_2014_wy.csv")
    assert not isinstance(found, Skipped)
    assert (found.kind, found.detail, found.rows) == (
        "postcodes", "OS Code-Point Open (no header row)", 62_237)
    frame = found.reader(found.path, found, Context()).frame
    assert len(frame) == 62_237 and frame["postcode"].is_unique
    assert set(frame["borough_code"]) == set(DISTRICTS)
    assert frame["ward_code"].nunique() == 124


def test_importing_older_wards_moves_every_group_and_drops_the_lookup(built, wy, tmp_path):
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(built[0].directory, ws.directory)
    # groups at every 400th Leeds postcode of Code-Point Open 2014, built in code
    codepoint = pd.read_csv(wy / "codepoint_open_2014_wy.csv", header=None, dtype=str)
    leeds = codepoint[codepoint[8] == "E08000035"].iloc[::400].copy()
    leeds[0] = normalise_postcodes(leeds[0])  # fixed width: 'LS101AA' is 'LS10 1AA'
    assert leeds[0].isin(set(ws.read_layer("postcodes")["postcode"])).all()
    assert len(leeds) == 51
    path = fx.write_csv(tmp_path / "leeds_groups.csv", ["name", "postcode"],
                        [[f"Group {i}", pc] for i, pc in enumerate(leeds[0])])
    import_file(path, ws, register="groups")
    said = []
    imported = import_file(wy / "wards_WD13_wy.geojson", ws, progress=said.append)
    groups = overlay.read_layer(ws, "groups").set_index("postcode")
    # Code-Point 2014's ward codes are the 2013 wards' (README): the re-derived ward of
    # every group is the one Code-Point gives its postcode (all 33 Leeds wards changed
    # code in 2018, so none kept its 2025 code)
    assert groups.loc[leeds[0], "ward_code"].tolist() == leeds[9].tolist()
    assert any(s.startswith("groups: area codes re-derived from the new ward boundaries: ")
               for s in said)
    # the police.uk incidents are all in Leeds, whose every ward changed code in 2018
    incidents = overlay.read_layer(ws, "incidents")
    moved = [s for s in said if s.startswith("incidents: area codes re-derived")]
    assert moved == [f"incidents: area codes re-derived from the new ward boundaries: "
                     f"{len(incidents):,} of {len(incidents):,} records changed ward_code; "
                     f"{int(incidents['ward_code'].isna().sum()):,} in no ward"]
    wd13 = set(pyogrio.read_dataframe(wy / "wards_WD13_wy.geojson", read_geometry=False)[
        "WD13CD"])
    assert set(incidents["ward_code"].dropna()) <= wd13
    assert not ws.has_layer("ward_summary")  # the analysis of the 2025 wards is gone
    text = " ".join(map(str, imported.warnings))
    assert "906 of 1,388 LSOAs (65.3%) go to wards of the ward layer" in text
    assert "so the analysis will not use the lookup" in text
    assert ws.meta()["study_area"] == "Bradford, Calderdale, Kirklees, Leeds and Wakefield"
    # the wards the lookup was made for (README: an exact match)
    assert import_file(wy / "wards_WD19_wy.geojson", ws).warnings == []
