"""Open Referral UK v1 packages: detection from headers, import as groups, export, round trip.

The package is built in code: 3 organisations, 4 services, 5 locations. Service s1 runs at
two locations (l1, l2); s3 is inactive (at l4: imported as closed); l3 has no
coordinates, only a physical address postcode; s4 has no name of its own (its
organisation's is used).
"""

from __future__ import annotations

import csv
import json
import shutil
import zipfile

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from mapper import registers
from mapper.errors import DataValidationError, MapperError
from mapper.exports import write_package
from mapper.openreferral_format import FIELDS, FILE_NAMES, parse_hours, render_hours
from mapper.sources.base import Context
from mapper.sources.openreferral import detect_package, read, table_of

TO_LONLAT = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
#: where each location is, in British National Grid metres
SITES = {
    "l1": (530_250.0, 180_250.0),
    "l2": (532_750.0, 182_750.0),
    "l4": (531_500.0, 181_500.0),
    "l5": (530_900.0, 182_100.0),
}
POSTCODES = {"ZZ1 1AA": (530_100.0, 180_100.0), "ZZ1 1AB": (531_200.0, 180_800.0)}


def postcode_context(**kwargs) -> Context:
    frame = pd.DataFrame(
        {"x": [x for x, _ in POSTCODES.values()], "y": [y for _, y in POSTCODES.values()]},
        index=pd.Index(list(POSTCODES)),
    )
    return Context(postcodes=frame, **kwargs)


def lonlat(site: str) -> tuple[str, str]:
    lon, lat = TO_LONLAT.transform(*SITES[site])
    return f"{lat:.7f}", f"{lon:.7f}"


def tables() -> dict[str, list[dict]]:
    """The package as table -> rows (only the columns that matter; the rest written blank)."""
    locations = []
    for lid in ("l1", "l2", "l3", "l4", "l5"):
        lat, lon = lonlat(lid) if lid in SITES else ("", "")
        locations.append(
            {
                "id": lid,
                "organization_id": "o1",
                "name": f"Hall {lid}",
                "latitude": lat,
                "longitude": lon,
            }
        )
    return {
        "organization": [
            {
                "id": "o1",
                "name": "Tinytown Food Bank Trust",
                "url": "https://food.example.org",
                "description": "Food for all",
            },
            {"id": "o2", "name": "Tinytown Advice", "email": "hello@advice.example.org"},
            {"id": "o3", "name": "Youth Org", "url": "https://youth.example.org"},
        ],
        "service": [
            {
                "id": "s1",
                "organization_id": "o1",
                "name": "Food bank",
                "status": "active",
                "description": "Emergency food parcels",
                "assured_date": "2024-02-01",
            },
            {
                "id": "s2",
                "organization_id": "o2",
                "name": "Advice drop-in",
                "status": "active",
                "url": "https://advice.example.org/drop-in",
                "email": "dropin@advice.example.org",
                "assured_date": "2023-11-30T10:00:00Z",
            },
            {"id": "s3", "organization_id": "o2", "name": "Old lunch club", "status": "inactive"},
            {
                "id": "s4",
                "organization_id": "o3",
                "name": "",
                "status": "active",
                "taxonomy_ids": "t5",
            },
        ],
        "location": locations,
        "service_at_location": [
            {"id": "sal1", "service_id": "s1", "location_id": "l1"},
            {"id": "sal2", "service_id": "s1", "location_id": "l2"},
            {"id": "sal3", "service_id": "s2", "location_id": "l3"},
            {"id": "sal4", "service_id": "s3", "location_id": "l4"},
            {"id": "sal5", "service_id": "s4", "location_id": "l5"},
        ],
        "physical_address": [
            {
                "id": "a1",
                "location_id": "l1",
                "address_1": "1 High Street",
                "city": "Tinytown",
                "postal_code": "zz1 1aa",
            },
            {
                "id": "a3",
                "location_id": "l3",
                "address_1": "Advice Centre",
                "address_2": "2 Low Road",
                "city": "Tinytown",
                "postal_code": "ZZ11AB",
            },
        ],
        "phone": [
            {"id": "p1", "service_id": "s1", "number": "020 7946 0001"},
            {
                "id": "p2",
                "service_at_location_id": "sal2",
                "number": "020 7946 0002",
                "extension": "12",
            },
            {"id": "p5", "location_id": "l5", "number": "020 7946 0005"},
        ],
        "contact": [
            {"id": "c1", "service_id": "s1", "name": "A. Organiser", "title": "Coordinator"},
            {"id": "c3", "organization_id": "o3", "name": "Y. Worker", "title": "Lead"},
        ],
        "regular_schedule": [
            *(
                {
                    "id": f"r{d}",
                    "service_id": "s1",
                    "weekday": str(d),
                    "opens_at": "09:00",
                    "closes_at": "17:00",
                }
                for d in range(1, 6)
            ),
            {
                "id": "r6",
                "service_at_location_id": "sal2",
                "byday": "SA",
                "freq": "WEEKLY",
                "opens_at": "10:00:00",
                "closes_at": "12:00:00",
            },
            {
                "id": "r7",
                "service_id": "s2",
                "byday": "TU,TH",
                "opens_at": "10:00",
                "closes_at": "14:00",
            },
            {
                "id": "r8",
                "service_id": "s4",
                "byday": "2MO",
                "freq": "MONTHLY",
                "opens_at": "18:00",
                "closes_at": "20:00",
            },
        ],
        "language": [
            {"id": "g1", "service_id": "s2", "language": "English"},
            {"id": "g2", "service_id": "s2", "language": "Polish"},
            {"id": "g3", "service_id": "s2", "language": "English"},
        ],
        "service_taxonomy": [
            {"id": "st1", "service_id": "s1", "taxonomy_id": "t1"},
            {"id": "st2", "service_id": "s2", "taxonomy_id": "t9"},
            {"id": "st3", "service_id": "s2", "taxonomy_id": "t2"},
        ],
        "taxonomy": [
            {"id": "t1", "name": "Food Bank", "vocabulary": "esd"},
            {"id": "t2", "name": "Money advice", "vocabulary": "esd"},
            {"id": "t5", "name": "Young people", "vocabulary": "esd"},
            {"id": "t9", "name": "Something unmapped", "vocabulary": "esd"},
        ],
    }


