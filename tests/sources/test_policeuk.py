"""police.uk crime files as incidents: tiny hand-written files, then the real London ones."""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import pandas as pd
import pytest
from pyproj import Transformer
from realdata import london_dir
from shapely.geometry import box

from mapper import registers
from mapper.errors import DataValidationError
from mapper.sources import policeuk
from mapper.sources.base import Context
from mapper.sources.files import peek

STREET_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context"
)
MET = "Metropolitan Police Service"
CAMDEN_HEADER = (
    "Category,Street ID,Street Name,Context,Outcome Category,Outcome Date,Service,"
    "Location Subtype,ID,Persistent ID,Epoch,Ward Code,Ward Name,Easting,Northing,Longitude,"
    "Latitude,Spatial Accuracy,Last Uploaded,Location"
)
#: Judd Street, Camden (a police.uk snap point)
JUDD = (-0.126199, 51.529117)


def street_row(crime_id="c1", month="2023-05", lon=JUDD[0], lat=JUDD[1], *, lsoa="E01000917",
               crime_type="Burglary", location="On or near Judd Street",
               outcome="Under investigation", force=MET) -> str:
    return (f"{crime_id},{month},{force},{force},{lon},{lat},{location},{lsoa},Camden 027C,"
            f"{crime_type},{outcome},")


def write(path, header: str, rows: list[str]):
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def read(path, context: Context | None = None):
    detection = policeuk.detect(peek(path))
    assert detection is not None, f"{path.name} not detected"
    return policeuk.read(path, detection, context or Context())


def five_rows(tmp_path):
    return write(tmp_path / "crimes.csv", STREET_HEADER, [
        street_row("c1"),
        street_row("", crime_type="Anti-social behaviour", outcome=""),
        street_row("c3", lon="", lat="", location="No Location", lsoa=""),
        street_row("c4", month="2023-06", lon=-0.1300, lat=51.5300),
        street_row("c5", month="2023-06", lon=-0.1400, lat=51.5200),
    ])


# -- detection ----------------------------------------------------------------------------


def test_street_crime_is_detected_from_its_columns_not_its_name(tmp_path):
    found = policeuk.detect(peek(five_rows(tmp_path)))
    assert found is not None
    assert found.kind == "incidents"
    assert found.vintage == "2023-05 to 2023-06"
    assert found.detail == f"police.uk street-level crime (1 force: {MET})"
    assert found.reader is policeuk.read


def test_camden_layout_is_detected(tmp_path):
    path = write(tmp_path / "Police_API_Sample_July_2019.csv", CAMDEN_HEADER, [
        "Burglary,960542,On or near Judd Street,,Under investigation,,Police Force,,75265998,"
        "abc123,06/01/2019 12:00:00 AM,E05000143,St Pancras,530076.239,182797.685,-0.126199,"
        '51.529117,approximate,18/02/2021,"(51.529117, -0.126199)"',
    ])
    found = policeuk.detect(peek(path))
    assert (found.kind, found.vintage, found.detail) == (
        "incidents", "2019-06", "police.uk crime, Camden council layout")


def test_long_files_report_the_months_of_their_last_rows_too(tmp_path):
    rows = [street_row(f"a{i}", month="2023-05") for i in range(3000)]
    rows += [street_row(f"b{i}", month="2024-02", force="City of London Police")
             for i in range(300)]
    found = policeuk.detect(peek(write(tmp_path / "many.csv", STREET_HEADER, rows)))
    assert found.vintage == "2023-05 to 2024-02"
    assert "2 forces" in found.detail


@pytest.mark.parametrize("header,row", [
    ("name,latitude,longitude,type", "St Mary's hall,51.52,-0.12,hall"),
    ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
     "Outcome type", "c1,2023-05,Met,Met,-0.12,51.52,On or near X,E01000917,Camden 027C,"
     "Offender given a caution"),
    ("Type,Date,Part of a policing operation,Policing operation,Latitude,Longitude,Gender,"
     "Age range,Self-defined ethnicity,Officer-defined ethnicity,Legislation,Object of search,"
     "Outcome", "Person search,2023-05-01T10:00:00+00:00,False,,51.52,-0.12,Male,18-24,,,"
     "Misuse of Drugs Act 1971,Controlled drugs,Arrest"),
    # a month, a type but a plain "type" and no police.uk column: the generic reader's
    ("Month,Type,Longitude,Latitude", "2023-05,Burglary,-0.12,51.52"),
])
def test_other_tables_and_other_police_files_are_not_incidents(tmp_path, header, row):
    assert policeuk.detect(peek(write(tmp_path / "x-street.csv", header, [row]))) is None


