"""Real-data runs on the London open data in ../shared/data/london (see realdata.py)."""

from __future__ import annotations

import pytest
from realdata import london_dir

from mapper.pipeline import build, plan_build
from mapper.sources import Skipped, detect_file
from mapper.store import Workspace

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def london():
    return london_dir()


@pytest.fixture(scope="module")
def london_workspace(london, tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("london") / "ws")
    report = build(london, ws)
    return ws, report


EXPECTED_KINDS = {
    "london_boroughs_lad22.geojson": ("boroughs", "2022"),
    "london_wards_2018.geojson": ("wards", "2018"),
    "london_wards_2018_city_split.geojson": ("wards", "2018"),
    "london_lsoa_2011.geojson": ("lsoas", "2011"),
    "london_lsoa_2021.geojson": ("lsoas", "2021"),
    "london_iod2019_lsoa.csv": ("deprivation", "IoD2019 / LSOA 2011"),
    "london_lsoa11_to_ward19_lookup.csv": ("lsoa_ward_lookup", "LSOA 2011 -> ward 2019"),
    "london_lsoa21_to_ward25_lookup.csv": ("lsoa_ward_lookup", "LSOA 2021 -> ward 2025"),
    "london_lsoa_population_mid2020.csv": ("population", "mid-2020 / LSOA 2011"),
    "london_postcodes_codepoint_open_2025.csv": ("postcodes", "2025"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_KINDS))
def test_each_real_file_is_recognised_from_its_content(london, name):
    found = detect_file(london / name)
    assert not isinstance(found, Skipped), found
    assert (found.kind, found.vintage) == EXPECTED_KINDS[name]


def test_point_files_are_skipped_with_reasons(london):
    plan = plan_build(london)
    reasons = {s.name: s.reason for s in plan.skipped}
    assert "police.uk" in reasons["met_police_street_crime_burglary_2024-09_to_2025-02.csv"]
    assert "File 8" in reasons["london_iod2019_underlying_indicators_lsoa.csv"]
    assert "coarser file" in reasons["london_wards_2018_city_split.geojson"]


def test_london_workspace_counts(london_workspace):
    ws, report = london_workspace
    counts = {layer: len(ws.read_layer(layer)) for layer in ws.layers()}
    assert counts["boroughs"] == 33
    assert counts["wards"] == 633
    assert counts["lsoas"] == 4_835
    assert counts["deprivation"] == 4_835
    assert counts["population"] == 4_835
    assert counts["postcodes"] == 180_792
    assert ws.meta()["study_area"] == "London (33 boroughs)"


def test_iod2019_joins_every_london_lsoa(london_workspace):
    ws, _ = london_workspace
    lsoas = ws.read_layer("lsoas")
    deprivation = ws.read_layer("deprivation")
    assert set(lsoas["lsoa_code"]) == set(deprivation["lsoa_code"])
    assert deprivation["imd_score"].notna().all()
    assert deprivation["pop_total"].sum() == 8_662_622  # mid-2015, excluding prisoners
    # published figure for the first City of London LSOA
    row = deprivation.set_index("lsoa_code").loc["E01000001"]
    assert row["imd_score"] == pytest.approx(6.208)
    assert row["imd_rank"] == 29_199


def test_london_layers_are_in_british_national_grid_with_provenance(london_workspace):
    ws, _ = london_workspace
    wards = ws.read_layer("wards")
    assert wards.crs.to_epsg() == 27700
    # London is about 1,570-1,600 km2 (the GLA wards extend over the tidal Thames)
    assert wards.geometry.area.sum() / 1e6 == pytest.approx(1_595, rel=0.01)
    assert wards["borough_code"].str.fullmatch(r"E09\d{6}").all()
    prov = ws.provenance().set_index("layer")
    assert prov.loc["wards", "source_file"] == "london_wards_2018.geojson"
    assert prov.loc["postcodes", "attribution"].count("©") >= 2
    assert "best-fit" not in prov.loc["wards", "detail"]


def test_split_city_ward_file_gives_657_wards(london):
    report = build(
        london, Workspace("unused"), exclude=("london_wards_2018.geojson",), dry_run=True
    )
    assert len(report.imported["wards"].frame) == 657
    assert not any("point to a ward" in str(w) for w in report.warnings)
