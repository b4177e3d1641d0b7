"""Geography kept consistent: importing boundaries re-derives every record's area codes,
re-checks the LSOA-to-ward lookup, drops the analysis of the old geography; several
lookups are chosen between by their match to the wards; the analysis counts LSOAs that
fell back to another apportionment method; the study area has a name."""

from __future__ import annotations

import factories as fx
import pytest

from mapper import overlay
from mapper.analysis_run import analyse, analysis_state
from mapper.config import Settings
from mapper.editing import save_record
from mapper.pipeline import build, import_file, plan_build, summary_lines
from mapper.store import Workspace

# groups at the centres of wards 1, 5 and 9 (the diagonal of the 3x3 grid of 1 km wards)
GROUPS = [("Diagonal A", 530500, 180500), ("Diagonal B", 531500, 181500),
          ("Diagonal C", 532500, 182500)]


def _folder(tmp_path, *, postcodes_for: int = 36):
    folder = fx.write_folder(tmp_path / "in")
    fx.write_csv(folder / "groups.csv", ["name", "Eastings", "Northings"],
                 [[n, str(x), str(y)] for n, x, y in GROUPS])
    if postcodes_for < 36:  # keep the header and the first `postcodes_for` postcodes
        lines = (folder / "postcodes.csv").read_text().splitlines(keepends=True)
        (folder / "postcodes.csv").write_text("".join(lines[: postcodes_for + 1]))
    return folder


def _renumbered_wards(path, *, offset: int = 100, column: str = "WD25CD"):
    """The same ward polygons under new codes (E05900101 ...), as a newer vintage."""
    wards = fx.wards().rename(columns={"WD22CD": column, "WD22NM": "WD25NM"})
    wards[column] = [f"E059{int(c[-5:]) + offset:05d}" for c in wards[column]]
    return fx.write_geojson(wards, path)


@pytest.fixture
def built(tmp_path):
    ws = Workspace(tmp_path / "ws")
    build(_folder(tmp_path), ws)
    return ws


def test_new_wards_re_derive_every_records_ward_and_drop_the_old_analysis(built, tmp_path):
    analyse(built)
    assert built.has_layer("ward_summary")
    assert sorted(overlay.read_layer(built, "groups")["ward_code"]) == ["E05900001", "E05900005",
                                                               "E05900009"]
    # an edit made in the web app stores the record with the codes of its day
    before = overlay.read_layer(built, "groups").set_index("name")
    save_record(built, "groups", {"name": "Diagonal B (renamed)"}, actor="test",
                record_id=before.loc["Diagonal B", "group_id"], expected_version=1)
    said = []
    imported = import_file(_renumbered_wards(tmp_path / "wards25.geojson"), built,
                           progress=said.append)
    groups = overlay.read_layer(built, "groups").set_index("name")
    assert groups["ward_code"].to_dict() == {
        "Diagonal A": "E05900101", "Diagonal B (renamed)": "E05900105",
        "Diagonal C": "E05900109"}
    assert "groups: area codes re-derived from the new ward boundaries: 3 of 3 records " \
           "changed ward_code; 0 in no ward" in said
    assert ("LSOA-to-ward lookup (lookup.csv): 0 of 36 LSOAs (0.0%) go to wards of the ward "
            "layer") in said
    # the groups' provenance (their source file) is kept
    prov = built.provenance()
    assert prov.loc[prov["layer"] == "groups", "source_file"].tolist() == ["groups.csv"]
    # the lookup points to none of the new wards: said, and not to be used
    text = " ".join(map(str, imported.warnings))
    assert "0 of 36 LSOAs (0.0%) go to wards of the ward layer" in text
    assert "so the analysis will not use the lookup" in text
    # no page can show figures of the old wards: the analysis is gone until re-run
    assert not any(built.has_layer(n) for n in ("ward_summary", "neighbourhoods"))
    assert analysis_state(built.meta(), built.layers()) == "missing"
    report = analyse(built, Settings(apportionment="bestfit"))
    assert analysis_state(built.meta(), built.layers()) == "current"
    assert set(report.wards.index) == {f"E059{n:05d}" for n in range(101, 110)}
    assert report.wards.loc["E05900105", "groups_total"] == 1
    assert any(n.startswith("the LSOA-to-ward lookup was not used (0 of 36 LSOAs (0.0%)")
               and n.endswith("by dasymetric instead of bestfit") for n in report.notes)


