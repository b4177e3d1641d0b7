"""Importers: detection from content, every format and CRS, and one test per validation rule."""

from __future__ import annotations

import json
import zipfile

import factories as fx
import numpy as np
import pytest
from shapely.geometry import Polygon, box

from mapper.errors import DataValidationError, MapperError
from mapper.pipeline import build, import_file, plan_build
from mapper.sources import Skipped, detect_file
from mapper.sources.codes import column_vintage, dominant_kind
from mapper.store import Workspace


def read_one(path, workspace=None):
    """Detect and import a single file into a fresh workspace; return the Imported."""
    return import_file(path, workspace or Workspace(path.parent / "ws"))


def problems_of(excinfo) -> str:
    return str(excinfo.value)


# -- detection -----------------------------------------------------------------------


def test_column_vintage_reads_any_ons_suffix():
    assert column_vintage("WD18CD") == ("ward", "2018", "CD")
    assert column_vintage("wd25cd") == ("ward", "2025", "CD")
    assert column_vintage("LAD22NM") == ("lad", "2022", "NM")
    assert column_vintage("LSOA21CD") == ("lsoa", "2021", "CD")
    assert column_vintage("LTLA22CD") == ("lad", "2022", "CD")
    assert column_vintage("GSS_CODE") == (None, None, None)


def test_kind_is_detected_from_content_not_name(tmp_path):
    # A ward file named like an LSOA file, with GLA-style columns and no year anywhere.
    gla = fx.wards().rename(
        columns={
            "WD22CD": "GSS_CODE",
            "WD22NM": "NAME",
            "LAD22CD": "LB_GSS_CD",
            "LAD22NM": "BOROUGH",
        }
    )
    path = fx.write_geojson(gla, tmp_path / "lsoa_boundaries.geojson")
    found = detect_file(path)
    assert found.kind == "wards"
    assert found.vintage == "unknown"
    assert found.columns["code"] == "GSS_CODE" and found.columns["name"] == "NAME"
    imported = read_one(path)
    assert list(imported.frame["ward_name"][:2]) == ["Ward 1", "Ward 2"]
    assert set(imported.frame["borough_code"]) == {b for b, _ in fx.BOROUGHS}
    assert set(imported.frame["borough_name"]) == {n for _, n in fx.BOROUGHS}


@pytest.mark.parametrize(
    ("frame", "kind", "vintage"),
    [
        (fx.wards(), "wards", "2022"),
        (fx.boroughs(), "boroughs", "2022"),
        (fx.lsoas("21"), "lsoas", "2021"),
        (fx.lsoas("11"), "lsoas", "2011"),
    ],
)
def test_boundary_kinds_and_vintages(tmp_path, frame, kind, vintage):
    found = detect_file(fx.write_geojson(frame, tmp_path / "x.geojson"))
    assert (found.kind, found.vintage, found.rows) == (kind, vintage, len(frame))


def test_unrecognised_files_are_skipped_with_a_reason(tmp_path):
    (tmp_path / "notes.md").write_text("hello")
    fx.write_csv(tmp_path / "things.csv", ["a", "b"], [["1", "2"]])
    (tmp_path / "broken.gpkg").write_bytes(b"\x00\x01 not a geopackage")
    reasons = {p.name: detect_file(p) for p in tmp_path.iterdir()}
    assert all(isinstance(r, Skipped) for r in reasons.values())
    assert "not a data file" in reasons["notes.md"].reason
    assert "Columns: a, b" in reasons["things.csv"].reason
    assert (
        "GDAL cannot read" in reasons["broken.gpkg"].reason
        or "binary" in reasons["broken.gpkg"].reason
    )


def test_dominant_kind_needs_a_majority():
    import pandas as pd

    assert dominant_kind(pd.Series(["E05000001", "E05000002", "x"])) == "ward"
    assert dominant_kind(pd.Series(["a", "b", "E05000001"])) is None


# -- formats and coordinate systems ------------------------------------------------------


