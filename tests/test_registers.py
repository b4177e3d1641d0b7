"""Point registers: generic files, geocoding, validation counts, areas, duplicates, exports."""

from __future__ import annotations

import json

import factories as fx
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from mapper import overlay, registers
from mapper.areas import area_of_points
from mapper.duplicates import flag_duplicates, normalise_name
from mapper.errors import DataValidationError, MapperError
from mapper.exports import export
from mapper.pipeline import build, import_file
from mapper.store import Workspace


@pytest.fixture
def ws(grid_copy):
    """The tiny grid workspace (9 wards, 36 LSOAs, 36 postcodes ZZ...)."""
    return Workspace(grid_copy)


def postcodes(ws):
    return ws.read_layer("postcodes")


def write_groups(
    path, rows, header=("name", "category", "postcode", "latitude", "longitude", "phone", "email")
):
    return fx.write_csv(path, list(header), rows)


def test_generic_groups_by_coordinates_postcode_and_areas(ws, tmp_path):
    pc = postcodes(ws).iloc[0]
    lon, lat = gpd.GeoSeries([Point(530_250, 180_250)], crs=27700).to_crs(4326).iloc[0].coords[0]
    path = write_groups(
        tmp_path / "groups.csv",
        [
            [
                "Bow Food Bank",
                "Food",
                "",
                f"{lat:.6f}",
                f"{lon:.6f}",
                "020 7946 0001",
                "a@example.org",
            ],
            ["Grid Youth Club", "youth", pc["postcode"].lower().replace(" ", ""), "", "", "", ""],
        ],
    )
    imported = import_file(path, ws)
    frame = overlay.read_layer(ws, "groups")
    assert len(frame) == 2 and imported.rows_read == 2 and not imported.rejected
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["category"] == "food" and second["category"] == "youth"
    assert first.geometry.distance(Point(530_250, 180_250)) < 0.2  # 6 decimals ~ 0.1 m
    assert (first["lsoa_code"], first["ward_code"], first["borough_code"]) == (
        "E01900001",
        "E05900001",
        "E09900001",
    )
    assert second["location_source"] == "postcode centroid"
    assert second.geometry.equals(pc.geometry)
    assert second["postcode"] == pc["postcode"]
    assert first["source_file"] == "groups.csv" and first["source_row"] == 2
    assert first["group_id"] == "groups:groups:2"


def test_all_or_nothing_then_skip_invalid_lists_every_row(ws, tmp_path):
    lon, lat = gpd.GeoSeries([Point(530_500, 180_500)], crs=27700).to_crs(4326).iloc[0].coords[0]
    path = write_groups(
        tmp_path / "bad.csv",
        [
            ["Good", "youth", "", f"{lat}", f"{lon}", "", ""],
            ["Swapped", "youth", "", "-0.1305", "51.4969", "", ""],
            ["Not a number", "youth", "", "north", "-0.13", "", ""],
            ["Unknown postcode", "youth", "ZZ9 9ZZ", "", "", "", ""],
            ["Nowhere", "youth", "", "", "", "", ""],
            ["Bad postcode", "youth", "not a postcode", "", "", "", ""],
        ],
    )
    with pytest.raises(DataValidationError) as err:
        import_file(path, ws, strict=True)
    text = str(err.value)
    assert "5 invalid rows in bad.csv; the file was not imported (--strict" in text
    assert "bad.csv row 3 column 'latitude': '-0.1305': latitude" in text and "swapped" in text
    assert "row 4 column 'latitude': 'north': latitude is not a number" in text
    assert "row 5 column 'postcode': 'ZZ9 9ZZ': postcode not found" in text
    assert "row 6: no location: no coordinates and no postcode" in text
    assert "row 7 column 'postcode': 'not a postcode': not a UK postcode" in text
    assert not ws.has_layer("groups")
    # without --strict: 5 of 6 rows failing is more than 20%, so the file is held back
    with pytest.raises(DataValidationError, match=r"5 of 6 rows \(83%\) cannot be used"):
        import_file(path, ws)
    assert not ws.has_layer("groups")
    imported = import_file(path, ws, skip_invalid=True)
    assert len(imported.frame) + len(imported.rejected) == imported.rows_read == 6
    assert [p.row for p in imported.rejected] == [3, 4, 5, 6, 7]


