"""Point tables read by meaning: headers and content understood, files in every shape.

Every input is built here: renamed, dotted, prefixed, reordered and subset headers; polygons
and lines; .xlsx and .ods; a Charity Commission extract with contact columns; OS OpenMap
Local places of worship (DISTNAME/CLASSIFICA); swapped and unlabelled coordinates.
"""

from __future__ import annotations

import factories as fx
import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from mapper import overlay
from mapper.pipeline import build, import_file, plan_build
from mapper.sources import Skipped, detect_file
from mapper.sources.columns import header_field, understand
from mapper.store import Workspace

#: a point inside the tiny grid's ward 5 (the middle one) and one in ward 1
MIDDLE = Point(531_500, 181_500)
CORNER = Point(530_250, 180_250)


def lonlat(point: Point) -> tuple[float, float]:
    return gpd.GeoSeries([point], crs=27700).to_crs(4326).iloc[0].coords[0]


@pytest.fixture
def ws(grid_copy):
    """The tiny grid workspace (9 wards, 36 LSOAs, postcodes ZZ...)."""
    return Workspace(grid_copy)


def grasp(frame: pd.DataFrame):
    return understand(list(frame.columns), frame)


# -- headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("charity_name", "name"),
        ("Pharmacy.Name", "name"),
        ("pharmacy_name", "name"),
        ("venue_name", "name"),
        ("OrganisationName", "name"),
        ("SITENM", "name"),
        ("DISTNAME", "name"),
        ("ORGANISATI", "name"),  # "organisation" cut to 10 characters by a Shapefile
        ("CLASSIFICA", "type"),
        ("Crime.type", "type"),
        ("TypeOfEstablishment (name)", "type"),
        ("BusinessType", "type"),
        ("AddressLine2", "address"),
        ("registered_charity_number", "charity_number"),
        ("charity_contact_postcode", "postcode"),
        ("Post Code", "postcode"),
        ("charity_contact_web", "website"),
        ("charity_contact_address3", "address"),
        ("E-mail", "email"),
        ("Tel.", "phone"),
        ("LATITUDE", "lat"),
        ("Long", "lon"),
    ],
)
def test_headers_are_read_by_meaning(header, field):
    assert header_field(header)[0] == field


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("WD19NM", "the name of the electoral ward (2019)"),
        ("LSOA name", "the name of an area (lsoa)"),
        ("Local Authority District name (2019)", "the name of an area"),
        ("First Name", "a person's name (personal data)"),
        ("colour", "header not recognised"),
    ],
)
def test_headers_that_name_no_field_say_why(header, why):
    found, reason = header_field(header)
    assert found is None and reason.startswith(why)


# -- content ------------------------------------------------------------------------------


def test_content_finds_columns_whose_headers_say_nothing():
    frame = pd.DataFrame(
        {
            "Org": ["Leeds Aid", "Hope Centre", "Bread Club", "Kirk Hall"],
            "c2": ["LS1 1AA", "bd7 1aa", "WF1 2BB", "HX1 1QQ"],
            "c3": ["a@b.org", "x@y.org.uk", "q@r.com", "z@z.net"],
            "c4": ["0113 496 0000", "01274 000000", "07700 900000", "+44 1422 000000"],
            "c5": ["https://a.org", "www.hope.org", "http://b.uk", "https://k.org/x"],
            "c6": ["E05001234", "E05001235", "E05001236", "E05001234"],
            "c7": ["2024-01-03", "2023-12-12", "01/02/2024", "2022-07-07"],
        }
    )
    found = grasp(frame)
    assert found.mapping() == {
        "postcode": "c2",
        "email": "c3",
        "phone": "c4",
        "website": "c5",
        "name": "Org",
    }
    assert found.fields["postcode"].reason == "content: 100% of the values look like postcodes"
    assert found.ignored["c6"].startswith("GSS codes of electoral ward (E05)")
    assert found.ignored["c7"].startswith("dates, but the header does not say which date")
    assert found.location == "postcode"