def _ward_codes(imported):
    return sorted(imported.frame["ward_code"])


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "zip"])
def test_every_vector_format_gives_the_same_wards(tmp_path, fmt):
    wards = fx.wards()
    if fmt == "geojson":
        path = fx.write_geojson(wards, tmp_path / "w.geojson")
    elif fmt == "gpkg":
        path = tmp_path / "w.gpkg"
        wards.to_file(path, layer="wards", driver="GPKG")
    else:
        shp_dir = tmp_path / "shp"
        shp_dir.mkdir()
        wards.to_file(shp_dir / "w.shp")
        path = shp_dir / "w.shp"
        if fmt == "zip":
            path = tmp_path / "w.zip"
            with zipfile.ZipFile(path, "w") as archive:
                for part in shp_dir.iterdir():
                    archive.write(part, f"Wards_Dec_2022/{part.name}")
    imported = read_one(path)
    assert _ward_codes(imported) == [f"E0590000{n}" for n in range(1, 10)]
    assert imported.frame.crs.to_epsg() == 27700
    assert imported.frame.geometry.area.sum() == pytest.approx(9e6, rel=1e-6)


def test_any_crs_is_reprojected_to_british_national_grid(tmp_path):
    path = tmp_path / "mercator.gpkg"
    fx.wards().to_crs("EPSG:3857").to_file(path, driver="GPKG")
    imported = read_one(path)
    assert imported.frame.total_bounds == pytest.approx(
        [530_000, 180_000, 533_000, 183_000], abs=0.01
    )


def test_missing_crs_in_bng_is_inferred_with_a_warning(tmp_path):
    (tmp_path / "shp").mkdir()
    fx.wards().to_file(tmp_path / "shp" / "w.shp")
    (tmp_path / "shp" / "w.prj").unlink()
    imported = read_one(tmp_path / "shp" / "w.shp")
    assert any(
        "no coordinate reference system declared" in str(w) and "EPSG:27700" in str(w)
        for w in imported.warnings
    )
    assert imported.frame.geometry.area.sum() == pytest.approx(9e6)


def test_missing_crs_with_ambiguous_coordinates_is_an_error(tmp_path):
    (tmp_path / "shp").mkdir()
    # small numbers that are neither UK longitude/latitude nor British National Grid metres
    odd = fx.wards()
    odd["geometry"] = odd.geometry.translate(-531_000, -181_000)
    odd.to_file(tmp_path / "shp" / "w.shp")
    (tmp_path / "shp" / "w.prj").unlink()
    with pytest.raises(MapperError, match="declares no coordinate reference system"):
        read_one(tmp_path / "shp" / "w.shp")


# -- validation rules (one test each) --------------------------------------------------------


def test_rule_iod_file_without_some_domains_is_read_with_the_rest(tmp_path):
    header = [h for h in fx.IOD_COLUMNS if not h.startswith("Crime ")]
    rows = [
        [v for h, v in zip(fx.IOD_COLUMNS, r, strict=True) if not h.startswith("Crime ")]
        for r in fx.iod_rows(["E01900001"])
    ]
    path = fx.write_iod(tmp_path / "iod.csv", [], header=header, rows=rows)
    assert "Barriers, Living Environment" in detect_file(path).detail
    assert ", Crime," not in detect_file(path).detail
    frame = read_one(path).frame
    assert "crime_score" not in frame and frame["barriers_rank"].tolist() == [100]


def test_rule_duplicate_codes(tmp_path):
    wards = fx.wards()
    wards.loc[4, "WD22CD"] = "E05900001"
    with pytest.raises(DataValidationError) as err:
        read_one(fx.write_geojson(wards, tmp_path / "w.geojson"))
    assert (
        "w.geojson feature 5 column 'WD22CD': 'E05900001': duplicate code (also at feature 1)"
    ) in problems_of(err)


def test_rule_code_of_the_wrong_kind(tmp_path):
    wards = fx.wards()
    wards.loc[2, "WD22CD"] = "E01000001"
    with pytest.raises(DataValidationError) as err:
        read_one(fx.write_geojson(wards, tmp_path / "w.geojson"))
    assert (
        "feature 3 column 'WD22CD': 'E01000001': a LSOA (E01) code; expected a electoral "
        "ward (E05) code"
    ) in problems_of(err)