# -- reading ------------------------------------------------------------------------------


def test_rows_without_a_location_are_rejected_with_the_reason_never_dropped(tmp_path):
    imported = read(five_rows(tmp_path))
    assert imported.rows_read == 5
    assert len(imported.frame) == 4
    assert len(imported.frame) + len(imported.rejected) == imported.rows_read
    [gone] = imported.rejected
    assert (gone.row, gone.severity, gone.message) == (4, "rejected", policeuk.NO_LOCATION)
    assert "1 row has no location and was left out" in [w.message for w in imported.warnings]
    assert list(imported.frame["source_row"]) == [2, 3, 5, 6]


def test_frame_is_the_incidents_register_in_british_national_grid(tmp_path):
    imported = read(five_rows(tmp_path))
    frame = imported.frame
    assert list(frame.columns) == registers.columns("incidents") + ["geometry"]
    assert frame.crs == "EPSG:27700"
    first = frame.iloc[0]
    assert first["incident_id"] == "police.uk:c1"
    assert first["source_id"] == "c1"
    assert (first["month"], first["type"], first["outcome"]) == (
        "2023-05", "Burglary", "Under investigation")
    assert first["location_description"] == "On or near Judd Street"
    assert (first["source"], first["source_file"]) == ("police.uk", "crimes.csv")
    assert first["location_source"] == "police.uk anonymised snap point"
    assert frame["date"].isna().all() and frame["severity"].isna().all()
    assert frame["lsoa_code"].isna().all()  # areas come from the points, later
    assert list(frame["month"]) == ["2023-05", "2023-05", "2023-06", "2023-06"]
    assert imported.vintage == "2023-05 to 2023-06"


def test_coordinates_are_reprojected_to_eastings_and_northings(tmp_path):
    imported = read(five_rows(tmp_path))
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    x, y = to_bng.transform(*JUDD)
    point = imported.frame.geometry.iloc[0]
    assert abs(point.x - x) < 1 and abs(point.y - y) < 1
    assert 530_000 < point.x < 530_200 and 182_700 < point.y < 182_900  # Judd Street


def test_anti_social_behaviour_rows_get_a_stable_id_from_file_and_row(tmp_path):
    path = five_rows(tmp_path)
    first, again = read(path), read(path)
    asb = first.frame[first.frame["type"] == "Anti-social behaviour"].iloc[0]
    assert asb["incident_id"] == "police.uk:crimes:3"
    assert pd.isna(asb["source_id"]) and pd.isna(asb["outcome"])
    assert list(first.frame["incident_id"]) == list(again.frame["incident_id"])
    assert first.frame["incident_id"].is_unique


def test_repeated_crime_ids_keep_their_rows_with_ids_of_their_own(tmp_path):
    path = write(tmp_path / "repeats.csv", STREET_HEADER, [
        street_row("c1"), street_row("c2"), street_row("c1", lon=-0.13), street_row("c1"),
    ])
    frame = read(path).frame
    assert list(frame["incident_id"]) == [
        "police.uk:c1", "police.uk:c2", "police.uk:c1:2", "police.uk:c1:3"]
    assert list(frame["duplicate_of"].fillna("")) == ["", "", "police.uk:c1", "police.uk:c1"]
    assert frame["duplicate_reason"].iloc[2] == "same police.uk Crime ID as row 2"


def test_provenance_licence_attribution_and_the_snap_point_caveat(tmp_path):
    imported = read(five_rows(tmp_path))
    assert imported.kind == "incidents"
    assert imported.licence == "Open Government Licence v3.0"
    assert imported.attribution == (
        "Contains public sector information licensed under the Open Government Licence v3.0. "
        "Crime data: data.police.uk.")
    caveats = [w for w in imported.warnings if "anonymised snap points" in w.message]
    assert len(caveats) == 1 and caveats[0].severity == "warning"
    assert "not exact crime locations" in caveats[0].message


def bad_rows(tmp_path):
    return write(tmp_path / "bad.csv", STREET_HEADER, [
        street_row("ok1"),
        street_row("swapped", lon=JUDD[1], lat=JUDD[0]),
        street_row("text", lat="abc"),
        street_row("month", month="2023-13"),
        street_row("ok2"),
    ])


def test_invalid_rows_reject_the_file_and_are_all_listed(tmp_path):
    with pytest.raises(DataValidationError) as err:
        read(bad_rows(tmp_path), Context(strict=True))
    problems = err.value.problems
    assert [(p.row, p.column) for p in problems] == [
        (3, "Latitude"), (4, "Latitude"), (5, "Month")]
    assert [p.value for p in problems] == [str(JUDD[0]), "abc", "2023-13"]
    assert "swapped" in problems[0].message
    assert "not a number" in problems[1].message
    assert "not a month; expected a month such as 2024-05, Mar-24" in problems[2].message
    message = str(err.value)
    assert "3 invalid rows in bad.csv" in message and "row 5" in message


