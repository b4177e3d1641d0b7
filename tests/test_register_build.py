"""Point registers end to end: a folder holding an Open Referral UK package (as a
sub-folder), a Charity Commission extract and police.uk files builds one workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapper import demo, overlay
from mapper.cli import main
from mapper.exports import export
from mapper.pipeline import build, build_demo, plan_build
from mapper.store import Workspace

CHARITY_HEADER = [
    "date_of_extract", "organisation_number", "registered_charity_number",
    "linked_charity_number", "charity_name", "charity_type", "charity_registration_status",
    "date_of_registration", "date_of_removal", "charity_contact_address1",
    "charity_contact_postcode", "charity_contact_phone", "charity_contact_email",
    "charity_contact_web", "charity_activities",
]


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("demo") / "ws")
    build_demo(ws)
    return ws


def _charity_file(path: Path, postcodes: list[str]) -> Path:
    rows = [
        ["2026-06-30", "1", "1190001", "0", "Millbrook Trust (synthetic)", "CIO", "Registered",
         "2019-01-01", "", "1 High Street", postcodes[0], "", "", "", "Youth work"],
        ["2026-06-30", "2", "1190002", "0", "Gone Charity (synthetic)", "CIO", "Removed",
         "2010-01-01", "2020-01-01", "2 High Street", postcodes[1], "", "", "", "Closed"],
        ["2026-06-30", "3", "1190001", "1", "Millbrook Trust Subsidiary", "CIO", "Registered",
         "2019-01-01", "", "1 High Street", postcodes[0], "", "", "", "Linked"],
    ]
    path.write_text("\n".join("\t".join(r) for r in [CHARITY_HEADER, *rows]) + "\n")
    return path


def test_a_folder_with_an_oruk_package_and_a_charity_extract(demo_ws, tmp_path):
    folder = tmp_path / "inputs"
    demo.write_demo_inputs(folder)
    export(demo_ws, "groups", folder / "directory", fmt="oruk")
    postcodes = list(demo_ws.read_layer("postcodes")["postcode"][:2])
    _charity_file(folder / "publicextract.charity.txt", postcodes)
    plan = plan_build(folder)
    kinds = {d.path.name: (d.kind, d.detail) for d in plan.registers}
    assert kinds["directory"][0] == "groups" and "Open Referral UK" in kinds["directory"][1]
    assert kinds["publicextract.charity.txt"][0] == "groups"
    ws = Workspace(tmp_path / "ws")
    report = build(folder, ws)
    groups = overlay.read_layer(ws, "groups")
    by_file = groups.groupby("source_file").size().to_dict()
    assert by_file == {"directory": 80, "publicextract.charity.txt": 1}
    charity = groups[groups["source_file"] == "publicextract.charity.txt"].iloc[0]
    assert charity["group_id"] == "charity:1190001"
    assert charity["borough_code"] == "E09000099"
    charity_import = next(i for i in report.points if i.extra["file"].startswith("public"))
    assert len(charity_import.frame) + len(charity_import.rejected) == charity_import.rows_read
    assert set(groups[groups["source_file"] == "directory"]["group_id"]) == set(
        overlay.read_layer(demo_ws, "groups")["group_id"])
    prov = ws.provenance()
    assert len(prov[(prov["layer"] == "groups")]) == 2
    assert all(len(h) == 64 for h in prov["source_sha256"])


def test_import_of_a_package_folder_through_the_cli(demo_ws, demo_copy, tmp_path, capsys):
    package = tmp_path / "pkg"
    export(demo_ws, "groups", package, fmt="oruk", include_personal_data=True)
    ws = demo_copy  # the demo, as `mapper demo` makes it (tests/test_cli.py tests that)
    assert main(["--workspace", str(ws), "import", str(package)]) == 0
    out = capsys.readouterr().out
    assert "Imported 80 of 80 rows into layer 'groups'" in out
    groups = overlay.read_layer(Workspace(ws), "groups")
    assert sorted(groups["source_file"].unique()) == ["demo_groups.geojson", "pkg"]
    assert groups[groups["source_file"] == "pkg"]["email"].notna().sum() > 0
    # the same services from two sources are flagged as likely duplicates, not merged
    assert groups[groups["source_file"] == "pkg"]["duplicate_of"].notna().all()


def test_export_cli_respects_filters_and_personal_data(demo_ws, tmp_path, capsys):
    ward = overlay.read_layer(demo_ws, "groups")["ward_code"].value_counts().index[0]
    out = tmp_path / "ward.geojson"
    code = main(["--workspace", str(demo_ws.directory), "export", "groups", "-o", str(out),
                 "--ward", ward])
    assert code == 0
    text = capsys.readouterr().out
    assert "contact details left out" in text
    assert "@example.org" not in out.read_text()
    code = main(["--workspace", str(demo_ws.directory), "export", "groups", "-o",
                 str(tmp_path / "x.xlsx")])
    assert code == 1
    assert "cannot tell the export format" in capsys.readouterr().err


def test_skip_invalid_through_the_cli(demo_ws, demo_copy, tmp_path, capsys):
    ws = demo_copy  # the demo, as `mapper demo` makes it (tests/test_cli.py tests that)
    known = Workspace(ws).read_layer("postcodes")["postcode"].iloc[0]
    bad = tmp_path / "venues.csv"
    bad.write_text(f"name,postcode\nGood Hall,{known}\nBad Hall,ZZ99 9ZZ\n")
    capsys.readouterr()
    assert main(["--workspace", str(ws), "import", str(bad), "--as", "premises",
                 "--strict"]) == 1
    err = capsys.readouterr().err
    assert "1 invalid row in venues.csv; the file was not imported" in err
    assert "row 3 column 'postcode': 'ZZ99 9ZZ': postcode not found" in err
    # one of two rows failing (50%, over 20%) holds the file back
    assert main(["--workspace", str(ws), "import", str(bad), "--as", "premises"]) == 1
    assert "venues.csv was held back" in capsys.readouterr().err
    assert main(["--workspace", str(ws), "import", str(bad), "--as", "premises",
                 "--skip-invalid"]) == 0
    out = capsys.readouterr().out
    assert "rejected: 1 row: postcode not found" in out and "(column 'postcode'; row 3)" in out
    assert "ZZ99" not in out  # reasons and row numbers, never the values
    assert "Imported 1 of 2 rows into layer 'premises'." in out
    premises = overlay.read_layer(Workspace(ws), "premises")
    assert "Good Hall" in set(premises["name"]) and "Bad Hall" not in set(premises["name"])


def test_the_build_plan_counts_one_row_as_one_row(tmp_path):
    """A one-feature file reads "1 row", as a person would write it (not "1 rows")."""
    import factories as fx
    import geopandas as gpd
    from shapely.geometry import Point

    from mapper.pipeline import build, describe_plan, plan_build
    from mapper.store import Workspace

    folder = fx.write_folder(tmp_path / "in")
    hall = fx.wards().geometry.iloc[4].centroid
    fx.write_geojson(gpd.GeoDataFrame(
        {"osm_id": ["123"], "name": ["Grid Hall"], "amenity": ["community_centre"]},
        geometry=[Point(hall.x, hall.y)], crs="EPSG:27700"), folder / "hall.geojson")
    lines = describe_plan(plan_build(folder))
    hall_line = next(line for line in lines if line.startswith("  hall.geojson:"))
    assert hall_line.endswith("; 1 row -> layer 'premises'"), hall_line
    assert any(line.endswith("; 9 rows -> layer 'wards'") for line in lines)
    said: list[str] = []
    build(folder, Workspace(tmp_path / "ws"), progress=said.append)
    assert any(s.endswith("reading hall.geojson (1 row) as community premises") for s in said)
    assert "  writing layer 'premises' (1 row)" in said
    # premises but no groups: the header's Register link opens the premises register, and
    # the groups register says what to do rather than listing layers
    from accounts import sign_in

    from mapper.web import create_app

    officer = sign_in(create_app({"TESTING": True, "WORKSPACE": str(tmp_path / "ws")})
                      .test_client(), "officer")
    assert officer.get("/register").headers["Location"].endswith("/register/premises")
    assert "Grid Hall" in officer.get("/register/premises").get_data(as_text=True)
    page = " ".join(officer.get("/register/groups").get_data(as_text=True).split())
    assert "no register of voluntary and community groups yet" in page
    assert "The workspace has registers of community premises." in page
