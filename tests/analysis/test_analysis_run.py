"""The analysis run on whole workspaces: the tiny grid, the demo, and London."""

from __future__ import annotations

import json

import factories as fx
import numpy as np
import pandas as pd
import pytest

from mapper.analysis_run import OUTPUTS, analyse, can_analyse
from mapper.cli import main
from mapper.config import Settings, describe
from mapper.errors import MapperError
from mapper.pipeline import build, build_demo, import_file
from mapper.store import Workspace


@pytest.fixture
def grid(grid_copy):
    return Workspace(grid_copy)


def test_every_setting_is_documented_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name, _, _ in describe():
        assert f"`{name}`" in readme, name


def test_analysis_needs_wards_lsoas_and_deprivation(tmp_path):
    ws = Workspace(tmp_path / "ws")
    folder = fx.write_folder(tmp_path / "in")
    (folder / "iod.csv").unlink()
    build(folder, ws)
    assert not can_analyse(ws)
    with pytest.raises(MapperError, match="lacks deprivation"):
        analyse(ws)


def test_analysis_with_ranks_and_denominators_only(tmp_path):
    folder, file7 = fx.write_rank_only_folder(tmp_path / "in")
    ws = Workspace(tmp_path / "ws")
    build(folder, ws)
    assert set(ws.provenance().query("layer == 'deprivation'")["source_file"]) == {
        "file1.csv", "file6.csv"}
    report = analyse(ws, Settings(can_min_population=0, stability_draws=5))
    wards = report.wards
    rank = 32_845 - file7["Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)"
                           ].astype(int)
    # (MHCLG's average rank turns the ranks round: higher = more deprived)
    weights = ws.read_layer("lsoa_ward_weights")
    assert weights["weight"].round(9).eq(1).all()  # 4 LSOAs of 1,500 people in each ward
    expected = weights.assign(rank=weights["lsoa_code"].map(rank.astype(int))).groupby(
        "ward_code")["rank"].mean()
    assert wards["imd_avg_rank"].to_dict() == pytest.approx(expected.to_dict())
    assert wards["population"].sum() == pytest.approx(36 * 1500)
    assert wards["imd_score"].isna().all() and wards["imd_rank_in_area"].isna().all()
    assert set(json.loads(ws.meta()["unavailable_measures"])) == {
        "imd_score", "domain_scores", "imd_rank_in_area", "income_scale", "employment_scale"}
    assert any("measured by the IMD average rank (MHCLG's: higher = more deprived)" in note
               for note in report.notes)
    # need from the average rank: the highest (most deprived) has the most need
    assert wards["contrib_need"].idxmax() == expected.idxmax()


def test_analysis_with_scores_only_and_population_estimates(tmp_path):
    # IoD File 5 (scores, no ranks, no denominators) beside ONS population estimates
    folder = fx.write_folder(tmp_path / "in")
    file7 = pd.read_csv(folder / "iod.csv", dtype=str)
    file7[list(file7.columns[:4]) + [c for c in file7.columns if "Score" in c]].to_csv(
        folder / "iod.csv", index=False)
    ws = Workspace(tmp_path / "ws")
    build(folder, ws)
    report = analyse(ws, Settings(can_min_population=0, stability_draws=5,
                                  can_max_imd_decile=1, can_supply_below_median=False))
    wards = report.wards
    assert set(report.unavailable) == {"imd_avg_rank", "imd_extent",
                                       "imd_local_concentration",
                                       "imd_most_deprived_10_share",
                                       "imd_most_deprived_20_share",
                                       "income_scale", "employment_scale"}
    # scores weighted by the population estimates (LSOA n: 1,000 + 10 (n - 1) residents)
    weights = ws.read_layer("lsoa_ward_weights")
    score = file7.set_index(file7.columns[0])["Index of Multiple Deprivation (IMD) Score"]
    people = {f"E0190{n:04d}": 1000 + 10 * (n - 1) for n in range(1, 37)}
    parts = weights.assign(score=weights["lsoa_code"].map(score.astype(float)),
                           people=weights["lsoa_code"].map(people))
    expected = (parts["score"] * parts["people"]).groupby(parts["ward_code"]).sum() / parts[
        "people"].groupby(parts["ward_code"]).sum()
    assert wards["imd_score"].to_dict() == pytest.approx(expected.to_dict())
    assert wards["imd_avg_rank"].isna().all()
    assert "can_max_imd_decile not applied" in " ".join(report.notes)
    assert wards["candidate"].any()