def test_analyse_counts_lsoas_that_fell_back_to_another_method(tmp_path):
    ws = Workspace(tmp_path / "ws")
    build(_folder(tmp_path, postcodes_for=30), ws)
    report = analyse(ws)
    assert ("6 of 36 LSOAs fell back from dasymetric to another method: 6 to areal "
            "(no postcode centroid inside it)") in report.notes
    weights = ws.read_layer("lsoa_ward_weights")
    assert (weights.groupby("lsoa_code")["method"].first() == "areal").sum() == 6


def test_of_several_lookups_the_one_matching_the_wards_is_used(tmp_path):
    folder = _folder(tmp_path)
    grid = fx.lsoas()
    # a newer lookup, to wards of another vintage: only the first 9 LSOAs' wards match
    fx.write_csv(folder / "lookup_newer.csv", ["LSOA11CD", "WD23CD"],
                 [[c, w if i < 9 else "E05999999"]
                  for i, (c, w) in enumerate(zip(grid["LSOA11CD"], grid["ward"], strict=True))])
    # a lookup from 2021 LSOAs, whose ward codes all match: the LSOAs are 2011 ones
    fx.write_csv(folder / "lookup21.csv", ["LSOA21CD", "WD19CD"],
                 [[c, w] for c, w in zip(grid["LSOA11CD"], grid["ward"], strict=True)])
    plan = plan_build(folder)
    assert plan.chosen["lsoa_ward_lookup"].path.name == "lookup.csv"
    reasons = {s.name: s.reason for s in plan.skipped}
    assert reasons["lookup_newer.csv"].endswith(
        "its ward codes match the ward boundaries better (100.0% of its rows against 25.0%)")
    assert reasons["lookup21.csv"].endswith(
        "its LSOA vintage matches the LSOA boundaries (2011)")
    report = build(folder, Workspace(tmp_path / "ws"))
    lines = summary_lines(report)
    assert ("LSOA-to-ward lookup (lookup.csv): 36 of 36 LSOAs (100.0%) go to wards of the "
            "ward layer.") in lines


def test_study_area_named_from_districts_or_by_the_user_and_kept_on_reimport(tmp_path):
    folder = _folder(tmp_path)
    ws = Workspace(tmp_path / "ws")
    build(folder, ws)
    assert ws.meta()["study_area"] == "Middleton, Northbrook and Southfield"
    renamed = fx.boroughs()
    renamed["LAD22NM"] = ["Ashby", "Barton", "Carlton"]
    new = fx.write_geojson(renamed, tmp_path / "boroughs_renamed.geojson")
    import_file(new, ws)
    assert ws.meta()["study_area"] == "Ashby, Barton and Carlton"
    named = Workspace(tmp_path / "named")
    build(folder, named, name="Three Towns")
    import_file(new, named)
    assert named.meta()["study_area"] == "Three Towns"


def test_build_name_option_is_stored_and_said(tmp_path):
    from click.testing import CliRunner

    from mapper.cli import cli

    folder = fx.write_folder(tmp_path / "in")
    result = CliRunner().invoke(cli, ["-w", str(tmp_path / "ws"), "build", "--from",
                                      str(folder), "--name", "  Three Towns "])
    assert result.exit_code == 0, result.output
    assert "Study area: Three Towns\n" in result.output
    assert Workspace(tmp_path / "ws").meta()["study_area"] == "Three Towns"