def test_rule_invalid_geometry_is_repaired_and_counted(tmp_path):
    wards = fx.wards()
    x, y = fx.X0, fx.Y0  # a bow-tie over ward 1: self-intersecting, same footprint extent
    wards.loc[0, "geometry"] = Polygon([(x, y), (x + 1000, y + 1000), (x + 1000, y), (x, y + 1000)])
    imported = read_one(fx.write_geojson(wards, tmp_path / "w.geojson"))
    assert any("1 invalid polygon" in str(w) and "repaired" in str(w) for w in imported.warnings)
    assert imported.frame.geometry.is_valid.all()
    assert imported.frame.geometry.iloc[0].area == pytest.approx(500_000, rel=1e-3)


def test_rule_empty_geometry(tmp_path):
    path = fx.write_geojson(fx.wards(), tmp_path / "w.geojson")
    data = json.loads(path.read_text())
    data["features"][2]["geometry"] = None
    data["features"][6]["geometry"] = {"type": "Polygon", "coordinates": []}
    path.write_text(json.dumps(data))
    with pytest.raises(DataValidationError) as err:
        read_one(path)
    assert "w.geojson feature 3: empty geometry; expected a polygon" in problems_of(err)
    assert "w.geojson feature 7: empty geometry; expected a polygon" in problems_of(err)


def test_rule_nan_or_infinite_coordinates(tmp_path):
    fx.write_folder(tmp_path / "in")
    path = tmp_path / "in" / "postcodes.csv"
    lines = path.read_text().splitlines()
    lines[2] = (
        lines[2].replace(",10,", ",10,nan,", 1).rsplit(",", 4)[0] + ",180250,E09900001,E05900001"
    )
    lines[3] = ",".join(lines[3].split(",")[:2] + ["inf"] + lines[3].split(",")[3:])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataValidationError) as err:
        build(tmp_path / "in", Workspace(tmp_path / "ws"))
    text = problems_of(err)
    assert "postcodes.csv row 3 column 'Eastings': 'nan': not a number" in text
    assert "postcodes.csv row 4 column 'Eastings': 'inf': out of range" in text


def test_rule_latitude_and_longitude_swapped(tmp_path):
    wards = fx.wards().to_crs("EPSG:4326")
    wards["geometry"] = wards.geometry.map(
        lambda g: Polygon([(y, x) for x, y in g.exterior.coords])
    )
    path = tmp_path / "swapped.geojson"
    wards.to_file(path, driver="GeoJSON")
    with pytest.raises(MapperError, match="latitude and longitude look swapped"):
        read_one(path)


def test_rule_features_outside_the_study_area(tmp_path):
    ws = Workspace(tmp_path / "ws")
    build(fx.write_folder(tmp_path / "in"), ws)
    far = fx.wards()
    far.loc[8, "geometry"] = box(400_000, 300_000, 401_000, 301_000)  # Midlands
    imported = import_file(fx.write_geojson(far, tmp_path / "w.geojson"), ws)
    assert len(imported.frame) == 8
    assert any("1 of 9 features lie outside the study area" in str(w) for w in imported.warnings)
    far["geometry"] = far.geometry.translate(-100_000, 100_000)
    with pytest.raises(DataValidationError, match="none of its 9 features lies inside"):
        import_file(fx.write_geojson(far, tmp_path / "w2.geojson"), ws)


def test_rule_mismatched_vintages_report_the_join_rate(tmp_path):
    folder = fx.write_folder(tmp_path / "in")
    lsoa21 = fx.lsoas("21")
    lsoa21.loc[:8, "LSOA21CD"] = [f"E0199{n:04d}" for n in range(9)]  # 9 LSOAs re-coded in 2021
    (folder / "lsoas.geojson").unlink()
    fx.write_geojson(lsoa21.drop(columns=["ward", "borough"]), folder / "lsoas21.geojson")
    with pytest.raises(DataValidationError) as err:
        build(folder, Workspace(tmp_path / "ws"))
    text = problems_of(err)
    assert "mismatched vintages" in text
    assert "2011 LSOAs" in text and "LSOA boundaries are 2021" in text
    assert "27 of 36 LSOA boundaries (75.0%) have a score" in text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_rule_encodings(tmp_path, encoding):
    fx.write_folder(tmp_path / "in")
    rows = [
        [f"E0190{n:04d}", "Grid", f"E0590000{(n - 1) % 9 + 1}", "Bow Common – St Mary’s"]
        for n in range(1, 37)
    ]
    fx.write_csv(
        tmp_path / "in" / "lookup.csv",
        ["LSOA11CD", "LSOA11NM", "WD19CD", "WD19NM"],
        rows,
        encoding=encoding,
    )
    ws = Workspace(tmp_path / "ws")
    build(tmp_path / "in", ws)
    names = set(ws.read_layer("lsoa_ward_lookup")["ward_name"])
    assert names == {"Bow Common – St Mary’s"}