def test_analysis_without_any_population_says_what_to_add(tmp_path):
    folder, _ = fx.write_rank_only_folder(tmp_path / "in", population=False)
    ws = Workspace(tmp_path / "ws")
    build(folder, ws)
    with pytest.raises(MapperError, match="add IoD File 6 .population denominators. or File 7"):
        analyse(ws)


def test_grid_analysis_by_hand(grid, tmp_path):
    # one group in ward 1; the 36 LSOAs nest 4 to a ward, so need follows the LSOAs exactly
    path = fx.write_csv(
        tmp_path / "groups.csv",
        ["name", "category", "easting", "northing"],
        [["Grid Food Bank", "food", "530500", "180500"]],
    )
    import_file(path, grid)
    report = analyse(grid, Settings(can_min_population=0, stability_draws=20))
    wards = report.wards
    assert set(OUTPUTS) <= set(grid.layers())
    # population: the factory gives LSOA n a population of 1000 + 10 (n - 1)
    lsoa_pop = {f"E0190{n:04d}": 1000 + 10 * (n - 1) for n in range(1, 37)}
    weights = grid.read_layer("lsoa_ward_weights")
    assert weights["weight"].round(9).eq(1).all()  # LSOAs nest: each wholly in one ward
    expected = (
        weights.assign(pop=weights["lsoa_code"].map(lsoa_pop)).groupby("ward_code")["pop"].sum()
    )
    assert wards["population"].to_dict() == pytest.approx(expected.to_dict())
    assert wards["population"].sum() == sum(lsoa_pop.values())
    # IoD factory: LSOA n (position n - 1) scores 40 - 0.5 (n - 1), weighted by pop_total 1500
    ward1 = weights[weights["ward_code"] == "E05900001"]["lsoa_code"]
    scores = [40 - 0.5 * (int(code[-4:]) - 1) for code in ward1]
    assert wards.loc["E05900001", "imd_score"] == pytest.approx(np.mean(scores))
    assert wards.loc["E05900001", "groups_total"] == 1
    assert wards.loc["E05900001", "groups_food"] == 1
    assert wards.loc["E05900001", "groups_total_per_1000"] == pytest.approx(
        1000 / expected["E05900001"]
    )
    assert (wards.drop(index="E05900001")["groups_total"] == 0).all()
    # the index splits exactly into its components
    contrib = wards[[c for c in wards if c.startswith("contrib_")]].sum(axis=1)
    assert np.allclose(contrib, wards["unmet_need"])
    assert wards["stability"].between(0, 1).all()
    # stored with the settings that produced it
    assert Settings.from_json(grid.meta()["analysis_settings"]).stability_draws == 20
    stored = grid.read_layer("ward_summary").set_index("ward_code")
    assert stored["unmet_need"].to_numpy() == pytest.approx(wards["unmet_need"].to_numpy())
    assert stored.crs.to_epsg() == 27700


def test_demo_analysis_finds_the_planted_patterns(tmp_path):
    ws = Workspace(tmp_path / "demo")
    build_demo(ws)
    report = analyse(ws)
    wards = report.wards
    assert wards["population"].sum() == pytest.approx(208_454)
    # the demo's Lindenfield has an incident spike in its last three months
    assert bool(wards.loc["E05990009", "spike"])
    assert len(report.neighbourhoods) >= 1
    cans = ws.read_layer("neighbourhoods")
    assert cans["can_id"].str.fullmatch(r"CAN-\d\d").all()
    assert cans.geometry.is_valid.all()
    gaps = ws.read_layer("coverage_gaps")
    assert (gaps["uncovered_area_km2"] > 0).all()


