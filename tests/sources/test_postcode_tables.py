"""Postcode tables in the shapes people have them: Code-Point Open with and without its
header, ONSPD/NSPL of any header vintage, and derived postcode lookups (postcode plus
latitude/longitude or eastings/northings, with or without area codes)."""

from __future__ import annotations

import factories as fx
import pytest
from pyproj import Transformer

from mapper.pipeline import import_file
from mapper.sources import Skipped, detect_file
from mapper.store import Workspace

# two points in Leeds, as NSPL gives them (5 decimals), and their grid references
LEEDS = [("LS1 1AA", 53.79603, -1.54906), ("LS101AA", 53.77511, -1.53218)]


def _grid(lat: float, lon: float) -> tuple[float, float]:
    return Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True).transform(lon, lat)


def _import(path):
    return import_file(path, Workspace(path.parent / "ws"))


def test_derived_lookup_with_latitude_longitude_only(tmp_path):
    path = fx.write_csv(
        tmp_path / "postcodes2latlon.csv",
        ["Postcode", "lat", "long"],
        [[pc, f"{lat:.5f}", f"{lon:.5f}"] for pc, lat, lon in LEEDS]
        + [["WF1 1AA", "", "0.00000"], ["WF1 1AB", "99.999999", "0.000000"]],
    )
    found = detect_file(path)
    assert not isinstance(found, Skipped), found
    assert found.kind == "postcodes"
    assert found.detail == "postcode lookup table: postcode with latitude/longitude, no area codes"
    imported = _import(path)
    # NSPL's fixed-width 'LS101AA' normalised to 'LS10 1AA'
    assert imported.frame["postcode"].tolist() == ["LS1 1AA", "LS10 1AA"]
    for point, (_, lat, lon) in zip(imported.frame.geometry, LEEDS, strict=True):
        x, y = _grid(lat, lon)
        assert point.x == pytest.approx(x, abs=0.01) and point.y == pytest.approx(y, abs=0.01)
    assert imported.frame["ward_code"].isna().all()
    notes = " ".join(map(str, imported.warnings))
    assert "2 postcodes without coordinates left out" in notes
    assert "terminated postcodes (if the file has any) cannot be told apart" in notes
    assert (imported.rows_read, len(imported.frame)) == (4, 2)


def test_derived_lookup_with_grid_references_and_area_codes(tmp_path):
    path = fx.write_csv(
        tmp_path / "pc.csv",
        ["postcode_unit", "Easting", "Northing", "lsoa11cd", "wd19cd", "LAD19CD", "pop"],
        [
            ["ZZ1 1AA", "530100", "180100", "E01900001", "E05900001", "E09900001", "12"],
            ["zz11ab", "530600", "180100", "E01900002", "E05900001", "E09900001", "0"],
        ],
    )
    found = detect_file(path)
    assert found.kind == "postcodes"
    assert found.detail == (
        "postcode lookup table: postcode with eastings/northings and district, ward, LSOA codes"
    )
    frame = _import(path).frame
    assert frame["postcode"].tolist() == ["ZZ1 1AA", "ZZ1 1AB"]
    assert [p.coords[0] for p in frame.geometry] == [(530100, 180100), (530600, 180100)]
    assert frame["lsoa_code"].tolist() == ["E01900001", "E01900002"]
    assert frame["ward_code"].tolist() == ["E05900001", "E05900001"]
    assert frame["borough_code"].tolist() == ["E09900001", "E09900001"]


def test_nspl_headers_laua_and_ward_feed_the_area_codes(tmp_path):
    header = ["PCD", "PCD2", "PCDS", "DOINTR", "DOTERM", "USERTYPE", "OSEAST1M", "OSNRTH1M",
              "OSGRDIND", "CTRY", "LAUA", "WARD", "LSOA11", "LSOA21", "LAT", "LONG"]
    rows = [
        ["ZZ1 1AA", "ZZ1  1AA", "ZZ1 1AA", "198001", "", "0", "530100", "180100", "1",
         "E92000001", "E09900001", "E05900001", "E01900001", "E01900011", "51.5", "-0.1"],
        ["ZZ1 1AB", "ZZ1  1AB", "ZZ1 1AB", "198001", "201505", "0", "530200", "180200", "1",
         "E92000001", "E09900001", "E05900001", "E01900001", "E01900011", "51.5", "-0.1"],
    ]
    path = fx.write_csv(tmp_path / "nspl.csv", header, rows)
    found = detect_file(path)
    assert found.detail == "ONS Postcode Directory / NSPL (legacy headers)"
    frame = _import(path).frame
    assert frame["postcode"].tolist() == ["ZZ1 1AA"]
    assert frame.loc[0, ["borough_code", "ward_code", "lsoa_code"]].tolist() == [
        "E09900001", "E05900001", "E01900011"]  # the newest LSOA vintage
    assert frame.geometry.iloc[0].coords[0] == (530100, 180100)  # grid, not lat/long


