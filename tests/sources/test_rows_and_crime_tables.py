"""Row problems do not sink a build, and crime tables are read in the shapes people save
them. Every input is built here, on the 3x3 grid of tests/factories.py (36 postcodes
ZZ..., wards of 1 km from 530000, 180000); then the real West Yorkshire police files."""

from __future__ import annotations

import factories as fx
import geopandas as gpd
import pytest
from realdata import west_yorkshire_dir
from shapely.geometry import Point

from mapper import overlay
from mapper.cli import main
from mapper.errors import DataValidationError
from mapper.pipeline import build, import_file, rejection_reasons
from mapper.sources import detect_file, policeuk
from mapper.sources.dates import read_when
from mapper.sources.points import MAX_FAILED_SHARE
from mapper.store import Workspace

GROUPS_HEADER = ["name", "category", "postcode"]
UNKNOWN = ["ZZ9 9ZA", "ZZ9 9ZB", "ZZ9 9ZC", "ZZ9 9ZD", "ZZ9 9ZE", "ZZ9 9ZF", "ZZ9 9ZG"]


@pytest.fixture(scope="module")
def grid_postcodes(tmp_path_factory):
    folder = fx.write_folder(tmp_path_factory.mktemp("grid") / "in")
    ws = Workspace(tmp_path_factory.mktemp("grid") / "ws")
    build(folder, ws)
    return list(ws.read_layer("postcodes")["postcode"])


def venue_list(folder, known: list[str], *, rows: int, bad_rows: list[int]):
    """`rows` groups by postcode; the rows numbered in `bad_rows` (spreadsheet rows, the
    header being row 1) have postcodes the workspace does not know."""
    unknown = iter(UNKNOWN * 20)
    body = [
        [f"Venue {n}", "youth", next(unknown) if n + 2 in bad_rows else known[n % len(known)]]
        for n in range(rows)
    ]
    return fx.write_csv(folder / "venues.csv", GROUPS_HEADER, body)


def folder_with(tmp_path, known, *, rows, bad_rows):
    folder = fx.write_folder(tmp_path / "in")
    venue_list(folder, known, rows=rows, bad_rows=bad_rows)
    return folder


# -- part 1: rows rejected, files held back ---------------------------------------------


FIVE_BAD = [7, 40, 41, 99, 170]


def test_five_unknown_postcodes_in_171_rows_leave_166_accepted(tmp_path, grid_postcodes):
    folder = folder_with(tmp_path, grid_postcodes, rows=171, bad_rows=FIVE_BAD)
    lines: list[str] = []
    ws = Workspace(tmp_path / "ws")
    report = build(folder, ws, progress=lines.append)
    [venues] = [imp for imp in report.points if imp.extra["file"] == "venues.csv"]
    assert (len(venues.frame), len(venues.rejected), venues.rows_read) == (166, 5, 171)
    assert [p.row for p in venues.rejected] == FIVE_BAD
    summary = next(line for line in lines if "166 accepted" in line)
    assert "166 accepted + 5 rejected = 171 input: 5 rows: postcode not found" in summary
    # example rows (the first five) and the column, never the postcodes themselves
    assert "(column 'postcode'; rows 7, 40, 41, 99, 170)" in summary
    assert not any(code in line for line in lines for code in UNKNOWN)
    groups = overlay.read_layer(ws, "groups")
    assert len(groups) == 166 and "Venue 5" not in set(groups["name"])  # row 7 = Venue 5


def test_strict_rejects_the_file_whole_and_writes_nothing(tmp_path, grid_postcodes):
    folder = folder_with(tmp_path, grid_postcodes, rows=171, bad_rows=FIVE_BAD)
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(DataValidationError) as err:
        build(folder, ws, strict=True)
    assert "5 problems in venues.csv; nothing was imported" in str(err.value)
    assert [p.row for p in err.value.problems] == FIVE_BAD
    ws2 = Workspace(tmp_path / "ws2")
    build(folder, ws2, exclude=("venues.csv",))
    with pytest.raises(DataValidationError, match="5 invalid rows in venues.csv; the file was "
                       "not imported \\(--strict"):
        import_file(folder / "venues.csv", ws2, strict=True)
    assert not ws2.has_layer("groups")
    assert not ws.exists()