def test_skip_invalid_imports_the_valid_rows_and_lists_the_others(tmp_path):
    imported = read(bad_rows(tmp_path), Context(skip_invalid=True))
    assert list(imported.frame["incident_id"]) == ["police.uk:ok1", "police.uk:ok2"]
    assert [p.row for p in imported.rejected] == [3, 4, 5]
    assert len(imported.frame) + len(imported.rejected) == imported.rows_read == 5
    assert any("3 invalid rows left out" in w.message for w in imported.warnings)


def test_a_row_with_several_problems_is_rejected_once(tmp_path):
    path = write(tmp_path / "worse.csv", STREET_HEADER, [
        street_row("ok"), street_row("both", month="sometime", lat="abc", lsoa="E05000143"),
    ])
    with pytest.raises(DataValidationError) as err:
        read(path, Context(strict=True))
    assert [p.column for p in err.value.problems] == ["Latitude", "Month", "LSOA code"]
    imported = read(path, Context(skip_invalid=True))
    [gone] = imported.rejected
    assert gone.row == 3 and "Month" in gone.message and "LSOA code" in gone.message
    assert len(imported.frame) + len(imported.rejected) == imported.rows_read


def test_lsoa_codes_must_be_lsoa_codes_where_given(tmp_path):
    path = write(tmp_path / "codes.csv", STREET_HEADER, [
        street_row("a", lsoa="E01000917"), street_row("b", lsoa="W01000574"),
        street_row("c", lsoa=""), street_row("d", lsoa="E05000143"), street_row("e", lsoa="x"),
    ])
    with pytest.raises(DataValidationError) as err:
        read(path, Context(strict=True))
    assert [(p.row, p.value) for p in err.value.problems] == [(5, "E05000143"), (6, "x")]
    assert "electoral ward (E05) code; expected an LSOA (E01) code" in err.value.problems[0].message


def test_points_outside_the_study_area_are_rejected_with_that_reason(tmp_path):
    path = write(tmp_path / "area.csv", STREET_HEADER, [
        street_row("in"), street_row("out", lon=-1.2577, lat=51.7520),  # Oxford
    ])
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    x, y = to_bng.transform(*JUDD)
    context = Context(study_area=box(x - 1000, y - 1000, x + 1000, y + 1000),
                      study_area_name="Test")
    imported = read(path, context)
    assert list(imported.frame["incident_id"]) == ["police.uk:in"]
    [gone] = imported.rejected
    assert (gone.row, gone.message, gone.severity) == (
        3, "outside the study area (Test)", "rejected")
    assert any("1 point outside the study area (Test)" in w.message for w in imported.warnings)


def test_a_file_for_another_area_imports_nothing_and_says_why(tmp_path):
    empty = read(write(tmp_path / "empty.csv", STREET_HEADER, []))
    assert (len(empty.frame), empty.rows_read, empty.vintage) == (0, 0, "unknown")
    path = write(tmp_path / "oxford.csv", STREET_HEADER, [street_row(lon=-1.2577, lat=51.752)])
    far = read(path, Context(study_area=box(530_000, 180_000, 531_000, 181_000),
                             study_area_name="Test"))
    assert len(far.frame) == 0 and len(far.rejected) == 1
    assert any("none of its located incidents" in w.message for w in far.warnings)


def test_camden_layout_reads_months_ids_and_streets(tmp_path):
    common = "Police Force,,{id},{pid},06/01/2019 12:00:00 AM,E05000143,St Pancras"
    path = write(tmp_path / "camden.csv", CAMDEN_HEADER, [
        "Burglary,1,On or near Judd Street,,Under investigation,2019-07,"
        + common.format(id="75265998", pid="abc123")
        + f",530076.239,182797.685,{JUDD[0]},{JUDD[1]},approx,18/02/2021,x",
        "Anti-social behaviour,2,On or near Barker Drive,,,,"
        + common.format(id="75266846", pid="")
        + ",529502.201,184061.663,,,approx,18/02/2021,x",
    ])
    imported = read(path)
    frame = imported.frame
    assert list(frame["incident_id"]) == ["police.uk:abc123", "police.uk:75266846"]
    assert list(frame["source_id"]) == ["75265998", "75266846"]
    assert list(frame["month"]) == ["2019-06", "2019-06"]
    assert list(frame["type"]) == ["Burglary", "Anti-social behaviour"]
    assert list(frame["location_description"]) == ["On or near Judd Street",
                                                   "On or near Barker Drive"]
    assert frame["outcome"].iloc[0] == "Under investigation"
    # longitude/latitude (police.uk's own) win; eastings/northings fill in where they are blank
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    x, y = to_bng.transform(*JUDD)
    assert frame.geometry.iloc[0].distance(gpd.points_from_xy([x], [y])[0]) < 0.01
    assert (frame.geometry.iloc[1].x, frame.geometry.iloc[1].y) == (529502.201, 184061.663)