def test_swapped_latitude_and_longitude_are_detected_and_said():
    frame = pd.DataFrame(
        {"name": ["A", "B", "C"], "lat": ["-1.55", "-1.6", "-1.49"],
         "lon": ["53.8", "53.79", "53.81"]}
    )
    found = grasp(frame)
    assert (found.fields["lat"].column, found.fields["lon"].column) == ("lon", "lat")
    assert found.assumptions == [
        "'lat' and 'lon' look swapped (their values fit the other's range): "
        "'lon' read as lat and 'lat' as lon"
    ]


def test_x_and_y_are_told_apart_by_their_values():
    degrees = grasp(pd.DataFrame({"name": ["A", "B"], "X": ["-1.5", "-1.6"],
                                  "Y": ["53.8", "53.7"]}))
    assert (degrees.fields["lon"].column, degrees.fields["lat"].column) == ("X", "Y")
    assert "'X' read as lon, not easting" in degrees.assumptions[0]
    metres = grasp(pd.DataFrame({"name": ["A", "B"], "X": ["430000", "431000"],
                                 "Y": ["433000", "434000"]}))
    assert metres.mapping() == {"name": "name", "easting": "X", "northing": "Y"}
    assert not metres.assumptions
    swapped = grasp(pd.DataFrame({"name": ["A", "B"], "easting": ["933000", "934000"],
                                  "northing": ["330000", "331000"]}))
    assert (swapped.fields["easting"].column, swapped.fields["northing"].column) == (
        "northing", "easting")
    assert "look swapped" in swapped.assumptions[0]
    lat_metres = grasp(pd.DataFrame({"name": ["A", "B"], "lat": ["433000", "434000"],
                                     "lon": ["430000", "431000"]}))
    assert (lat_metres.fields["northing"].column, lat_metres.fields["easting"].column) == (
        "lat", "lon")


def test_unlabelled_coordinates_are_found_from_their_ranges_and_the_guess_is_said():
    found = grasp(pd.DataFrame({"name": ["A", "B"], "p": ["53.801", "53.722"],
                                "q": ["-1.512", "-1.633"]}))
    assert (found.fields["lat"].column, found.fields["lon"].column) == ("p", "q")
    assert found.assumptions == [
        "no header names the coordinates; 'p' and 'q' read as lat/lon from their values"
    ]


def test_ambiguous_names_say_which_was_used():
    found = grasp(pd.DataFrame({"site name": ["Hall", "Hall"], "name": ["St A", "St B"],
                                "postcode": ["LS1 1AA", "LS1 1AB"]}))
    assert found.fields["name"].column == "name"
    assert found.ignored["site name"] == "also looks like name; 'name' was used"
    assert found.assumptions == [
        "2 columns could be the name (site name, name): 'name' used; map another column "
        "to change it"
    ]


def test_a_name_guessed_from_content_is_said_and_never_taken_from_a_postcode_lookup():
    headed = grasp(pd.DataFrame({"Org": ["Aid", "Aid", "Club"],
                                 "c1": ["Leeds Aid", "Hope Centre", "Bread Club"],
                                 "pc": ["LS1 1AA", "LS2 2BB", "LS2 2BB"]}))
    assert headed.fields["name"].column == "Org"  # a header wins over more varied content
    assert not headed.assumptions
    content = grasp(pd.DataFrame({"c1": ["Leeds Aid", "Hope Centre", "Bread Club"],
                                  "c2": ["open", "open", "closed"],
                                  "pc": ["LS1 1AA", "LS2 2BB", "LS2 2BB"]}))
    assert content.fields["name"].column == "c1"
    assert content.assumptions == ["'c1' taken as the name; map another column to change it"]
    lookup = grasp(pd.DataFrame({"Postcode": ["LS1 1AA", "LS2 2BB"], "lat": ["53.8", "53.7"],
                                 "long": ["-1.5", "-1.6"], "Place": ["Leeds", "Morley"]}))
    assert "name" not in lookup.fields


def test_a_postcode_lookup_table_is_not_read_as_a_register(tmp_path):
    path = fx.write_csv(tmp_path / "postcodes2latlon.csv", ["Postcode", "lat", "long"],
                        [["LS1 1AA", "53.79", "-1.54"], ["BD100AA", "53.8", "-1.75"]])
    found = detect_file(path)
    assert isinstance(found, Skipped) or found.kind == "postcodes"