def test_points_outside_the_study_area_are_rejected_with_the_reason(ws, tmp_path):
    path = write_groups(
        tmp_path / "far.csv",
        [
            ["Here", "youth", "", "51.4969", "-0.1305", "", ""],
            ["Edinburgh", "youth", "", "55.9533", "-3.1883", "", ""],
        ],
    )
    lon, lat = gpd.GeoSeries([Point(531_500, 181_500)], crs=27700).to_crs(4326).iloc[0].coords[0]
    path = write_groups(
        tmp_path / "far.csv",
        [
            ["Here", "youth", "", f"{lat}", f"{lon}", "", ""],
            ["Edinburgh", "youth", "", "55.9533", "-3.1883", "", ""],
        ],
    )
    # one of two points outside the study area: held back, unless --skip-invalid
    with pytest.raises(DataValidationError, match="1 outside the study area"):
        import_file(path, ws)
    imported = import_file(path, ws, skip_invalid=True)
    assert len(imported.frame) == 1
    assert [p.message for p in imported.rejected] == [
        "outside the study area (Middleton, Northbrook and Southfield)"
    ]


def test_register_is_taken_from_columns_and_as_overrides(ws, tmp_path):
    x, y = 530_100, 180_100
    inc = fx.write_csv(
        tmp_path / "log.csv",
        ["date", "type", "easting", "northing", "severity"],
        [["31/05/2024", "Community tension", str(x), str(y), "2"]],
    )
    assert import_file(inc, ws).kind == "incidents"
    row = overlay.read_layer(ws, "incidents").iloc[0]
    assert (row["date"], row["month"], row["type"]) == (
        "2024-05-31",
        "2024-05",
        "Community tension",
    )
    hall = fx.write_csv(
        tmp_path / "halls.csv",
        ["name", "capacity", "easting", "northing"],
        [["St Anne's Hall", "120", str(x), str(y)]],
    )
    assert import_file(hall, ws).kind == "premises"
    plain = fx.write_csv(
        tmp_path / "venues.csv", ["name", "easting", "northing"], [["Grid Hall", str(x), str(y)]]
    )
    assert import_file(plain, ws, register="premises").kind == "premises"
    assert set(overlay.read_layer(ws, "premises")["name"]) == {"St Anne's Hall", "Grid Hall"}


def test_reimporting_a_file_replaces_its_rows_and_keeps_others(ws, tmp_path):
    a = write_groups(tmp_path / "a.csv", [["One", "youth", "", "51.4969", "-0.1305", "", ""]])
    lon, lat = gpd.GeoSeries([Point(530_500, 180_500)], crs=27700).to_crs(4326).iloc[0].coords[0]
    rows = [[n, "youth", "", f"{lat}", f"{lon}", "", ""] for n in ("One", "Two")]
    a = write_groups(tmp_path / "a.csv", rows[:1])
    b = write_groups(tmp_path / "b.csv", [["Three", "food", "", f"{lat}", f"{lon}", "", ""]])
    import_file(a, ws)
    import_file(b, ws)
    write_groups(a, rows)
    import_file(a, ws)
    frame = overlay.read_layer(ws, "groups")
    assert sorted(frame["name"]) == ["One", "Three", "Two"]
    prov = ws.provenance()
    assert sorted(prov[prov["layer"] == "groups"]["source_file"]) == ["a.csv", "b.csv"]


def test_categories_outside_the_vocabulary_become_other_with_a_warning(ws, tmp_path):
    lon, lat = gpd.GeoSeries([Point(530_500, 180_500)], crs=27700).to_crs(4326).iloc[0].coords[0]
    path = write_groups(
        tmp_path / "g.csv", [["X", "Knitting circle", "", f"{lat}", f"{lon}", "", ""]]
    )
    imported = import_file(path, ws)
    assert imported.frame["category"].tolist() == ["other"]
    assert any(
        "'Knitting circle' (1)" in str(w) and "categories.csv" in str(w) for w in imported.warnings
    )