def test_more_than_a_fifth_failing_holds_the_file_back(tmp_path, grid_postcodes):
    assert MAX_FAILED_SHARE == 0.20
    bad = list(range(2, 32))  # 30 of 100 rows: 30%
    folder = folder_with(tmp_path, grid_postcodes, rows=100, bad_rows=bad)
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(DataValidationError) as err:
        build(folder, ws)
    text = str(err.value)
    assert "the file was held back" in text and "use --skip-invalid to import its 70" in text
    assert "30 of 100 rows (30%) cannot be used, more than the 20%" in text
    assert "30 postcode not found" in text and "probably misread" in text
    assert not ws.exists()  # the whole build stopped: nothing written


def test_exactly_a_fifth_failing_is_still_imported(tmp_path, grid_postcodes):
    folder = folder_with(tmp_path, grid_postcodes, rows=100, bad_rows=list(range(2, 22)))
    report = build(folder, Workspace(tmp_path / "ws"))
    [venues] = report.points
    assert (len(venues.frame), len(venues.rejected)) == (80, 20)


def test_skip_invalid_works_in_build(tmp_path, grid_postcodes):
    folder = folder_with(tmp_path, grid_postcodes, rows=100, bad_rows=list(range(2, 32)))
    ws = Workspace(tmp_path / "ws")
    report = build(folder, ws, skip_invalid=True)
    [venues] = report.points
    assert (len(venues.frame), len(venues.rejected), venues.rows_read) == (70, 30, 100)
    assert len(overlay.read_layer(ws, "groups")) == 70
    # the study area still applies with --skip-invalid (the flag and the area both reach
    # the readers): a point 50 km away is rejected as outside it
    fx.write_csv(folder / "far.csv", ["name", "type", "easting", "northing"],
                 [["Far Hall", "hall", "580000", "180000"]]
                 + [[f"Hall {n}", "hall", "530500", "180500"] for n in range(9)])
    report = build(folder, Workspace(tmp_path / "ws2"), skip_invalid=True)
    [far_imp] = [imp for imp in report.points if imp.extra["file"] == "far.csv"]
    assert [p.message for p in far_imp.rejected] == [
        "outside the study area (Middleton, Northbrook and Southfield)"]
    assert len(far_imp.frame) == 9


def test_structural_problems_still_stop_the_file(tmp_path):
    folder = fx.write_folder(tmp_path / "in")
    fx.write_csv(folder / "wards_dup.csv", ["LSOA11CD", "LSOA11NM", "WD19CD", "WD19NM"],
                 [["E01900001", "a", "E05900001", "w"], ["E01900001", "a", "E05900002", "w"]])
    with pytest.raises(DataValidationError, match="duplicate"):
        build(folder, Workspace(tmp_path / "ws"), exclude=("lookup.csv",), skip_invalid=True)


def test_the_cli_flags(tmp_path, grid_postcodes, capsys):
    folder = folder_with(tmp_path, grid_postcodes, rows=100, bad_rows=list(range(2, 32)))
    ws = str(tmp_path / "ws")
    assert main(["--workspace", ws, "build", "--from", str(folder)]) == 1
    assert "the file was held back as probably misread" in capsys.readouterr().err
    assert main(["--workspace", ws, "build", "--from", str(folder), "--strict",
                 "--skip-invalid"]) == 1
    assert "contradict" in capsys.readouterr().err
    assert main(["--workspace", ws, "build", "--from", str(folder), "--skip-invalid"]) == 0
    captured = capsys.readouterr()
    assert "70 accepted + 30 rejected = 100 input: 30 rows: postcode not found" in captured.err
    # and in the summary at the end
    assert "venues.csv: 70 accepted + 30 rejected = 100 input: 30 rows" in captured.out
    venues = venue_list(tmp_path, grid_postcodes, rows=171, bad_rows=FIVE_BAD)
    assert main(["--workspace", ws, "import", str(venues)]) == 0
    out = capsys.readouterr().out
    assert "rejected: 5 rows: postcode not found" in out
    assert "Imported 166 of 171 rows into layer 'groups'." in out