# -- files of every shape -----------------------------------------------------------------


def test_renamed_dotted_prefixed_reordered_and_subset_headers_import(ws, tmp_path):
    lon, lat = lonlat(MIDDLE)
    path = fx.write_csv(
        tmp_path / "pharmacies.csv",
        ["Pharmacy.Longitude", "pharmacy_name", "PHARMACY.LATITUDE", "Opening.Notes"],
        [[f"{lon}", "Grid Chemist", f"{lat}", "late on Thursdays"]],
    )
    lines: list[str] = []
    imported = import_file(path, ws, progress=lines.append)
    # a list of pharmacies is premises, never VCS groups (mapper/sources/evidence.py)
    assert imported.kind == "premises" and len(imported.frame) == 1
    row = overlay.read_layer(ws, "premises").iloc[0]
    assert row["type"] == "pharmacy"
    assert row["name"] == "Grid Chemist" and row["ward_code"] == "E05900005"
    assert row.geometry.distance(MIDDLE) < 0.5
    assert "  name <- 'pharmacy_name': header 'pharmacy_name' read as 'name' ('pharmacy' " \
           "dropped)" in lines
    assert any(line.startswith("  ignored 'Opening.Notes'") for line in lines)


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_polygons_and_lines_are_placed_on_them_and_counted(ws, tmp_path, suffix):
    frame = gpd.GeoDataFrame(
        {"name": ["Park Hall", "Canal Walk", "Bus Stop Group"]},
        # a 1 ha site (a polygon of 20 ha or more is an area, not a site: organisations.py)
        geometry=[box(531_450, 181_450, 531_550, 181_550),
                  LineString([(530_100, 180_100), (530_400, 180_100)]), CORNER],
        crs=27700,
    )
    path = tmp_path / f"places{suffix}"
    frame.to_crs(4326).to_file(path)
    imported = import_file(path, ws, register="groups")  # nothing in the file says which
    got = imported.frame.set_index("name")
    assert got.loc["Park Hall"].geometry.within(box(531_450, 181_450, 531_550, 181_550))
    assert got.loc["Canal Walk"].geometry.distance(frame.geometry[1]) < 0.01
    assert got.loc["Bus Stop Group"].geometry.distance(CORNER) < 0.01
    notes = [str(w) for w in imported.warnings]
    assert f"places{suffix}: 1 polygon features placed at a representative point inside them" \
        in notes
    assert f"places{suffix}: 1 line features placed at a point on the line" in notes


@pytest.mark.parametrize("suffix", [".xlsx", ".ods"])
def test_spreadsheets_are_read_from_their_largest_sheet(ws, tmp_path, suffix):
    postcode = ws.read_layer("postcodes").iloc[4]
    path = tmp_path / f"venues{suffix}"
    with pd.ExcelWriter(str(path)) as book:  # a Path makes pandas write .xlsx whatever the suffix
        pd.DataFrame({"About": ["a note sheet"]}).to_excel(book, sheet_name="Notes", index=False)
        pd.DataFrame(
            {"Venue Name": ["Grid Hall", "Corner Hall"],
             "Post Code": [postcode["postcode"].replace(" ", "").lower(), ""],
             "Easting": ["", "530250"], "Northing": ["", "180250"]}
        ).to_excel(book, sheet_name="Venues", index=False)
    found = detect_file(path)
    assert found.rows == 2 and found.columns["name"] == "Venue Name"
    imported = import_file(path, ws)
    got = imported.frame.set_index("name")
    assert got.loc["Grid Hall"].geometry.equals(postcode.geometry)
    assert got.loc["Grid Hall", "location_source"] == "postcode centroid"
    assert got.loc["Corner Hall"].geometry.distance(CORNER) < 0.01
    assert list(got["source_row"]) == [2, 3]