def test_camden_layout_rejects_an_unreadable_epoch(tmp_path):
    path = write(tmp_path / "camden.csv", CAMDEN_HEADER, [
        "Burglary,1,On or near Judd Street,,,,Police Force,,1,p1,sometime in June,E05000143,"
        f"St Pancras,530076.239,182797.685,{JUDD[0]},{JUDD[1]},approx,18/02/2021,x",
    ])
    with pytest.raises(DataValidationError) as err:
        read(path, Context(strict=True))
    [problem] = err.value.problems
    assert (problem.row, problem.column, problem.value) == (2, "Epoch", "sometime in June")


# -- real London data ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def london():
    return london_dir()


@pytest.fixture(scope="module")
def in_london(london):
    boroughs = gpd.read_file(london / "london_boroughs_lad22.geojson").to_crs("EPSG:27700")
    return Context(study_area=boroughs.union_all(), study_area_name="London")


@pytest.mark.realdata
def test_real_city_of_london_police(london, in_london):
    imported = read(london / "city_of_london_police_street_crime_2023-05_to_2025-05.csv",
                    in_london)
    reasons = Counter(p.message for p in imported.rejected)
    assert imported.rows_read == 19_950
    assert len(imported.frame) + len(imported.rejected) == 19_950
    assert reasons[policeuk.NO_LOCATION] == 1_803
    # 12 snap points outside London (4 in Wales, as published); the README's 18,135 located
    # rows with a London LSOA are exactly the ones kept
    assert reasons["outside the study area (London)"] == 12
    assert len(imported.frame) == 18_135
    assert imported.vintage == "2023-05 to 2025-05"
    assert imported.frame["incident_id"].is_unique
    asb = imported.frame["source_id"].isna()  # no Crime ID: ids from the file and row
    stem = "city_of_london_police_street_crime_2023-05_to_2025-05"
    assert imported.frame.loc[asb, "incident_id"].str.startswith(f"police.uk:{stem}:").all()
    assert set(imported.frame.loc[asb, "type"]) == {"Anti-social behaviour"}
    warnings = [w.message for w in imported.warnings]
    assert "1,803 rows have no location and were left out" in warnings


@pytest.mark.realdata
def test_real_met_burglary(london, in_london):
    imported = read(london / "met_police_street_crime_burglary_2024-09_to_2025-02.csv",
                    in_london)
    frame = imported.frame
    assert imported.rows_read == 26_199
    assert len(frame) + len(imported.rejected) == 26_199
    assert len(frame) == 26_199  # the 4 just outside the generalised edge are within tolerance
    assert set(frame["type"]) == {"Burglary"}
    assert frame["month"].value_counts().sort_index().to_dict() == {
        "2024-09": 4_081, "2024-10": 4_585, "2024-11": 4_595,
        "2024-12": 4_759, "2025-01": 4_444, "2025-02": 3_735,
    }
    assert frame["incident_id"].is_unique and frame["duplicate_of"].isna().all()
    assert imported.detail == "police.uk street-level crime (1 force: Metropolitan Police Service)"


@pytest.mark.realdata
def test_real_camden_month(london, in_london):
    imported = read(london / "met_police_street_crime_2019-06_camden.csv", in_london)
    frame = imported.frame
    assert imported.rows_read == 4_075
    assert len(frame) + len(imported.rejected) == 4_075
    assert len(frame) == 4_075
    assert set(frame["month"]) == {"2019-06"}
    assert frame["type"].value_counts().to_dict() == {
        "Anti-social behaviour": 852, "Other theft": 776, "Violence and sexual offences": 580,
        "Theft from the person": 419, "Vehicle crime": 298, "Burglary": 271,
        "Public order": 194, "Shoplifting": 182, "Robbery": 144, "Drugs": 121,
        "Criminal damage and arson": 108, "Bicycle theft": 92, "Possession of weapons": 24,
        "Other crime": 14,
    }
    assert frame["incident_id"].is_unique