def test_reasons_are_grouped_commonest_first_with_example_rows():
    from mapper.errors import Problem

    rejected = [Problem("f.csv", "no location", r) for r in (2, 3, 4, 5, 6, 7, 8)]
    rejected += [Problem("f.csv", "bad month", 9, "Month", "Mar-99x")]
    assert rejection_reasons(rejected) == [
        "7 rows: no location (rows 2, 3, 4, 5, 6 and 2 more)",
        "1 row: bad month (column 'Month'; row 9)",
    ]


# -- part 7: crime tables as people save them --------------------------------------------


def lonlat(x: float, y: float) -> tuple[float, float]:
    return gpd.GeoSeries([Point(x, y)], crs=27700).to_crs(4326).iloc[0].coords[0]


LON, LAT = lonlat(530_400, 180_400)  # inside ward 1 of the grid
FORCE = "Grid Police"


@pytest.fixture
def ws(grid_copy):
    return Workspace(grid_copy)


def crime_file(path, header: list[str], rows: int = 3, **cells):
    """A crime table with `header`; each column's cell from `cells` (by header) or a
    default by meaning."""
    defaults = {"month": "2024-03", "crime type": "Burglary", "longitude": f"{LON:.6f}",
                "latitude": f"{LAT:.6f}", "crime id": "c{n}", "reported by": FORCE,
                "falls within": FORCE, "location": "On or near Grid Street",
                "lsoa code": "E01900001", "lsoa name": "Grid 001", "context": "",
                "last outcome category": "Under investigation", "easting": "530400",
                "northing": "180400", "date": "31/03/2024"}

    def key(column: str) -> str:
        return column.lower().replace(".", " ").replace("_", " ")

    given = {key(k): v for k, v in cells.items()}

    def cell(column: str, n: int) -> str:
        if key(column) in given:
            value = given[key(column)]
            return value[n] if isinstance(value, list) else value
        return defaults[key(column)].format(n=n)

    return fx.write_csv(path, header, [[cell(c, n) for c in header] for n in range(rows)])


POLICE_UK = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
             "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category",
             "Context"]


@pytest.mark.parametrize("header", [
    POLICE_UK,
    [c.replace(" ", ".") for c in POLICE_UK],  # R's read.csv
    [c.lower().replace(" ", "_") for c in POLICE_UK],
    ["Month", "Crime type", "Longitude", "Latitude", "LSOA code"],  # no Crime ID
    ["Month", "Crime type", "Longitude", "Latitude", "Location"],  # "On or near ..."
])
def test_police_uk_files_renamed_or_reduced_are_police_uk_incidents(ws, tmp_path, header):
    path = crime_file(tmp_path / "crimes.csv", header, **{"Month": "Mar-24"})
    found = detect_file(path)
    assert (found.kind, found.vintage) == ("incidents", "2024-03")
    imported = import_file(path, ws)
    frame = overlay.read_layer(ws, "incidents")
    assert len(frame) == imported.rows_read == 3
    assert set(frame["month"]) == {"2024-03"} and set(frame["type"]) == {"Burglary"}
    assert set(frame["source"]) == {"police.uk"}
    assert set(frame["location_source"]) == {policeuk.LOCATION_SOURCE}
    assert set(frame["ward_code"]) == {"E05900001"}
    messages = [w.message for w in imported.warnings]
    assert policeuk.SNAP_POINTS in messages
    assert any("'Mar-24', as Excel shows a month" in m for m in messages)


def test_four_columns_without_police_uk_content_are_incidents_at_their_coordinates(
        ws, tmp_path):
    path = crime_file(tmp_path / "burglary.csv", ["Month", "Crime type", "Longitude",
                                                  "Latitude"])
    found = detect_file(path)
    assert found.kind == "incidents" and found.reader is policeuk.read
    assert found.detail == ("a table of incidents (crime type 'Crime type', month or date "
                            "'Month', coordinates)")
    imported = import_file(path, ws)
    frame = overlay.read_layer(ws, "incidents")
    assert len(frame) == 3 and set(frame["location_source"]) == {"coordinates"}
    assert set(frame["source"]) == {"burglary"}
    messages = [w.message for w in imported.warnings]
    assert policeuk.SNAP_POINTS not in messages and policeuk.NOT_DERIVED in messages