def test_category_mapping_is_editable_data(tmp_path):
    mapping = tmp_path / "categories.csv"
    mapping.write_text(
        "source,field,value,register,category\n"
        "mine,kind,soup kitchen,groups,food\nmine,kind,*,groups,other\n"
    )
    got = registers.map_categories(
        pd.Series(["Soup Kitchen", "choir"]),
        source="mine",
        field="kind",
        register="groups",
        path=mapping,
    )
    assert got.tolist() == ["food", "other"]
    shipped = pd.read_csv(registers.CATEGORY_MAP_FILE, comment="#")
    for register, vocab in (
        ("groups", registers.GROUP_CATEGORIES),
        ("premises", registers.PREMISES_TYPES),
    ):
        used = set(shipped[shipped["register"] == register]["category"])
        assert used <= set(vocab), used - set(vocab)


# -- point in polygon --------------------------------------------------------------------


def test_points_on_a_shared_edge_go_to_the_lowest_code():
    wards = fx.wards().rename(columns={"WD22CD": "ward_code"})
    pts = gpd.GeoSeries(
        [
            Point(531_000, 180_500),  # edge of wards 1 and 2
            Point(531_000, 181_000),  # corner of wards 1, 2, 4, 5
            Point(532_500, 182_500),  # inside ward 9
            Point(600_000, 100_000),
        ],
        crs=27700,
    )  # nowhere
    got = area_of_points(pts, wards, "ward_code")
    assert got.tolist()[:3] == ["E05900001", "E05900001", "E05900009"]
    assert pd.isna(got.iloc[3])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(529_500, 533_500), st.floats(179_500, 183_500)), min_size=1, max_size=40
    ),
    st.randoms(),
)
def test_point_in_ward_matches_brute_force(coords, rnd):
    wards = fx.wards().rename(columns={"WD22CD": "ward_code"})
    order = list(range(len(wards)))
    rnd.shuffle(order)
    wards = wards.iloc[order]  # row order must not matter
    pts = gpd.GeoSeries([Point(x, y) for x, y in coords], crs=27700)
    got = area_of_points(pts, wards, "ward_code")
    for point, code in zip(pts, got, strict=True):
        hits = sorted(
            c
            for c, g in zip(wards["ward_code"], wards.geometry, strict=True)
            if g.intersects(point)
        )
        assert (hits[0] if hits else None) == (None if pd.isna(code) else code)


# -- duplicates ------------------------------------------------------------------------------


def test_duplicates_are_flagged_not_merged():
    frame = registers.conform(
        pd.DataFrame(
            {
                "group_id": ["a:1", "b:7", "c:3", "d:4", "e:5"],
                "name": ["The Bow Food Bank Ltd", "Bow food-bank", "Bow Food Bank", "Other", "Far"],
                "charity_number": ["1188192", None, "1188192", None, None],
                "source_file": ["a.csv", "b.csv", "c.csv", "d.csv", "e.csv"],
            }
        ),
        "groups",
        [Point(0, 0), Point(30, 0), Point(200, 0), Point(10, 0), Point(0, 60)],
    )
    frame.loc[4, "name"] = "Bow Food Bank"
    out = flag_duplicates(frame, "groups")
    assert len(out) == 5
    assert out["duplicate_of"].tolist()[:4] == [None, "a:1", "a:1", None] or list(
        out["duplicate_of"].fillna("-")
    )[:4] == ["-", "a:1", "a:1", "-"]
    assert out.loc[2, "duplicate_reason"] == "same charity number 1188192 within 250 m"
    assert out.loc[1, "duplicate_reason"] == "same name within 50 m"
    assert pd.isna(out.loc[4, "duplicate_of"])  # same name, but 60 m away
    assert normalise_name(pd.Series(["The Bow Food Bank Ltd"])).iloc[0] == "bow food bank"