def test_charity_extract_with_contact_columns_is_read(ws, tmp_path):
    pcs = ws.read_layer("postcodes")
    path = fx.write_csv(
        tmp_path / "charities_subset.csv",
        ["registered_charity_number", "charity_name", "charity_contact_address1",
         "charity_contact_address2", "charity_contact_postcode", "charity_contact_phone",
         "charity_contact_email", "charity_contact_web", "charity_activities"],
        [["1100001", "Grid Food Aid", "1 High Street", "Middleton", pcs.iloc[0]["postcode"],
          "0113 496 0000", "info@gridfood.org", "www.gridfood.org", "Food parcels"],
         ["1100002", "Corner Youth", "", "Southfield", pcs.iloc[1]["postcode"],
          "", "", "", "Youth club"]],
    )
    found = detect_file(path)
    assert found.kind == "groups"
    assert found.columns == {
        "charity_number": "registered_charity_number",
        "name": "charity_name",
        "address": "charity_contact_address1",
        "postcode": "charity_contact_postcode",
        "phone": "charity_contact_phone",
        "email": "charity_contact_email",
        "website": "charity_contact_web",
        "description": "charity_activities",
    }
    imported = import_file(path, ws)
    got = imported.frame.set_index("name")
    assert got.loc["Grid Food Aid", "address"] == "1 High Street, Middleton"
    assert got.loc["Corner Youth", "address"] == "Southfield"
    assert got.loc["Grid Food Aid", "email"] == "info@gridfood.org"
    assert got.loc["Grid Food Aid", "charity_number"] == "1100001"
    assert (got["location_source"] == "postcode centroid").all()


def test_os_openmap_places_of_worship_with_distname_and_classifica(ws, tmp_path):
    frame = gpd.GeoDataFrame(
        {"ID": ["0001A", "0002B"], "DISTNAME": ["St Mary's Church", "Grid Mosque"],
         "CLASSIFICA": ["Place Of Worship", "Place Of Worship"], "FEATCODE": [15014, 15014]},
        geometry=[box(531_100, 181_100, 531_140, 181_160), box(530_300, 180_300, 530_320, 180_330)],
        crs=27700,
    )
    path = tmp_path / "ImportantBuilding.shp"
    frame.to_file(path)
    lines: list[str] = []
    imported = import_file(path, ws, progress=lines.append)
    assert imported.kind == "premises"
    assert set(imported.frame["type"]) == {"place of worship"}
    assert set(imported.frame["name"]) == {"St Mary's Church", "Grid Mosque"}
    assert set(imported.frame["premises_id"]) == {"importantbuilding:0001A",
                                                  "importantbuilding:0002B"}
    assert "  name <- 'DISTNAME': header 'DISTNAME' means name" in lines
    assert "  type <- 'CLASSIFICA': header 'CLASSIFICA' means type" in lines
    assert any("2 polygon features" in str(w) for w in imported.warnings)


def test_a_file_with_swapped_columns_imports_every_row(ws, tmp_path):
    rows = []
    for name, point in (("Middle", MIDDLE), ("Corner", CORNER)):
        lon, lat = lonlat(point)
        rows.append([name, f"{lon}", f"{lat}"])  # longitude under "latitude"
    path = fx.write_csv(tmp_path / "swapped.csv", ["name", "latitude", "longitude"], rows)
    imported = import_file(path, ws, register="groups")
    assert len(imported.frame) == 2 and not imported.rejected
    assert imported.frame.set_index("name").loc["Middle"].geometry.distance(MIDDLE) < 0.5


def test_dry_run_build_prints_the_understanding_and_reads_sub_folders(tmp_path):
    folder = fx.write_folder(tmp_path / "in")
    (folder / "amenities").mkdir()
    lon, lat = lonlat(MIDDLE)
    fx.write_csv(folder / "amenities" / "halls.csv", ["Hall.Name", "Lat", "Lng", "Ward"],
                 [["Grid Hall", f"{lat}", f"{lon}", "E05900005"]])
    plan = plan_build(folder)
    assert [d.path.name for d in plan.registers] == ["halls.csv"]
    lines: list[str] = []
    report = build(folder, Workspace(tmp_path / "ws"), dry_run=True, progress=lines.append)
    assert len(report.registers["premises"]) == 1  # a file of halls
    assert "      name <- 'Hall.Name': header 'Hall.Name' read as 'name' ('hall' dropped)" \
        in lines
    assert ("      ignored 'Ward': GSS codes of electoral ward (E05); areas are found from "
            "each point's location") in lines
    register = "      register: premises (its file name says 'hall')"
    assert any(line.startswith(register) for line in lines)