def test_doogal_style_lookup_with_place_names_and_in_use(tmp_path):
    # the columns of doogal.co.uk's postcode downloads that matter here, in their order
    header = ["Postcode", "In Use?", "Latitude", "Longitude", "Easting", "Northing",
              "Grid Ref", "County", "District", "Ward", "District Code", "Ward Code",
              "Country", "Constituency", "Introduced", "Terminated", "Lower layer super "
              "output area", "Region", "Altitude", "LSOA Code", "Nearest station",
              "Distance to station", "UPRNs", "LSOA21 Code"]
    live = ["LS1 1AA", "Yes", "53.79603", "-1.54906", "430000", "433000", "SE300330", "",
            "Leeds", "Little London & Woodhouse", "E08000035", "E05011408", "England",
            "Leeds Central", "1980-01-01", "", "Leeds 063A", "Yorkshire and The Humber",
            "38", "E01011365", "Leeds", "0.3", "72144111 72144112", "E01033015"]
    gone = [*live[:1], "No", *live[2:15], "2015-05-01", *live[16:]]
    gone[0] = "LS1 1AB"
    path = fx.write_csv(tmp_path / "doogal.csv", header, [live, gone])
    found = detect_file(path)
    assert found.kind == "postcodes"
    assert found.detail == ("postcode lookup table: postcode with eastings/northings and "
                            "district, ward, LSOA codes")
    imported = _import(path)
    frame = imported.frame
    assert frame["postcode"].tolist() == ["LS1 1AA"]
    assert frame.loc[0, ["borough_code", "ward_code", "lsoa_code"]].tolist() == [
        "E08000035", "E05011408", "E01033015"]
    assert frame.geometry.iloc[0].coords[0] == (430000, 433000)
    assert "1 terminated postcodes left out" in " ".join(map(str, imported.warnings))


@pytest.mark.parametrize(
    "header, rows",
    [
        # a name column: places with postcodes, not a postcode table
        (["Postcode", "lat", "long", "Name"],
         [["LS1 1AA", "53.79603", "-1.54906", "Leeds Food Bank"]]),
        # a type and a date: incidents located at postcodes
        (["Postcode", "lat", "long", "Crime type", "Month"],
         [["LS1 1AA", "53.79603", "-1.54906", "Burglary", "2024-03"]]),
        # one postcode on several rows: a register located by postcode
        (["Postcode", "lat", "long"],
         [["LS1 1AA", "53.79603", "-1.54906"], ["LS1 1AA", "53.79604", "-1.54907"]]),
    ],
)
def test_tables_that_are_not_one_row_per_postcode_are_not_postcode_centroids(
    tmp_path, header, rows
):
    found = detect_file(fx.write_csv(tmp_path / "t.csv", header, rows))
    assert isinstance(found, Skipped) or found.kind != "postcodes"


def test_headerless_codepoint_counts_its_first_row_and_its_header_file_is_explained(tmp_path):
    path = tmp_path / "ls.csv"
    path.write_text(
        '"LS1 1AA",10,430000,433000,"E92000001","E19000003","E18000003","",'
        '"E08000035","E05001420"\n'
        '"LS1 1AB",10,430100,433100,"E92000001","E19000003","E18000003","",'
        '"E08000035","E05001420"\n'
    )
    found = detect_file(path)
    assert (found.kind, found.rows) == ("postcodes", 2)
    headers = fx.write_csv(tmp_path / "Code-Point_Open_Column_Headers.csv",
                           ["PC", "PQ", "EA", "NO", "CY", "RH", "LH", "CC", "DC", "WC"],
                           [["Postcode", "Positional_quality_indicator", "Eastings", "Northings",
                             "Country_code", "NHS_regional_HA_code", "NHS_HA_code",
                             "Admin_county_code", "Admin_district_code", "Admin_ward_code"]])
    skipped = detect_file(headers)
    assert isinstance(skipped, Skipped)
    assert skipped.reason.startswith("Code-Point Open column headers")


def test_a_short_venue_list_with_eastings_is_not_code_point(tmp_path):
    """Four columns with a postcode and eastings/northings: Code-Point Open only when no
    other column (a name) says it is a list of places."""
    from mapper.sources import detect_file

    venues = tmp_path / "venues.csv"
    venues.write_text("Venue Name,Post Code,Easting,Northing\nGrid Hall,ZZ1 0AA,530250,180250\n",
                      encoding="utf-8")
    assert detect_file(venues).kind != "postcodes"
    points = tmp_path / "cp.csv"
    points.write_text("Postcode,Eastings,Northings\nZZ1 0AA,530250,180250\n", encoding="utf-8")
    assert detect_file(points).kind == "postcodes"
    full = tmp_path / "codepoint.csv"  # Code-Point's full header, with its NHS codes
    full.write_text(
        "Postcode,Positional_quality_indicator,Eastings,Northings,Country_code,"
        "NHS_regional_HA_code,NHS_HA_code,Admin_county_code,Admin_district_code,"
        "Admin_ward_code\nLS1 1AA,10,430000,433000,E92000001,E19000003,E18000003,,E08000035,"
        "E05001420\n", encoding="utf-8")
    assert detect_file(full).detail == "OS Code-Point Open"


def test_code_point_open_with_its_header_row_and_every_column(tmp_path):
    header = ["Postcode", "Positional_quality_indicator", "Eastings", "Northings",
              "Country_code", "NHS_regional_HA_code", "NHS_HA_code", "Admin_county_code",
              "Admin_district_code", "Admin_ward_code"]
    rows = [["LS1 1AA", "10", "430000", "433000", "E92000001", "E19000003", "E18000003", "",
             "E08000035", "E05001420"]]
    found = detect_file(fx.write_csv(tmp_path / "ls.csv", header, rows))
    assert (found.kind, found.detail) == ("postcodes", "OS Code-Point Open")
    assert (found.columns["borough_code"], found.columns["ward_code"]) == (
        "Admin_district_code", "Admin_ward_code")