def test_a_crime_table_with_dates_and_eastings_keeps_its_dates(ws, tmp_path):
    path = crime_file(tmp_path / "log.csv", ["Date", "Offence", "Easting", "Northing"],
                      Date=["31/03/2024", "2024-02-29", "45352"], Offence="Criminal damage")
    import_file(path, ws)
    frame = overlay.read_layer(ws, "incidents").sort_values("source_row")
    assert list(frame["date"]) == ["2024-03-31", "2024-02-29", "2024-03-01"]
    assert list(frame["month"]) == ["2024-03", "2024-02", "2024-03"]
    assert frame.geometry.iloc[0].equals(Point(530_400, 180_400))


@pytest.mark.parametrize("written", [
    "2024-03", "Mar-24", "MAR-24", "March 2024", "Mar 2024", "2024-03-01",
    "2024-03-01 00:00:00", "2024-03-01T10:00:00+00:00", "01/03/2024", "03/2024", "45352", "202403",
])
def test_months_as_excel_and_people_write_them(written):
    months, _, notes = read_when(__import__("pandas").Series([written]))
    assert months.tolist() == ["2024-03"]
    assert bool(notes) == (written != "2024-03")  # every other spelling is said


def test_us_style_dates_are_recognised_by_the_column_not_guessed_per_row():
    import pandas as pd

    months, dates, notes = read_when(pd.Series(["03/01/2024", "03/15/2024"]))
    assert dates.tolist() == ["2024-03-01", "2024-03-15"]
    assert "month first" in notes[0]
    uk, _, _ = read_when(pd.Series(["03/01/2024", "15/03/2024"]))
    assert uk.tolist() == ["2024-01", "2024-03"]


def test_unreadable_months_are_rejected_rows_not_a_failed_file(ws, tmp_path):
    months = ["Mar-24"] * 9 + ["sometime"]
    path = crime_file(tmp_path / "crimes.csv", POLICE_UK, rows=10, Month=months)
    imported = import_file(path, ws)
    assert (len(imported.frame), len(imported.rejected)) == (9, 1)
    [gone] = imported.rejected
    assert (gone.row, gone.column) == (11, "Month")
    assert gone.message.startswith("not a month; expected a month such as 2024-05, Mar-24")
    with pytest.raises(DataValidationError, match="1 invalid row"):
        import_file(path, ws, strict=True)


def test_stop_and_search_and_outcomes_are_still_not_incidents(tmp_path):
    search = fx.write_csv(tmp_path / "search.csv", ["Type", "Date", "Latitude", "Longitude",
                                                    "Outcome"],
                          [["Person search", "2024-03-01", f"{LAT}", f"{LON}", "Arrest"]])
    outcomes = fx.write_csv(tmp_path / "outcomes.csv",
                            ["Crime ID", "Month", "Reported by", "Falls within", "Longitude",
                             "Latitude", "Location", "LSOA code", "Outcome type"],
                            [["c1", "2024-03", FORCE, FORCE, f"{LON}", f"{LAT}",
                              "On or near X", "E01900001", "Offender given a caution"]])
    for path in (search, outcomes):
        found = detect_file(path)
        assert getattr(found, "reader", None) is not policeuk.read


# -- real data: the West Yorkshire police.uk files, months as Excel left them -------------