# -- exports ---------------------------------------------------------------------------------


@pytest.fixture
def with_groups(ws, tmp_path):
    lon, lat = gpd.GeoSeries([Point(530_500, 180_500)], crs=27700).to_crs(4326).iloc[0].coords[0]
    path = write_groups(
        tmp_path / "groups.csv",
        [
            [
                "Bow Food Bank",
                "food",
                "",
                f"{lat:.7f}",
                f"{lon:.7f}",
                "020 7946 0001",
                "person@example.org",
            ],
            ["<script>alert(1)</script>", "youth", "", f"{lat:.7f}", f"{lon:.7f}", "", ""],
        ],
    )
    import_file(path, ws)
    return ws


@pytest.mark.parametrize("suffix", [".csv", ".geojson", ".gpkg"])
def test_exports_carry_provenance_and_leave_out_personal_data(with_groups, tmp_path, suffix):
    out = tmp_path / f"export{suffix}"
    count, _ = export(with_groups, "groups", out)
    assert count == 2
    text = out.read_bytes()
    assert b"person@example.org" not in text and b"7946" not in text
    if suffix == ".csv":
        table = pd.read_csv(out)
        assert "email" not in table.columns and "phone" not in table.columns
        assert table["attribution"].iloc[0] == "Source: groups.csv."
        assert table["longitude"].iloc[0] == pytest.approx(-0.120969, abs=1e-6)
        assert table["easting"].iloc[0] == pytest.approx(530_500, abs=0.2)
        assert table["ward_code"].iloc[0] == "E05900001"
    elif suffix == ".geojson":
        data = json.loads(out.read_text())
        assert data["provenance"][0]["source_file"] == "groups.csv"
        assert data["features"][1]["properties"]["name"] == "<script>alert(1)</script>"
        assert len(data["features"]) == 2
    else:
        layers = dict(pyogrio.list_layers(out))
        assert {"groups", "mapper_layers"} <= set(layers)
        back = pyogrio.read_dataframe(out, layer="groups")
        assert back.crs.to_epsg() == 27700 and "email" not in back.columns


def test_export_with_personal_data_when_asked_and_round_trip(with_groups, tmp_path):
    out = tmp_path / "all.csv"
    export(with_groups, "groups", out, include_personal_data=True)
    assert "person@example.org" in out.read_text()
    other = Workspace(tmp_path / "ws2")
    build(fx.write_folder(tmp_path / "in2"), other)
    import_file(out, other)
    a = overlay.read_layer(with_groups, "groups").sort_values("name")
    b = overlay.read_layer(other, "groups").sort_values("name")
    assert a["name"].tolist() == b["name"].tolist()
    assert a["category"].tolist() == b["category"].tolist()
    assert np.allclose(a.geometry.x, b.geometry.x, atol=0.1)
    assert b["group_id"].tolist() == a["group_id"].tolist()


def test_export_errors_are_clear(with_groups, tmp_path):
    with pytest.raises(MapperError, match="no premises yet"):
        export(with_groups, "premises", tmp_path / "p.csv")
    with pytest.raises(MapperError, match="cannot tell the export format"):
        export(with_groups, "groups", tmp_path / "p.xlsx")
    with pytest.raises(MapperError, match="no groups in borough E09000001"):
        export(with_groups, "groups", tmp_path / "p.csv", borough="E09000001")


def test_repeated_ids_in_a_file_are_invalid_rows(ws, tmp_path):
    x, y = 530_100, 180_100
    path = fx.write_csv(tmp_path / "p.csv", ["premises_id", "name", "easting", "northing"],
                        [["h1", "Hall", str(x), str(y)], ["h1", "Hall again", str(x), str(y)]])
    with pytest.raises(DataValidationError, match=r"row 3 column 'premises_id': 'h1': duplicate "
                       r"id \(also at row 2\)"):
        import_file(path, ws, strict=True)