def test_cli_import_and_web_upload_print_what_was_understood(ws, tmp_path, capsys):
    from mapper.cli import main
    from mapper.uploads import Limits, inspect_upload

    postcode = ws.read_layer("postcodes").iloc[0]["postcode"]
    header = ["charity_name", "charity_contact_postcode", "Ward"]
    path = fx.write_csv(tmp_path / "subset.csv", header,
                        [["Grid Food Aid", postcode, "E05900001"]])
    assert main(["--workspace", str(ws.directory), "import", str(path)]) == 0
    err = capsys.readouterr().err
    assert "  name <- 'charity_name': header 'charity_name' read as 'name' ('charity' " \
           "dropped)" in err
    assert ("  assumed: 'charity_contact_postcode' is a contact postcode: records without "
            "coordinates are placed at a correspondence address") in err
    report = inspect_upload("subset.csv", path.read_bytes(), ws, limits=Limits(in_process=True))
    assert report.accepted == 1
    assert report.understanding[:3] == [
        "register: groups (its name column 'charity_name' says 'charity')",
        "location: postcode",
        "name <- 'charity_name': header 'charity_name' read as 'name' ('charity' dropped)",
    ]
    assert ("ignored 'Ward': GSS codes of electoral ward (E05); areas are found from each "
            "point's location") in report.understanding


def test_known_layouts_print_the_columns_their_layout_names(tmp_path):
    from mapper.sources.pointfiles import explain

    path = fx.write_csv(tmp_path / "libraries.csv", ["Library name", "Local authority", "Postcode"],
                        [["Grid Library", "Middleton", "ZZ1 0AA"]])
    assert explain(detect_file(path)) == [
        "layout: known layout 'ace_libraries' (mapper/mappings/layouts.json)",
        "name <- 'Library name'",
        "postcode <- 'Postcode'",
        "location postcode <- 'Postcode'",
    ]
    assert explain(detect_file(fx.write_folder(tmp_path / "in") / "wards.geojson")) == []


def test_polygons_without_a_name_header_are_not_guessed_into_a_register(tmp_path):
    areas = gpd.GeoDataFrame({"NBHD": ["Northside", "Southside"]},
                             geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=27700)
    path = fx.write_geojson(areas.to_crs(4326), tmp_path / "neighbourhoods.geojson")
    found = detect_file(path)
    assert isinstance(found, Skipped)
    assert found.reason.startswith("no column of ward, LSOA or borough codes")


def test_as_another_register_re_reads_the_understanding(ws, tmp_path):
    lon, lat = lonlat(MIDDLE)
    path = fx.write_csv(tmp_path / "council_list.csv", ["Name", "Category", "Charity No", "Lat",
                                                         "Long"],
                        [["Grid Library", "Library", "123", f"{lat}", f"{lon}"]])
    assert detect_file(path).kind == "groups"
    lines: list[str] = []
    imported = import_file(path, ws, register="premises", progress=lines.append)
    assert imported.frame.iloc[0]["type"] == "library"
    assert "  register: premises (as you said (--as))" in lines
    assert ("  type <- 'Category': header 'Category' means category; read as the type") in lines
    assert ("  ignored 'Charity No': understood as charity_number, which the premises register "
            "does not hold") in lines


def test_a_contact_column_is_split_into_email_and_phone(ws, tmp_path):
    lon, lat = lonlat(MIDDLE)
    path = fx.write_csv(tmp_path / "helper_groups.csv", ["Name", "How to reach", "Lat", "Lon"],
                        [["Grid Helpers", "ring 0113 496 0000 or mail help@grid.org", f"{lat}",
                          f"{lon}"],
                         ["Corner Aid", "corner@aid.org.uk", f"{lat}", f"{lon}"]])
    found = detect_file(path)
    assert found.columns["contact"] == "How to reach"
    got = import_file(path, ws).frame.set_index("name")
    assert (got.loc["Grid Helpers", "email"], got.loc["Grid Helpers", "phone"]) == (
        "help@grid.org", "0113 496 0000")
    assert got.loc["Corner Aid", "email"] == "corner@aid.org.uk"
    assert pd.isna(got.loc["Corner Aid", "phone"])
