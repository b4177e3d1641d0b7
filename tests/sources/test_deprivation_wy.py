"""Real data: West Yorkshire's IoD2019 File 1, File 2, File 6 and ONS IMD lookup (no
scores) read together, and the analysis run on ranks (see ../shared/data/west-yorkshire
README.md for the counts)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from realdata import west_yorkshire_dir

from mapper.analysis_run import analyse
from mapper.config import Settings
from mapper.pipeline import build, describe_plan, plan_build
from mapper.store import Workspace

pytestmark = pytest.mark.realdata

FILES = [
    "lad_boundaries_LAD2022_BGC_wy.geojson", "wards_WD19_wy.geojson",
    "lsoa11_boundaries_wy.geojson", "ons_LSOA11_to_WD19_lookup_wy.csv",
    "codepoint_open_2014_wy.csv", "codepoint_open_2014_Column_Headers.csv",
    "File_1_-_IMD2019_Index_of_Multiple_Deprivation_wy.csv",
    "File_2_-_IoD2019_Domains_of_Deprivation_wy.csv",
    "File_6_-_IoD2019_Population_Denominators_wy.csv", "ons_IMD_Dec2019_lookup_wy.csv",
]
IOD = FILES[6:]
LSOAS_PER_DISTRICT = {"E08000032": 310, "E08000033": 128, "E08000034": 259,
                      "E08000035": 482, "E08000036": 209}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The area and IoD files of the West Yorkshire folder (linked, not copied)."""
    source = west_yorkshire_dir()
    chosen = tmp_path_factory.mktemp("wy") / "in"
    chosen.mkdir()
    for name in FILES:
        (chosen / name).symlink_to(source / name)
    return chosen


@pytest.fixture(scope="module")
def analysed(folder, tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("wy-ws") / "ws")
    build(folder, ws)
    return ws, analyse(ws, Settings(stability_draws=5))


def read_raw(name: str) -> pd.DataFrame:
    return pd.read_csv(west_yorkshire_dir() / name, thousands=",", encoding="utf-8-sig")


def test_the_four_iod_files_are_combined(folder):
    plan = plan_build(folder)
    chosen = plan.chosen["deprivation"]
    assert [p.path.name for p in chosen.extra["parts"]] == sorted(IOD)
    line = next(x for x in describe_plan(plan) if "files combined" in x)
    assert line.endswith(
        "4 files combined on the LSOA code: IMD, Income, Employment, Education, Health, "
        "Crime, Barriers, Living Environment rank, decile; population total, children 0-15, "
        "aged 16-59, aged 60+, working age; vintage IoD2019 / LSOA 2011; 1,388 rows -> "
        "layer 'deprivation'")


def test_deprivation_layer_counts(analysed):
    ws, _ = analysed
    dep = ws.read_layer("deprivation")
    assert len(dep) == 1388 and dep["lsoa_code"].is_unique
    assert dep["pop_total"].sum() == 2_275_491  # the README's File 6 total
    assert dep.groupby("lad_code").size().to_dict() == LSOAS_PER_DISTRICT
    assert dep[["imd_rank", "imd_decile", "crime_rank", "pop_working_age"]].notna().all().all()
    assert not [c for c in dep if c.endswith("_score")]
    file1 = read_raw(IOD[0]).set_index("LSOA code (2011)")
    assert dep.set_index("lsoa_code")["imd_rank"].to_dict() == file1[
        "Index of Multiple Deprivation (IMD) Rank"].to_dict()
    prov = ws.provenance().query("layer == 'deprivation'")
    assert sorted(prov["source_file"]) == sorted(IOD)
    assert (prov["rows_read"] == 1388).all()


def test_rank_measures_on_real_data(analysed):
    ws, report = analysed
    wards = report.wards
    assert len(wards) == 124
    assert wards["population"].sum() == pytest.approx(2_275_491, rel=1e-9)
    assert wards["imd_avg_rank"].notna().all() and wards["imd_score"].isna().all()
    assert wards["imd_extent"].between(0, 1).all()
    assert wards["unmet_need"].notna().all()
    assert set(json.loads(ws.meta()["unavailable_measures"])) == {
        "imd_score", "domain_scores", "imd_rank_in_area", "income_scale", "employment_scale"}
    # districts: whole LSOAs; MHCLG's average rank (ranks turned round: 32,845 - rank,
    # population-weighted) computed from the raw File 1 and File 6 by pandas
    file1, file6 = read_raw(IOD[0]), read_raw(IOD[2])
    raw = file1.merge(file6, on=["LSOA code (2011)", "Local Authority District code (2019)"])
    people = raw["Total population: mid 2015 (excluding prisoners)"]
    rank = 32_845 - raw["Index of Multiple Deprivation (IMD) Rank"]
    district = raw["Local Authority District code (2019)"]
    expected = (rank * people).groupby(district).sum() / people.groupby(district).sum()
    decile1 = (raw["Index of Multiple Deprivation (IMD) Decile"] == 1).groupby(district).mean()
    boroughs = ws.read_layer("borough_summary").set_index("borough_code")
    assert boroughs["imd_avg_rank"].to_dict() == pytest.approx(expected.to_dict())
    # ranks only: local concentration for every district, no income/employment scale
    assert boroughs["imd_local_concentration"].between(1, 32_844).all()
    assert (boroughs["imd_local_concentration"] > boroughs["imd_avg_rank"]).all()
    assert boroughs[["income_scale", "employment_scale"]].isna().all().all()
    assert boroughs["imd_most_deprived_10_share"].to_dict() == pytest.approx(decile1.to_dict())
    assert boroughs["population"].sum() == pytest.approx(2_275_491)


def test_west_yorkshire_cans_are_named_for_their_own_average_ranks(analysed):
    # ranks only (no scores), no groups: each CAN's domains by average national rank
    _, report = analysed
    cans = report.neighbourhoods
    assert len(cans) >= 2
    assert cans["reasons"].str.contains("average rank in the most deprived").all()
    assert cans["reasons"].nunique() == len(cans)