def test_analyse_command_changes_and_keeps_settings(demo_copy, capsys):
    ws = demo_copy  # the analysed demo; the command analyses it again with other settings
    assert (
        main(
            [
                "--workspace",
                str(ws),
                "analyse",
                "--set",
                "coverage_radius_m=400",
                "--set",
                "stability_draws=10",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Coverage at 400 m" in out
    assert Settings.from_json(Workspace(ws).meta()["analysis_settings"]).coverage_radius_m == 400
    assert main(["--workspace", str(ws), "analyse", "--set", "can_top_share=2"]) == 2
    assert "can_top_share must be above 0 and at most 1" in capsys.readouterr().err


@pytest.mark.realdata
def test_london_analysis(london_copy):
    # the London build of the run (conftest.shared_london: `mapper build` of the real
    # files), analysed again here with more stability draws
    ws = Workspace(london_copy)
    report = analyse(ws, Settings(stability_draws=20))
    wards = report.wards
    assert len(wards) == 633
    assert wards["imd_score"].notna().all()
    assert wards["unmet_need"].notna().all() and np.isfinite(wards["unmet_need"]).all()
    # population summed over wards equals population summed over LSOAs
    lsoa_total = ws.read_layer("population")["population"].sum()
    assert wards["population"].sum() == pytest.approx(lsoa_total, rel=1e-9)
    # the City of London: one merged ward with a small population, no division by zero
    city = wards.loc["E05009297"]
    assert 5_000 < city["population"] < 15_000
    assert np.isfinite(city["groups_total_per_1000"]) and np.isfinite(city["incidents_per_1000"])
    cans = report.neighbourhoods
    assert len(cans) >= 5
    assert (cans["population"] >= Settings().can_min_population).all()
    assert (cans["population"] <= Settings().can_max_population).all()
    boroughs = ws.read_layer("borough_summary").set_index("borough_code")
    # MHCLG publishes Barking and Dagenham's IMD 2019 average score as 32.778
    assert boroughs.loc["E09000002", "imd_score"] == pytest.approx(32.78, abs=0.05)
    assert (boroughs["imd_rank_in_area"].min(), boroughs["imd_rank_in_area"].max()) == (1, 33)


def test_a_workspace_without_groups_says_what_that_does_to_supply_and_coverage(grid):
    report = analyse(grid, Settings(can_min_population=0, stability_draws=5))
    assert (report.wards["groups_total_per_1000"].fillna(0) == 0).all()
    said = "\n".join(report.notes)
    assert "'groups per 1,000 below the median' was not applied" in said
    assert "(0 groups in the workspace)" in said
    assert "coverage: the workspace has no groups" in said
    # the supply condition skipped, candidates come from the index alone
    assert report.wards["candidate"].sum() >= 1


def test_covered_districts_by_share_of_each_source():
    from mapper.analysis.incidents import covered_districts

    frame = pd.DataFrame({
        "source_file": ["a.csv"] * 300 + ["b.csv"] * 10,
        "borough_code": ["E1"] * 299 + ["E2"] + ["E3"] * 10,
    })
    # E2 holds 1 of a.csv's 300 points (0.33 % < 0.5 %): a stray, not coverage
    assert covered_districts(frame) == {"E1", "E3"}
    # as one source, E3's 10 points are 3.3 % of its densest district's 299 (below the
    # 10 % of COVERAGE_MIN_DENSITY): points over the boundary, not coverage
    assert covered_districts(frame.drop(columns="source_file")) == {"E1"}


def test_incident_rates_are_unknown_where_no_incident_data_cover_the_district(tmp_path):
    from pyproj import Transformer

    folder = fx.write_folder(tmp_path / "in")
    to_lonlat = Transformer.from_crs(27700, 4326, always_xy=True)
    rows = []
    # 300 crimes in Southfield (row 0), 200 in Middleton (row 1), 1 stray in Northbrook
    for n, (row, count) in enumerate([(0, 300), (1, 200), (2, 1)]):
        for i in range(count):
            x = fx.X0 + 100 + (i * 37) % 2800
            y = fx.Y0 + row * 1000 + 100 + (i * 53) % 800
            lon, lat = to_lonlat.transform(x, y)
            rows.append([f"id{n}-{i}", "2024-0" + str(1 + i % 6), "Test Police", "Test Police",
                         f"{lon:.6f}", f"{lat:.6f}", "On or near Test Street", "", "",
                         "Burglary", "", ""])
    fx.write_csv(folder / "crime.csv",
                 ["Crime ID", "Month", "Reported by", "Falls within", "Longitude",
                  "Latitude", "Location", "LSOA code", "LSOA name", "Crime type",
                  "Last outcome category", "Context"], rows)
    ws = Workspace(tmp_path / "ws")
    build(folder, ws)
    report = analyse(ws, Settings(can_min_population=0, stability_draws=5,
                                  incident_months=0))
    wards = report.wards
    northbrook = wards["borough_code"] == "E09900003"
    assert wards.loc[northbrook, "incidents_per_1000"].isna().all()
    assert wards.loc[~northbrook, "incidents_per_1000"].notna().all()
    assert wards.loc[northbrook, "incomplete"].all()
    assert (wards.loc[northbrook, "contrib_incidents"] == 0).all()
    said = "\n".join(report.notes)
    assert "the incident data cover 2 of 3 districts" in said
    assert "in Northbrook (3 wards) are unknown, not zero" in said