@pytest.mark.realdata
def test_real_west_yorkshire_police_files_import(tmp_path):
    wy = west_yorkshire_dir()
    ws = Workspace(tmp_path / "ws")
    lines: list[str] = []
    # boundaries, LSOAs, lookup, postcodes and the two police files; the IoD files are
    # another item's (they lack the scores this build would need)
    report = build(wy, ws, exclude=("File_*",), progress=lines.append)
    counts = {imp.extra["file"]: imp for imp in report.points}
    march = counts["police_uk_street_2024-03_leeds_subset.csv"]
    february = counts["police_uk_street_2025-02_leeds_subset.csv"]
    # every row has a month (Mar-24 / Feb-25) and a location; the few rejected points sit
    # just outside the coarse LAD2022 district outlines (README: "don't use it for
    # point-in-polygon near edges")
    # the build holds the kept incidents once, in the layer's compact frame (mapper/
    # compact.py): each file's own frame is emptied, and its count kept as "kept"
    assert (march.extra["kept"], len(march.rejected), march.rows_read) == (9_406, 2, 9_408)
    assert (february.extra["kept"], len(february.rejected),
            february.rows_read) == (8_008, 1, 8_009)
    assert len(march.frame) == len(february.frame) == 0
    assert {p.message for p in march.rejected + february.rejected} == {
        "outside the study area (Bradford, Calderdale, Kirklees, Leeds and Wakefield)"}
    assert "9,406 accepted + 2 rejected = 9,408 input" in "\n".join(lines)
    incidents = overlay.read_layer(ws, "incidents")
    assert incidents.groupby("month").size().to_dict() == {"2024-03": 9_406, "2025-02": 8_008}
    assert set(incidents["location_source"]) == {policeuk.LOCATION_SOURCE}
    warnings = [w.message for w in march.warnings]
    assert policeuk.SNAP_POINTS in warnings
    assert any("'Mar-24', as Excel shows a month" in w for w in warnings)


# -- the web upload reports rows the same way ----------------------------------------------


def test_an_upload_report_groups_the_reasons_and_says_when_it_would_be_held_back(ws):
    from mapper.uploads import Limits, commit_upload, inspect_upload

    rows = [[f"Club {n}", "youth", f"{LAT:.6f}" if n >= 3 else "north", f"{LON:.6f}"]
            for n in range(10)]
    data = "\n".join(",".join(r) for r in [["name", "category", "latitude", "longitude"],
                                            *rows]).encode()
    report = inspect_upload("clubs.csv", data, ws, owner="olivia", limits=Limits(in_process=True))
    assert (report.accepted, report.rejected_count, report.rows_read) == (7, 3, 10)
    assert report.reasons == [
        "3 rows: latitude is not a number (column 'latitude'; rows 2, 3, 4)"]
    assert report.held_back.startswith("3 of 10 rows (30%) cannot be used, more than the 20%")
    with pytest.raises(DataValidationError, match="3 invalid rows"):  # "import all"
        commit_upload(report.token, ws, "olivia", limits=Limits(in_process=True))
    result = commit_upload(report.token, ws, "olivia", skip_invalid=True,
                           limits=Limits(in_process=True))
    assert (result.accepted, result.rejected) == (7, 3)
    detail = ws.appdb.read_audit()[0]["detail"]
    assert "7 accepted + 3 rejected = 10 input: 3 rows: latitude is not a number" in detail
    good = inspect_upload("more.csv", data.replace(b"north", f"{LAT:.6f}".encode()), ws,
                          owner="olivia", limits=Limits(in_process=True))
    assert (good.accepted, good.reasons, good.held_back) == (10, [], "")


def test_a_generic_incident_table_reads_excel_months_too(ws, tmp_path):
    # a plain "Type" and no police.uk column: the generic point reader's, same month rule
    path = fx.write_csv(tmp_path / "log.csv", ["Month", "Type", "Latitude", "Longitude"],
                        [["Mar-24", "Fly-tipping", f"{LAT:.6f}", f"{LON:.6f}"],
                         ["45352", "Fly-tipping", f"{LAT:.6f}", f"{LON:.6f}"]])
    assert detect_file(path).reader is not policeuk.read
    import_file(path, ws)
    assert list(overlay.read_layer(ws, "incidents")["month"]) == ["2024-03", "2024-03"]


def test_a_month_in_a_date_column_is_a_rejected_row_not_the_year_1(ws, tmp_path):
    path = fx.write_csv(tmp_path / "log.csv", ["Date", "Type", "Latitude", "Longitude"],
                        [["31/03/2024", "Fly-tipping", f"{LAT:.6f}", f"{LON:.6f}"]] * 9
                        + [["Mar-24", "Fly-tipping", f"{LAT:.6f}", f"{LON:.6f}"]])
    imported = import_file(path, ws)
    assert (len(imported.frame), [p.row for p in imported.rejected]) == (9, [11])
    assert "not a date" in imported.rejected[0].message
    assert set(overlay.read_layer(ws, "incidents")["date"]) == {"2024-03-31"}