def write_csv(path, columns, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


def write_oruk(directory, data=None, *, names=None, datapackage=True):
    """Write the package into `directory`; `names` renames tables' files."""
    data = tables() if data is None else data
    directory.mkdir(parents=True, exist_ok=True)
    names = {**FILE_NAMES, **(names or {})}
    for table, rows in data.items():
        write_csv(directory / names[table], FIELDS[table], rows)
    if datapackage:
        meta = {
            "name": "tinytown",
            "created": "2024-03-01T09:00:00Z",
            "licenses": [{"name": "OGL-UK-3.0", "title": "Open Government Licence v3.0"}],
            "resources": [{"name": t, "path": names[t]} for t in data],
        }
        (directory / "datapackage.json").write_text(json.dumps(meta), encoding="utf-8")
    return directory


def zip_folder(folder, target, *, inside=""):
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{inside}{path.name}")
    return target


def import_package(path, context=None):
    found = detect_package(path)
    assert found is not None, f"{path.name} was not detected as an ORUK package"
    return read(path, found, context or postcode_context())


def by_id(frame):
    return frame.set_index("group_id")


def accounted(imported) -> bool:
    return len(imported.frame) + len(imported.rejected) == imported.rows_read


# -- detection ------------------------------------------------------------------------


def test_every_table_is_recognised_from_its_header():
    for table, columns in FIELDS.items():
        assert table_of(columns) == table, table
    assert table_of(["id", "name", "email", "url"]) == "organization"  # minimal organisation
    assert (
        table_of(
            [
                "id",
                "service_id",
                "location_id",
                "closed",
                "opens_at",
                "closes_at",
                "start_date",
                "end_date",
            ]
        )
        is None
    )  # holiday schedules are not read
    assert table_of(["id", "organization_id", "name", "alternate_name"]) is None  # programs
    assert table_of(["LSOA21CD", "LSOA21NM", "WD25CD"]) is None


def test_a_folder_and_a_zip_are_detected(tmp_path):
    folder = write_oruk(tmp_path / "tinytown")
    found = detect_package(folder)
    assert found.kind == "groups" and found.vintage == "2024-03-01"
    assert found.extra["tables"]["service"] == "services.csv"
    assert set(found.extra["members"]) == {FILE_NAMES[t] for t in FIELDS}
    zipped = detect_package(zip_folder(folder, tmp_path / "tinytown.zip", inside="tinytown/"))
    assert zipped.extra["tables"]["location"] == "tinytown/locations.csv"


def test_renamed_files_are_detected_from_their_headers(tmp_path):
    names = {
        "organization": "orgs.csv",
        "service": "a.csv",
        "location": "places.csv",
        "service_at_location": "links.csv",
        "physical_address": "b.csv",
    }
    folder = write_oruk(tmp_path / "renamed", names=names, datapackage=False)
    found = detect_package(folder)
    assert found.extra["tables"]["service"] == "a.csv"
    assert found.extra["tables"]["physical_address"] == "b.csv"
    imported = read(folder, found, postcode_context())
    standard = import_package(write_oruk(tmp_path / "standard"))
    assert list(imported.frame["group_id"]) == list(standard.frame["group_id"])
    assert list(imported.frame["postcode"]) == list(standard.frame["postcode"])


def test_unrelated_folders_and_files_are_not_packages(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    write_csv(other / "groups.csv", ["id", "name", "email", "url"], [{"id": "1", "name": "x"}])
    write_csv(other / "points.csv", ["name", "latitude", "longitude"], [{"name": "x"}])
    write_csv(other / "organizations.csv", ["code", "title"], [{"code": "1"}])
    assert detect_package(other) is None
    # organisations and services but no locations table: not a package we can place
    data = tables()
    partial = write_oruk(tmp_path / "partial", {t: data[t] for t in ("organization", "service")})
    assert detect_package(partial) is None
    assert detect_package(partial / "services.csv") is None  # a file, not a package
    (tmp_path / "broken.zip").write_bytes(b"PK not really")
    assert detect_package(tmp_path / "broken.zip") is None


def test_a_second_file_that_looks_like_a_table_is_reported(tmp_path):
    folder = write_oruk(tmp_path / "tinytown")
    shutil.copy(folder / "services.csv", folder / "services_old.csv")
    imported = import_package(folder)
    assert any(
        "services_old.csv also looks like the service table" in str(w) for w in imported.warnings
    )


# -- import -------------------------------------------------------------------------


def test_services_at_locations_become_groups(tmp_path):
    imported = import_package(write_oruk(tmp_path / "tinytown"))
    frame = imported.frame
    assert list(frame.columns) == registers.columns("groups") + ["geometry"]
    assert frame.crs == "EPSG:27700"
    assert list(frame["group_id"]) == [
        "oruk:s1:l1", "oruk:s1:l2", "oruk:s2", "oruk:s3", "oruk:s4"]  # s3 closed (inactive)
    g = by_id(frame)
    assert g.loc["oruk:s1:l1", "name"] == "Food bank"
    assert g.loc["oruk:s4", "name"] == "Youth Org"  # the organisation's name
    assert dict(g["category"]) == {
        "oruk:s1:l1": "food",
        "oruk:s1:l2": "food",
        "oruk:s2": "advice",
        "oruk:s3": "other",
        "oruk:s4": "youth",
    }
    assert g.loc["oruk:s1:l1", "description"] == "Emergency food parcels"
    assert g.loc["oruk:s1:l1", "website"] == "https://food.example.org"  # organisation url
    assert g.loc["oruk:s2", "website"] == "https://advice.example.org/drop-in"
    assert g.loc["oruk:s2", "email"] == "dropin@advice.example.org"
    assert g.loc["oruk:s1:l1", "phone"] == "020 7946 0001"
    assert g.loc["oruk:s1:l2", "phone"] == "020 7946 0002 ext. 12"  # service-at-location's
    assert g.loc["oruk:s4", "phone"] == "020 7946 0005"  # the location's
    assert g.loc["oruk:s1:l1", "contact_name"] == "A. Organiser"
    assert g.loc["oruk:s4", "contact_name"] == "Y. Worker"  # the organisation's contact
    assert g.loc["oruk:s1:l1", "address"] == "1 High Street, Tinytown"
    assert g.loc["oruk:s2", "address"] == "Advice Centre, 2 Low Road, Tinytown"
    assert g.loc["oruk:s1:l1", "postcode"] == "ZZ1 1AA"
    assert g.loc["oruk:s2", "postcode"] == "ZZ1 1AB"
    assert pd.isna(g.loc["oruk:s1:l2", "postcode"])
    assert g.loc["oruk:s1:l1", "opening_hours"] == "Mo-Fr 09:00-17:00"
    assert g.loc["oruk:s1:l2", "opening_hours"] == "Sa 10:00-12:00"
    assert g.loc["oruk:s2", "opening_hours"] == "Tu,Th 10:00-14:00"
    assert pd.isna(g.loc["oruk:s4", "opening_hours"])  # monthly only
    assert g.loc["oruk:s2", "languages"] == "English; Polish"
    assert g.loc["oruk:s1:l1", "last_verified"] == "2024-02-01"
    assert g.loc["oruk:s2", "last_verified"] == "2023-11-30"
    assert set(g["source"]) == {"Open Referral UK"}
    assert list(g["source_id"]) == ["s1", "s1", "s2", "s3", "s4"]
    assert set(g["source_file"]) == {"tinytown"}
    assert list(g["source_row"]) == [2, 2, 3, 4, 5]
    assert imported.licence == "Open Government Licence v3.0"
    assert any("not weekly" in str(w) for w in imported.warnings)


def test_services_whose_taxonomies_map_to_nothing_get_the_default(tmp_path):
    data = tables()
    data["service_taxonomy"] = [r for r in data["service_taxonomy"] if r["taxonomy_id"] != "t2"]
    data["service"][3]["taxonomy_ids"] = ""
    g = by_id(import_package(write_oruk(tmp_path / "p", data)).frame)
    assert (g.loc["oruk:s2", "category"], g.loc["oruk:s4", "category"]) == ("other", "other")


def test_coordinates_win_and_postcodes_fill_in(tmp_path):
    g = by_id(import_package(write_oruk(tmp_path / "tinytown")).frame)
    for gid, site in [("oruk:s1:l1", "l1"), ("oruk:s1:l2", "l2"), ("oruk:s4", "l5")]:
        assert g.loc[gid, "geometry"].distance(shapely.Point(SITES[site])) < 0.1
        assert g.loc[gid, "location_source"] == "ORUK location latitude/longitude"
    assert g.loc["oruk:s2", "geometry"].equals(shapely.Point(POSTCODES["ZZ1 1AB"]))
    assert "postcode centroid" in g.loc["oruk:s2", "location_source"]


def test_inactive_services_are_imported_as_closed_with_where_that_came_from(tmp_path):
    imported = import_package(write_oruk(tmp_path / "tinytown"))
    assert imported.rows_read == 5  # services at locations
    assert accounted(imported) and not imported.rejected
    g = imported.frame.set_index("group_id")
    assert g.loc["oruk:s3", "status"] == "closed"
    assert g.loc["oruk:s3", "status_source"] == "Open Referral UK: status 'inactive'"
    assert set(g.drop(index="oruk:s3")["status"]) == {"open"}


def test_a_service_with_no_location_is_rejected(tmp_path):
    data = tables()
    data["service"].append(
        {"id": "s5", "organization_id": "o1", "name": "Phone line", "status": "active"}
    )
    data["service"].append(
        {"id": "s6", "organization_id": "o1", "name": "Online", "status": "defunct"}
    )
    data["location"].append({"id": "l6", "name": "Virtual"})
    data["service_at_location"].append({"id": "sal6", "service_id": "s6", "location_id": "l6"})
    data["service"].append(
        {"id": "s7", "organization_id": "o1", "name": "Webchat", "status": "active"}
    )
    data["service_at_location"].append({"id": "sal7", "service_id": "s7", "location_id": "l6"})
    imported = import_package(write_oruk(tmp_path / "p", data))
    assert imported.rows_read == 8 and accounted(imported)
    reasons = {(p.file, p.row): str(p) for p in imported.rejected}
    assert reasons[("services.csv", 6)] == (
        "services.csv row 6 column 'id': 's5': no location: the service is not at any "
        "location (services_at_location)"
    )
    assert ("services.csv", 7) not in reasons  # not for defunct s6's status: for l6 (nowhere)
    assert reasons[("locations.csv", 7)] == (
        "locations.csv row 7 column 'id': 'l6': no location: the location has no "
        "coordinates and no postal code (an online or telephone service?)"
    )
    warnings = [str(w) for w in imported.warnings]
    assert not any("inactive" in w for w in warnings)
    assert any("1 services with no location left out" in w for w in warnings)


def test_a_bad_row_rejects_the_package_unless_skip_invalid(tmp_path):
    data = tables()
    data["location"][4]["latitude"] = "151.2"  # l5: locations.csv row 6
    # services_at_location.csv row 6 names a location that does not exist; s4 moves to row 7
    data["service_at_location"][4]["location_id"] = "l99"
    data["service_at_location"].append({"id": "sal9", "service_id": "s4", "location_id": "l5"})
    folder = write_oruk(tmp_path / "bad", data)
    with pytest.raises(DataValidationError) as excinfo:
        import_package(folder, postcode_context(strict=True))
    message = str(excinfo.value)
    assert "2 invalid rows in the Open Referral package bad; nothing was imported" in message
    assert "locations.csv row 6 column 'latitude': '151.2'" in message
    assert "(service 's4' at location 'l5')" in message
    assert "services_at_location.csv row 6 column 'location_id': 'l99'" in message

    imported = import_package(folder, postcode_context(skip_invalid=True))
    assert list(imported.frame["group_id"]) == [
        "oruk:s1:l1", "oruk:s1:l2", "oruk:s2", "oruk:s3"]
    assert imported.rows_read == 6 and accounted(imported)
    invalid = sorted((p.file, p.row) for p in imported.rejected if p.severity == "error")
    assert invalid == [("locations.csv", 6), ("services_at_location.csv", 6)]


def test_an_unknown_postcode_points_at_the_address_row(tmp_path):
    data = tables()
    data["physical_address"][1]["postal_code"] = "ZZ1 9ZZ"
    folder = write_oruk(tmp_path / "p", data)
    with pytest.raises(
        DataValidationError,
        match=r"physical_addresses.csv row 3 column "
        r"'postal_code': 'ZZ1 9ZZ': postcode not found",
    ):
        import_package(folder, postcode_context(strict=True))
    imported = import_package(folder, postcode_context(skip_invalid=True))
    assert "oruk:s2" not in set(imported.frame["group_id"]) and accounted(imported)
    notes = [str(w) for w in imported.warnings]
    assert any("1 postcode not found in the postcode centroids" in n for n in notes)


def test_postcodes_need_the_workspace_centroids(tmp_path):
    folder = write_oruk(tmp_path / "p")
    with pytest.raises(DataValidationError, match="no postcode centroids"):
        read(folder, detect_package(folder), Context(strict=True))


def test_duplicate_service_ids_are_an_error(tmp_path):
    data = tables()
    data["service"].append(dict(data["service"][0]))
    with pytest.raises(
        DataValidationError,
        match=r"services.csv row 6 column 'id': 's1': "
        r"duplicate id \(also at row 2\)",
    ):
        import_package(write_oruk(tmp_path / "p", data))


def test_a_zipped_package_reads_like_the_folder(tmp_path):
    folder = write_oruk(tmp_path / "tinytown")
    plain = import_package(folder).frame
    for inside in ("", "tinytown/"):
        target = zip_folder(folder, tmp_path / f"tinytown{len(inside)}.zip", inside=inside)
        zipped = import_package(target).frame
        pd.testing.assert_frame_equal(
            pd.DataFrame(zipped.drop(columns=["source_file", "geometry"])),
            pd.DataFrame(plain.drop(columns=["source_file", "geometry"])),
        )
        assert set(zipped["source_file"]) == {target.name}


# -- opening hours --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Mo-Fr 09:00-17:00",
        "Tu,Th 10:00-14:00",
        "Sa 10:00-13:00",
        "Mo-Sa 08:00-20:00",
        "Mo,We,Fr 10:00-16:00",
        "Fr 12:30-14:30; Su 10:00-13:00",
        "Mo 09:00-12:00,13:00-17:00",
        "Mo 09:00-17:00; Tu 10:00-12:00",
    ],
)
def test_opening_hours_read_back_as_written(text):
    assert render_hours(parse_hours(text)) == text