def test_every_problem_in_every_file_is_reported_at_once(tmp_path):
    folder = fx.write_folder(tmp_path / "in")
    wards = fx.wards()
    wards.loc[1, "WD22CD"] = "E05900001"
    wards.loc[2, "WD22CD"] = "E09000001"
    fx.write_geojson(wards, folder / "wards.geojson")
    rows = fx.iod_rows([f"E0190{n:04d}" for n in range(1, 37)])
    rows[0][4] = "lots"
    rows[5][6] = "11"
    fx.write_iod(folder / "iod.csv", [], rows=rows)
    with pytest.raises(DataValidationError) as err:
        build(folder, Workspace(tmp_path / "ws"))
    text = problems_of(err)
    assert len(err.value.problems) == 4
    assert "wards.geojson feature 2 column 'WD22CD': 'E05900001': duplicate code" in text
    assert "wards.geojson feature 3 column 'WD22CD': 'E09000001': a local authority" in text
    assert "iod.csv row 2 column 'Index of Multiple Deprivation (IMD) Score': 'lots'" in text
    assert "iod.csv row 7 column 'Index of Multiple Deprivation (IMD) Decile" in text
    assert "from 1 to 10" in text


# -- deprivation, lookups, population, postcodes ------------------------------------------


def test_iod2019_keeps_every_domain_and_denominator(tmp_path):
    path = fx.write_iod(tmp_path / "iod.csv", ["E01900001", "E01900002"])
    found = detect_file(path)
    assert found.vintage == "IoD2019 / LSOA 2011"
    frame = read_one(path).frame
    for domain in [
        "imd",
        "income",
        "employment",
        "education",
        "health",
        "crime",
        "barriers",
        "living_environment",
        "idaci",
        "idaopi",
        "children_young_people",
        "adult_skills",
        "geographical_barriers",
        "wider_barriers",
        "indoors",
        "outdoors",
    ]:
        assert {f"{domain}_score", f"{domain}_rank", f"{domain}_decile"} <= set(frame.columns)
    assert {
        "pop_total",
        "pop_children_0_15",
        "pop_16_59",
        "pop_older_60_plus",
        "pop_working_age",
    } <= set(frame.columns)
    assert frame["imd_score"].tolist() == [40.0, 39.5]
    assert frame["imd_rank"].tolist() == [100, 101]


def test_iod2025_release_is_detected_from_headers(tmp_path):
    header = [
        h.replace("(2011)", "(2021)")
        .replace("District code (2019)", "District code (2024)")
        .replace("mid 2015 (excluding prisoners)", "mid 2022")
        for h in fx.IOD_COLUMNS
    ]
    header[-1] = (
        "Working age population 18-66 (for use with Employment Deprivation Domain): mid 2022"
    )
    path = fx.write_iod(tmp_path / "iod25.csv", ["E01900001"], header=header)
    found = detect_file(path)
    assert found.vintage == "IoD2025 / LSOA 2021"
    assert found.extra["lsoa_vintage"] == "2021"
    assert read_one(path).frame["pop_working_age"].tolist() == [950.0]


def test_lookup_of_any_vintage(tmp_path):
    path = fx.write_csv(
        tmp_path / "l.csv",
        ["LSOA21CD", "LSOA21NM", "WD22CD", "WD22NM", "LTLA22CD", "LTLA22NM"],
        [["E01900001", "a", "E05900001", "Ward 1", "E09900001", "Southfield"]],
    )
    found = detect_file(path)
    assert (found.kind, found.vintage) == ("lsoa_ward_lookup", "LSOA 2021 -> ward 2022")
    assert read_one(path).frame.iloc[0].to_dict() == {
        "lsoa_code": "E01900001",
        "lsoa_name": "a",
        "ward_code": "E05900001",
        "ward_name": "Ward 1",
        "borough_code": "E09900001",
        "borough_name": "Southfield",
    }