def test_opening_hours_that_cannot_be_written_as_schedules():
    assert parse_hours("24/7") is None
    assert parse_hours("Mo-Fr 09:00-17:00; PH off") is None
    assert parse_hours("") is None and parse_hours(None) is None
    assert parse_hours("Sa-Mo 10:00-12:00") == [
        (5, "10:00", "12:00"),
        (6, "10:00", "12:00"),
        (0, "10:00", "12:00"),
    ]
    assert render_hours([]) is None


# -- export and round trip ----------------------------------------------------------


def demo_groups():
    from mapper.demo import demo_groups as build

    return registers.conform(build(), "groups", build().geometry)


def test_the_round_trip_keeps_ids_names_categories_postcodes_and_places(tmp_path):
    groups = demo_groups()
    out = write_package(groups, tmp_path / "export")
    found = detect_package(out)
    assert "written by mapper" in found.detail
    back = read(out, found, Context()).frame
    assert list(back["group_id"]) == list(groups["group_id"])
    for col in (
        "name",
        "category",
        "postcode",
        "opening_hours",
        "languages",
        "address",
        "description",
        "last_verified",
    ):
        assert list(back[col].fillna("")) == list(groups[col].fillna("")), col
    distance = back.geometry.distance(groups.geometry.reset_index(drop=True), align=False)
    assert distance.max() < 0.1
    for col in registers.PERSONAL_COLUMNS:
        assert back[col].isna().all(), col


def test_the_round_trip_of_an_imported_package(tmp_path):
    first = import_package(write_oruk(tmp_path / "tinytown")).frame
    back = import_package(write_package(first, tmp_path / "again")).frame
    for col in ("group_id", "name", "category", "postcode", "opening_hours", "languages"):
        assert list(back[col].fillna("")) == list(first[col].fillna("")), col
    assert back.geometry.distance(first.geometry, align=False).max() < 0.1


def test_personal_data_is_left_out_unless_asked_for(tmp_path):
    groups = demo_groups()
    personal = [v for c in registers.PERSONAL_COLUMNS for v in groups[c].dropna()]
    assert personal

    def written(directory):
        return "\n".join(p.read_text(encoding="utf-8") for p in sorted(directory.iterdir()))

    without = written(write_package(groups, tmp_path / "open"))
    leaked = [v for v in personal if v in without]
    assert not leaked, leaked[:5]
    with_ = tmp_path / "full"
    write_package(groups, with_, include_personal_data=True)
    text = written(with_)
    assert all(v in text for v in personal)
    back = read(with_, detect_package(with_), Context()).frame
    for col in registers.PERSONAL_COLUMNS:
        assert list(back[col].fillna("")) == list(groups[col].fillna("")), col


def test_the_datapackage_lists_every_table_with_its_fields(tmp_path):
    out = write_package(demo_groups(), tmp_path / "export")
    meta = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert meta["profile"] == "tabular-data-package"
    paths = {r["path"] for r in meta["resources"]}
    assert paths == {p.name for p in out.glob("*.csv")} == set(FILE_NAMES.values())
    for resource in meta["resources"]:
        with open(out / resource["path"], newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        assert header == [f["name"] for f in resource["schema"]["fields"]]
        assert header == FIELDS[resource["name"]]
    taxonomies = pd.read_csv(out / "taxonomies.csv", dtype=str)
    assert set(taxonomies["vocabulary"]) == {"mapper"}
    assert set(taxonomies["name"]) <= set(registers.GROUP_CATEGORIES)
    locations = pd.read_csv(out / "locations.csv", dtype=str)
    assert locations["latitude"].str.fullmatch(r"5\d\.\d{6}").all()
    schedules = pd.read_csv(out / "regular_schedules.csv", dtype=str)
    assert set(schedules["byday"]) <= {"MO", "TU", "WE", "TH", "FR", "SA", "SU"}


def test_write_package_checks_its_input(tmp_path):
    groups = demo_groups()
    with pytest.raises(TypeError, match=r"got <class 'pandas.*DataFrame'>"):
        write_package(pd.DataFrame(groups), tmp_path / "x")
    with pytest.raises(MapperError, match="must be in EPSG:27700"):
        write_package(groups.to_crs("EPSG:4326"), tmp_path / "x")
    twice = gpd.GeoDataFrame(pd.concat([groups.head(2), groups.head(1)]), crs=groups.crs)
    with pytest.raises(DataValidationError, match="record 3 column 'group_id'.*duplicate"):
        write_package(twice, tmp_path / "x")
    assert not (tmp_path / "x").exists()