@pytest.mark.parametrize("style", ["legacy", "2025"])
def test_onspd_headers_both_styles_drop_terminated_and_gridless(tmp_path, style):
    names = (
        ["pcd", "pcds", "doterm", "oslaua", "osward", "oseast1m", "osnrth1m", "osgrdind", "lsoa11"]
        if style == "legacy"
        else [
            "pcd7",
            "pcds",
            "doterm",
            "lad25cd",
            "wd25cd",
            "east1m",
            "north1m",
            "gridind",
            "lsoa21cd",
        ]
    )
    rows = [
        ["ZZ1 1AA", "ZZ1 1AA", "", "E09900001", "E05900001", "530100", "180100", "1", "E01900001"],
        [
            "ZZ1 1AB",
            "ZZ1 1AB",
            "202001",
            "E09900001",
            "E05900001",
            "530200",
            "180200",
            "1",
            "E01900001",
        ],
        ["ZZ1 1AD", "ZZ1 1AD", "", "", "", "", "", "9", ""],
    ]
    path = fx.write_csv(tmp_path / "onspd.csv", names, rows)
    found = detect_file(path)
    assert found.kind == "postcodes" and style in found.detail
    imported = read_one(path)
    assert imported.frame["postcode"].tolist() == ["ZZ1 1AA"]
    assert imported.frame.geometry.iloc[0].coords[0] == (530100, 180100)
    assert imported.frame["lsoa_code"].tolist() == ["E01900001"]
    notes = " ".join(map(str, imported.warnings))
    assert "1 terminated postcodes left out" in notes and "1 postcodes without a grid" in notes


def test_headerless_codepoint_open(tmp_path):
    path = tmp_path / "zz.csv"
    path.write_text(
        '"ZZ1 1AA",10,530100,180100,"E92000001","","","","E09900001","E05900001"\n'
        '"ZZ1 1AB",10,530200,180200,"E92000001","","","","E09900001","E05900002"\n'
    )
    imported = read_one(path)
    assert imported.frame["postcode"].tolist() == ["ZZ1 1AA", "ZZ1 1AB"]
    assert imported.frame["ward_code"].tolist() == ["E05900001", "E05900002"]


# -- the build ----------------------------------------------------------------------------


def test_build_chooses_lsoa_vintage_matching_deprivation(tmp_path):
    folder = fx.write_folder(tmp_path / "in")
    fx.write_geojson(fx.lsoas("21").drop(columns=["ward", "borough"]), folder / "lsoa21.geojson")
    plan = plan_build(folder)
    assert plan.chosen["lsoas"].path.name == "lsoas.geojson"
    skipped = {s.name: s.reason for s in plan.skipped}
    assert "matches the deprivation file" in skipped["lsoa21.geojson"]


def test_build_writes_every_layer_with_provenance(tmp_path):
    ws = Workspace(tmp_path / "ws")
    build(fx.write_folder(tmp_path / "in"), ws)
    assert set(ws.layers()) == {
        "boroughs",
        "wards",
        "lsoas",
        "deprivation",
        "lsoa_ward_lookup",
        "population",
        "postcodes",
    }
    prov = ws.provenance().set_index("layer")
    assert prov.loc["wards", "source_file"] == "wards.geojson"
    assert prov.loc["wards", "vintage"] == "2022"
    assert prov.loc["deprivation", "rows_imported"] == 36
    assert "Open Government Licence" in prov.loc["lsoas", "licence"]
    assert "Crown copyright" in prov.loc["lsoas", "attribution"]
    assert len(prov.loc["postcodes", "source_sha256"]) == 64
    assert ws.meta()["study_area"] == "Middleton, Northbrook and Southfield"
    wards = ws.read_layer("wards")
    assert wards.crs.to_epsg() == 27700
    assert np.allclose(wards.geometry.area, 1e6)
