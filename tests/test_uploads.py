"""Uploads (mapper/uploads.py, mapper/web/uploads.py): every limit and rejection reason,
the report's contents, atomic commits and their audit row, owners and expiry, roles and
CSRF on the endpoints, and formula-cell guarding in CSV exports.

The workspace is the tiny grid of tests/factories.py (3x3 wards of 1 km from easting
530000, northing 180000; postcodes), built once and copied per test.
"""

from __future__ import annotations

import html
import io
import json
import os
import time
import zipfile

import factories as fx
import pandas as pd
import pyogrio
import pytest
from accounts import csrf_token, sign_in
from upload_files import *  # noqa: F403 - the fixtures (upload_files.__all__)
from upload_files import (
    CASES,
    CSV_TEXT,
    FAST,
    LAT,
    LAT2,
    LON,
    LON2,
    MB,
    csv_bytes,
    feature_collection,
    good_groups,
    lying_zip,
    multipart,
    point_feature,
    points_frame,
    polygon_geojson,
    rejected,
    shapefile_zip,
    staged,
    zip_bomb,
    zip_of,
)

from mapper import overlay, uploads
from mapper.errors import DataValidationError
from mapper.exports import export, formula_safe, looks_like_formula
from mapper.pipeline import import_file
from mapper.uploads import (
    Limits,
    UploadError,
    UploadNotFound,
    cleanup_stale,
    commit_upload,
    discard_upload,
    inspect_upload,
    load_report,
    safe_name,
)
from mapper.web import create_app

# -- the report -----------------------------------------------------------------------------


def test_report_on_a_small_csv_counts_every_row(ws):
    header = ["name", "category", "latitude", "longitude", "phone", "last_verified"]
    data = csv_bytes(header, [
        ["Good one", "youth", LAT, LON, "020 7946 0000", "2024-05-01"],        # row 2
        ["Swapped", "youth", LON, LAT, "", ""],                                 # row 3
        ["Not a number", "youth", "NaN", "NaN", "", ""],                        # row 4
        ["Edinburgh", "youth", 55.9533, -3.1883, "", ""],                       # row 5
        ["Good one", "youth", LAT, LON, "", ""],                                # row 6
        ['=HYPERLINK("http://evil.example","click")', "food", LAT2, LON2, "", ""],  # row 7
        ["Bad date", "youth", LAT2, LON2, "", "yesterday"],                     # row 8
        ["Phone", "youth", LAT2, LON2, "+44 20 7946 0001", ""],                 # row 9
    ])
    report = inspect_upload("groups.csv", data, ws, owner="olivia")
    assert (report.file, report.format, report.register) == ("groups.csv", "CSV", "groups")
    assert report.requested_register == "auto" and "latitude/longitude" in report.detail
    assert report.rows_read == 8
    assert report.accepted == 4  # rows 2, 6, 7, 9
    assert report.rejected_count == 4 and report.invalid_count == 3 and report.not_used == 0
    assert report.accepted + report.rejected_count + report.not_used == report.rows_read
    by_row = {p["row"]: p for p in report.rejected}
    assert sorted(by_row) == [3, 4, 5, 8]
    assert "swapped" in by_row[3]["message"] and by_row[3]["column"] == "latitude"
    assert by_row[3]["value"] == str(LON) and by_row[3]["invalid"]
    assert by_row[4]["message"] == "latitude is not a number" and by_row[4]["value"] == "NaN"
    assert "outside the study area" in by_row[5]["message"] and not by_row[5]["invalid"]
    assert by_row[8]["column"] == "last_verified" and by_row[8]["value"] == "yesterday"
    assert by_row[8]["expected"] == "e.g. 2024-05-31 or 31/05/2024"
    assert report.duplicate_count == 1
    duplicate = report.duplicates[0]
    assert (duplicate["row"], duplicate["name"], duplicate["duplicate_of_name"]) == (
        6, "Good one", "Good one")
    assert duplicate["reason"] == "same name within 50 m"
    assert report.formula_count == 1  # the phone number is not a formula
    assert report.formula_cells[0] == {
        "row": 7, "column": "name", "value": '=HYPERLINK("http://evil.example","click")'}
    assert any("formula" in w and "'" in w for w in report.warnings)
    assert report.personal_fields == ["phone"]
    assert not report.can_import_all and report.can_import_valid
    assert report.vertices is None and report.replaces == 0
    assert report.expires_at - report.created_at == pytest.approx(3600)
    assert staged(ws) == [report.token]
    again = load_report(report.token, ws, "olivia")
    assert again.as_json() == report.as_json()
    json.dumps(report.as_json())  # JSON-ready


def test_staged_uploads_are_owner_only(ws, tmp_path):
    """A staged upload holds contact details: its folders and files are the owner's
    alone, whatever the umask (mkdir's parents ignore its mode)."""
    import stat

    old = os.umask(0o022)
    try:
        inspect_upload("groups.csv", good_groups(), ws, owner="olivia")
        inspect_upload("halls.zip", shapefile_zip(tmp_path), ws, owner="olivia")
    finally:
        os.umask(old)
    root = uploads.staging_root(ws)
    paths = [root, *root.rglob("*")]
    assert len([p for p in paths if p.is_file()]) >= 6  # two files, reports, metadata
    loose = {str(p.relative_to(root)): oct(stat.S_IMODE(p.stat().st_mode)) for p in paths
             if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert loose == {}


def test_duplicates_against_the_register_and_records_replaced(ws, tmp_path):
    first = tmp_path / "council.csv"
    first.write_bytes(good_groups(2))
    import_file(first, ws)
    data = csv_bytes(["name", "category", "latitude", "longitude"],
                     [["group 0 ltd", "youth", LAT, LON], ["Somewhere else", "food", LAT2, LON2]])
    report = inspect_upload("volunteers.csv", data, ws, limits=FAST)
    assert report.duplicate_count == 1 and report.accepted == 2
    duplicate = report.duplicates[0]
    assert duplicate["row"] == 2 and duplicate["duplicate_of_file"] == "council.csv"
    assert duplicate["duplicate_of_name"] == "Group 0"
    assert report.replaces == 0
    again = inspect_upload("council.csv", good_groups(2), ws, limits=FAST)
    assert again.replaces == 2 and any("replaces them" in w for w in again.warnings)
    assert again.duplicate_count == 0  # its own earlier records are replaced, not duplicates


def test_register_can_be_chosen(ws):
    data = csv_bytes(["name", "latitude", "longitude"], [["Hall", LAT, LON]])
    # no evidence of what the rows are: never counted as groups silently, asked instead
    refused = rejected("x.csv", data, ws)
    assert refused.status == 400
    assert "cannot tell whether its rows are VCS groups, premises or incidents" in refused.reason
    assert "columns: name, latitude, longitude" in refused.reason
    report = inspect_upload("x.csv", data, ws, "premises", FAST)
    assert report.register == "premises" and report.requested_register == "premises"
    assert "unknown register" in rejected("x.csv", data, ws, register="people").reason


def test_vector_formats_are_read(ws, tmp_path):
    report = inspect_upload("halls.zip", shapefile_zip(tmp_path), ws, "premises", FAST)
    assert (report.format, report.register, report.accepted, report.vertices) == (
        "zipped Shapefile", "premises", 3, 3)
    gpkg = tmp_path / "halls.gpkg"
    pyogrio.write_dataframe(points_frame(2), gpkg, layer="halls")
    report = inspect_upload("halls.gpkg", gpkg.read_bytes(), ws, limits=FAST)
    assert (report.format, report.accepted) == ("GeoPackage", 2)
    geojson = feature_collection([point_feature("Hall", LON, LAT)])
    report = inspect_upload("halls.geojson", geojson, ws, limits=FAST)
    assert (report.format, report.accepted, report.rows_read) == ("GeoJSON", 1, 1)
    report = inspect_upload("halls.json", geojson, ws, limits=FAST)
    assert report.accepted == 1


def nan_geojson() -> bytes:
    text = feature_collection([point_feature("Good", LON, LAT), point_feature("Bad", 0, 0)])
    return text.replace(b"[0, 0]", b"[NaN, NaN]")


def test_nan_coordinates_in_geojson_are_rejected_rows_with_a_note(ws):
    report = inspect_upload("nan.geojson", nan_geojson(), ws, limits=FAST)
    assert report.rows_read == 2 and report.invalid_count == 1
    assert report.accepted + report.rejected_count + report.not_used == 2
    problem = report.rejected[0]
    assert (problem["row"], problem["row_label"]) == (2, "feature")
    assert problem["message"] == "empty or non-point geometry; expected a point, line or polygon"
    assert problem["expected"] == "a point, line or polygon"
    assert any("2 NaN values" in w and "JSON does not allow" in w for w in report.warnings)


def test_valid_features_beside_an_invalid_one_are_kept(ws):
    report = inspect_upload("nan.geojson", nan_geojson(), ws, limits=FAST)
    assert report.accepted == 1 and report.not_used == 0


def test_latin1_text_is_read_as_windows_1252(ws):
    data = csv_bytes(["name", "category", "latitude", "longitude"],
                     [["Café Nérée", "food", LAT, LON]], encoding="latin-1")
    assert inspect_upload("cafe.csv", data, ws, limits=FAST).accepted == 1


# -- whole-file rejections: limits and reasons ----------------------------------------------


@pytest.mark.parametrize(("filename", "data", "reason"), CASES, ids=[c[0] for c in CASES])
def test_whole_file_rejections_say_why(ws, filename, data, reason):
    error = rejected(filename, data, ws)
    assert reason in error.reason, error.reason
    assert error.status == 400
    assert staged(ws) == []  # nothing is left behind


def test_problems_are_listed_for_unsafe_zip_entries(ws):
    data = zip_of({"../evil.csv": b"x", "/abs.csv": b"x", "ok.shp": b"x"})
    error = rejected("slip.zip", data, ws)
    assert "2 entries that cannot be accepted" in error.reason
    assert [p["value"] for p in error.problems] == ["../evil.csv", "/abs.csv"]
    assert all(p["message"].startswith("unsafe entry") for p in error.problems)


def test_symlinks_and_encrypted_entries_are_refused(ws):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("layer.shp")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    assert "a symbolic link" in rejected("link.zip", buffer.getvalue(), ws).problems[0]["message"]
    data = bytearray(zip_of({"layer.shp": b"x"}))
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 0x1  # the "encrypted" bit of the general purpose flags
    error = rejected("secret.zip", bytes(data), ws)
    assert "'layer.shp': the entry is encrypted (password-protected)" in error.reason


def test_too_large_is_413(ws):
    error = rejected("big.csv", CSV_TEXT.encode() + b"x" * 200, ws,
                     limits=Limits(max_bytes=100, in_process=True))
    assert error.status == 413 and "more than the upload limit of 100 bytes" in error.reason


def test_huge_single_line(ws):
    error = rejected("line.csv", b"name," + b"a" * (MB + 10), ws)
    assert "line 1 is 1 MB long, more than the limit of 1 MB per line" in error.reason


def test_zip_bomb_is_refused_from_its_headers(ws):
    data = zip_bomb()
    assert len(data) < 2 * MB
    error = rejected("bomb.zip", data, ws)
    assert "this looks like a zip bomb" in error.reason and "200 MB" in error.reason


def test_total_unzipped_size_is_limited(ws):
    error = rejected("bomb.zip", zip_bomb(3 * MB), ws,
                     limits=Limits(max_unzipped_bytes=2 * MB, max_ratio=1e6, in_process=True))
    assert "unzips to 3 MB, more than the limit of 2 MB" in error.reason


def test_a_zip_whose_headers_lie_is_caught_while_unzipping(ws, tmp_path):
    error = rejected("liar.zip", lying_zip(tmp_path), ws)
    assert "the zip archive is damaged (a CRC check failed)" in error.reason


def test_truncated_zip(ws, tmp_path):
    data = shapefile_zip(tmp_path)
    for cut in (len(data) // 3, len(data) - 30):
        assert "zip" in rejected("cut.zip", data[:cut], ws).reason


def test_shapefile_needs_its_parts(ws, tmp_path):
    error = rejected("halls.zip", shapefile_zip(tmp_path, skip=(".dbf",)), ws)
    assert "holds halls.shp but not halls.dbf" in error.reason


def test_a_polygon_with_a_million_vertices(ws):
    data = polygon_geojson(1_000_000)
    error = rejected("big.geojson", data, ws, limits=Limits())  # through the child process
    assert "1 feature has more than 100,000 vertices (the most: 1,000,001)" in error.reason
    assert error.problems[0]["row"] == 1 and error.problems[0]["row_label"] == "feature"


def test_vertices_in_all_are_limited(ws):
    features = []
    for i in range(3):
        data = json.loads(polygon_geojson(400))
        feature = data["features"][0]
        feature["properties"]["name"] = f"Big {i}"
        features.append(feature)
    error = rejected("many.geojson", feature_collection(features), ws,
                     limits=Limits(max_total_vertices=1000, in_process=True))
    assert "1,203 vertices in all, more than the limit of 1,000" in error.reason


def test_polygons_within_the_limits_are_placed_at_a_point(ws):
    report = inspect_upload("hall.geojson", polygon_geojson(500), ws, limits=FAST)
    assert report.accepted == 1 and report.vertices == 501
    assert any("placed at a representative point" in w for w in report.warnings)


def test_boundary_files_are_not_uploads(ws, tmp_path):
    path = fx.write_geojson(fx.wards(), tmp_path / "wards.geojson")
    error = rejected("wards.geojson", path.read_bytes(), ws)
    assert "ward boundaries" in error.reason and "not a register of" in error.reason


def test_parse_time_limit_kills_the_reader(ws):
    started = time.monotonic()
    error = rejected("big.geojson", polygon_geojson(300_000), ws,
                     limits=Limits(parse_seconds=0.3))
    assert time.monotonic() - started < 10
    assert "big.geojson: took longer than 0.3 s to read" in error.reason
    assert staged(ws) == []


def test_reader_failures_and_crashes_are_rejections(ws, monkeypatch):
    def boom(*args):
        raise RuntimeError(f"boom in {args[0]}")

    monkeypatch.setattr(uploads, "_dry_run", boom)
    for limits in (Limits(), FAST):
        error = rejected("x.csv", CSV_TEXT.encode(), ws, limits=limits)
        assert "x.csv: the file could not be read (RuntimeError: boom in x.csv)" in error.reason

    def undecodable(*args):
        return b"\x9c".decode("utf-8")

    monkeypatch.setattr(uploads, "_dry_run", undecodable)
    error = rejected("x.gpkg", b"SQLite format 3\x00" + bytes(100), ws)
    assert "x.gpkg: the file holds text that is not valid in its encoding (byte 0)" in (
        error.reason)

    monkeypatch.setattr(uploads, "_dry_run", lambda *args: os._exit(3))
    error = rejected("x.csv", CSV_TEXT.encode(), ws, limits=Limits())
    assert "the reader stopped unexpectedly (exit code 3)" in error.reason


def test_file_names_are_made_safe():
    assert safe_name("../../etc/passwd.csv") == "passwd.csv"
    assert safe_name("C:\\Users\\me\\My groups.csv") == "My groups.csv"
    assert safe_name(".hidden.csv") == "hidden.csv"
    assert safe_name("a<b>|c\x00.csv") == "a_b__c.csv"
    assert safe_name("") == "upload" and safe_name(None) == "upload"
    assert len(safe_name("x" * 500 + ".csv")) <= 120 and safe_name("x" * 500 + ".csv").endswith(
        ".csv")


# -- commit, discard, owners, expiry ---------------------------------------------------------


def test_commit_imports_atomically_audits_and_cleans_up(ws):
    report = inspect_upload("groups.csv", good_groups(3), ws, owner="olivia")
    result = commit_upload(report.token, ws, "olivia")
    assert (result.register, result.accepted, result.rejected, result.rows_read) == (
        "groups", 3, 0, 3)
    frame = overlay.read_layer(ws, "groups")
    assert len(frame) == 3 and set(frame["source_file"]) == {"groups.csv"}
    assert frame["ward_code"].notna().all()
    audit = ws.appdb.read_audit(actor="olivia")
    assert len(audit) == 1
    row = audit[0]
    assert (row["action"], row["register"], row["record_id"]) == ("import", "groups", "")
    assert row["fields"] == ["email", "phone"]
    assert "upload groups.csv: 3 accepted + 0 rejected = 3 input" == row["detail"]
    assert "example.org" not in json.dumps(audit) and "7946" not in json.dumps(audit)
    assert staged(ws) == []
    with pytest.raises(UploadNotFound):
        commit_upload(report.token, ws, "olivia")


def test_a_failed_commit_leaves_the_workspace_byte_identical(ws):
    data = csv_bytes(["name", "category", "latitude", "longitude"],
                     [["Good", "youth", LAT, LON], ["Bad", "youth", "north", LON]])
    report = inspect_upload("groups.csv", data, ws, owner="olivia", limits=FAST)
    before = ws.path.read_bytes()
    with pytest.raises(DataValidationError, match="1 invalid row in groups.csv"):
        commit_upload(report.token, ws, "olivia")
    assert ws.path.read_bytes() == before and not ws.has_layer("groups")
    assert ws.appdb.read_audit() == []
    assert staged(ws) == [report.token]  # still waiting: import only the valid rows
    result = commit_upload(report.token, ws, "olivia", skip_invalid=True)
    assert (result.accepted, result.rejected) == (1, 1)
    assert "(invalid rows skipped)" in ws.appdb.read_audit()[0]["detail"]


def test_a_commit_failing_while_writing_changes_nothing(ws, monkeypatch):
    from mapper.store import Transaction

    report = inspect_upload("groups.csv", good_groups(2), ws, owner="olivia", limits=FAST)
    before = ws.path.read_bytes()
    listing = sorted(p.name for p in ws.directory.iterdir())

    def disk_full(self):
        raise OSError("No space left on device")

    monkeypatch.setattr(Transaction, "_finish", disk_full)
    # the import runs in a child process (with the check's limits): its failure comes back
    with pytest.raises(UploadError, match="No space left on device.*workspace is unchanged"):
        commit_upload(report.token, ws, "olivia")
    assert ws.path.read_bytes() == before
    assert sorted(p.name for p in ws.directory.iterdir()) == listing
    assert ws.appdb.read_audit() == [] and staged(ws) == [report.token]
    monkeypatch.undo()
    assert commit_upload(report.token, ws, "olivia").accepted == 2


def test_uploads_are_bound_to_their_owner(ws):
    report = inspect_upload("groups.csv", good_groups(1), ws, owner="olivia", limits=FAST)
    for actor in ("oscar", ""):
        with pytest.raises(UploadNotFound):
            commit_upload(report.token, ws, actor)
        with pytest.raises(UploadNotFound):
            discard_upload(report.token, ws, actor)
        with pytest.raises(UploadNotFound):
            load_report(report.token, ws, actor)
    for token in ("../../mapper", "x", "", "a" * 200, report.token + "/.."):
        with pytest.raises(UploadNotFound):
            commit_upload(token, ws, "olivia")
    discard_upload(report.token, ws, "olivia")
    assert staged(ws) == [] and not ws.has_layer("groups")


def test_uploads_expire_and_stale_folders_are_removed(ws, monkeypatch):
    report = inspect_upload("groups.csv", good_groups(1), ws, owner="olivia", limits=FAST)
    leftover = ws.directory / ".uploads" / "half-inspected-folder"
    leftover.mkdir()
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3601)
    with pytest.raises(UploadNotFound, match="expired"):
        commit_upload(report.token, ws, "olivia")
    monkeypatch.undo()
    fresh = inspect_upload("groups.csv", good_groups(1), ws, owner="olivia", limits=FAST)
    assert staged(ws) == [fresh.token]  # the expired and the stale folder are gone
    assert cleanup_stale(ws, Limits(ttl_s=0)) == 1 and staged(ws) == []


def test_each_user_has_a_limited_number_waiting(ws):
    limits = Limits(in_process=True, max_waiting_per_user=2)
    tokens = [inspect_upload("g.csv", good_groups(1), ws, owner="olivia", limits=limits).token
              for _ in range(3)]
    other = inspect_upload("g.csv", good_groups(1), ws, owner="oscar", limits=limits).token
    assert set(staged(ws)) == {tokens[1], tokens[2], other}


def test_other_files_in_a_zip_are_ignored_with_a_note(ws, tmp_path):
    buffer = io.BytesIO(shapefile_zip(tmp_path))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("halls/readme.txt", "about these halls")
        archive.writestr("__MACOSX/halls/._halls.shp", "mac")
    report = inspect_upload("halls.zip", buffer.getvalue(), ws, "premises", FAST)
    assert report.accepted == 3
    assert "1 other file in the zip was ignored: halls/readme.txt" in report.warnings


def test_a_zip_commit_records_the_uploaded_name(ws, tmp_path):
    report = inspect_upload("My halls.zip", shapefile_zip(tmp_path), ws, "premises", FAST,
                            owner="olivia")
    commit_upload(report.token, ws, "olivia")
    frame = overlay.read_layer(ws, "premises")
    assert len(frame) == 3 and set(frame["source_file"]) == {"My halls.zip"}
    prov = ws.provenance()
    assert "My halls.zip" in set(prov.loc[prov["layer"] == "premises", "source_file"])


# -- formula cells in CSV exports -----------------------------------------------------------


@pytest.mark.parametrize(("value", "guarded"), [
    ('=HYPERLINK("http://x","y")', True),
    ("=1+1", True),
    ("@SUM(A1)", True),
    ("+cmd|' /C calc'!A0", True),
    ("-2+3+cmd|' /C calc'!A0", True),
    ("\t=1", True),
    ("\r=1", True),
    ("-0.1234", False),
    ("+44 20 7946 0000", False),
    ("-", False),
    ("Hall", False),
    ("a=b", False),
    (None, False),
    (1.5, False),
])
def test_formula_cells_are_recognised(value, guarded):
    assert looks_like_formula(value) is guarded
    assert formula_safe(value) == ("'" + value if guarded else value)


def test_csv_exports_neutralise_formula_cells(ws, tmp_path):
    header = ["name", "category", "latitude", "longitude", "phone", "description"]
    data = csv_bytes(header, [
        ['=HYPERLINK("http://evil.example","click")', "youth", LAT, LON, "+44 20 7946 0000",
         "@SUM(1)"],
        ["Plain", "youth", LAT2, LON2, "", "- a list"],
    ])
    report = inspect_upload("f.csv", data, ws, owner="olivia", limits=FAST)
    assert {(c["row"], c["column"]) for c in report.formula_cells} == {
        (2, "name"), (2, "description"), (3, "description")}
    commit_upload(report.token, ws, "olivia")
    out = tmp_path / "out.csv"
    export(ws, "groups", out, include_personal_data=True)
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert table["name"].tolist() == ["'=HYPERLINK(\"http://evil.example\",\"click\")", "Plain"]
    assert table["description"].tolist() == ["'@SUM(1)", "'- a list"]
    assert table["phone"].iloc[0] == "+44 20 7946 0000"
    assert float(table["longitude"].iloc[0]) == pytest.approx(LON, abs=1e-6)
    assert overlay.read_layer(ws, "groups")["name"].iloc[0].startswith("=HYPERLINK")  # stored as is


# -- the web endpoints ----------------------------------------------------------------------


@pytest.fixture
def app(ws):
    return create_app({"TESTING": True, "WORKSPACE": str(ws.directory)})


@pytest.fixture
def officer(app):
    return sign_in(app.test_client(), "officer")


def send(client, url: str, filename: str | None, data: bytes = b"", *, csrf: bool = True,
         **fields):
    form = {k: str(v) for k, v in fields.items()}
    if csrf:
        form["csrf_token"] = csrf_token(client)
    body, content_type = multipart(form, filename, data)
    return client.post(url, data=body, content_type=content_type)


def text_of(response) -> str:
    """The page's text, entities decoded and white space collapsed."""
    return " ".join(html.unescape(response.get_data(as_text=True)).split())


def test_upload_form_for_officers(officer):
    page = text_of(officer.get("/uploads"))
    assert 'enctype="multipart/form-data"' in page and 'name="csrf_token"' in page
    assert 'accept=".csv,.geojson,.json,.gpkg,.zip"' in page
    for words in ("50 MB", "at most 50 files", "200 MB", "100,000 vertices per feature",
                  "1,000,000 in a file", "within 30 seconds",
                  "Decide from the file (its columns, values and name)"):
        assert words in page, words
    assert '<script' not in page.split("<main", 1)[1]  # no inline script
    assert '>Upload</a>' in page  # in the navigation for officers


def test_html_flow_report_then_commit(officer, ws):
    data = csv_bytes(["name", "category", "latitude", "longitude", "email"],
                     [["Good", "youth", LAT, LON, "a@example.org"],
                      ["Bad", "youth", "north", LON, ""]])
    response = send(officer, "/uploads", "groups.csv", data, register="auto")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-count="rows_read">2<' in page and 'data-count="accepted">1<' in page
    assert "latitude is not a number" in page and "Import only the valid rows (1 record)" in page
    # the reasons grouped and the held-back rule, as `mapper import` gives them
    assert "1 row: latitude is not a number (column &#39;latitude&#39;; row 3)" in page
    assert "Held back" in page and "1 of 2 rows (50%) cannot be used" in page
    assert "Discard" in page and page.count('name="csrf_token"') >= 3
    token = staged(ws)[0]
    assert officer.get(f"/uploads/{token}").status_code == 200
    before = ws.path.read_bytes()
    failed = officer.post(f"/uploads/{token}/commit",
                          data={"mode": "all", "csrf_token": csrf_token(officer)})
    assert failed.status_code == 400 and "1 problem: nothing was imported" in failed.get_data(
        as_text=True)
    assert ws.path.read_bytes() == before
    done = officer.post(f"/uploads/{token}/commit",
                        data={"mode": "valid", "csrf_token": csrf_token(officer)})
    assert done.status_code == 200
    assert "1 record imported" in done.get_data(as_text=True)
    assert len(overlay.read_layer(ws, "groups")) == 1 and staged(ws) == []
    assert ws.appdb.read_audit(actor="test-officer")[0]["fields"] == ["email"]
    gone = officer.post(f"/uploads/{token}/commit",
                        data={"mode": "valid", "csrf_token": csrf_token(officer)})
    assert gone.status_code == 404 and "no upload waiting" in gone.get_data(as_text=True)


def test_html_corrections_are_checked_imported_and_saved(officer, ws):
    from mapper.sources.choices import signature

    data = csv_bytes(["Site", "latitude", "longitude"], [["Grid Library", LAT, LON]])
    wrong = send(officer, "/uploads", "sites.csv", data, register="premises", map="name=Nope")
    assert wrong.status_code == 400
    assert ("--map name=Nope: no such column. The file's columns are: 'Site', 'latitude', "
            "'longitude'") in text_of(wrong)
    odd = send(officer, "/uploads", "sites.csv", data, map="colour=Site")
    assert odd.status_code == 400 and "unknown field 'colour'" in text_of(odd)
    response = send(officer, "/uploads", "sites.csv", data, register="auto",
                    category="library", map="name=Site\n")
    page = text_of(response)
    assert response.status_code == 200
    assert "Your corrections</dt><dd>--map name=Site --category 'library'</dd>" in page
    assert "Would add</dt><dd class=\"upload-gains\">premises +1 (library +1)</dd>" in page
    token = staged(ws)[0]
    done = officer.post(f"/uploads/{token}/commit",
                        data={"mode": "all", "csrf_token": csrf_token(officer)})
    sig = signature(["Site", "latitude", "longitude"])
    assert "Gained: premises +1 (library +1)" in text_of(done)
    assert f"saved as mapping {sig}" in text_of(done)
    assert overlay.read_layer(ws, "premises")["type"].tolist() == ["library"]
    # the next upload of the same columns is read the same way, and says so
    again = send(officer, "/uploads", "more.csv", data)
    assert f"the mapping saved as {sig} (--map name=Site --category 'library')" in text_of(again)


def test_html_discard(officer, ws):
    send(officer, "/uploads", "groups.csv", good_groups(1))
    token = staged(ws)[0]
    response = officer.post(f"/uploads/{token}/discard", data={"csrf_token": csrf_token(officer)})
    assert response.status_code == 200 and "groups.csv was discarded" in response.get_data(
        as_text=True)
    assert staged(ws) == [] and not ws.has_layer("groups")


def test_html_rejection_page(officer):
    response = send(officer, "/uploads", "evil.zip", zip_of({"../evil.csv": b"x"}))
    page = text_of(response)
    assert response.status_code == 400
    assert 'class="upload-error__reason"' in page and "'..' (a parent folder)" in page
    missing = send(officer, "/uploads", None)
    assert missing.status_code == 400 and "Choose a file" in missing.get_data(as_text=True)


def test_api_flow(officer, ws):
    response = send(officer, "/api/uploads", "groups.csv", good_groups(2), register="groups")
    assert response.status_code == 200
    report = response.get_json()
    assert report["accepted"] == 2 and report["can_import_all"] and report["token"]
    commit = officer.post(f"/api/uploads/{report['token']}/commit", json={"skip_invalid": False},
                          headers={"X-CSRF-Token": csrf_token(officer)})
    assert commit.status_code == 200
    assert commit.get_json()["imported"]["accepted"] == 2
    again = officer.post(f"/api/uploads/{report['token']}/commit",
                         headers={"X-CSRF-Token": csrf_token(officer)})
    assert again.status_code == 404 and "no upload waiting" in again.get_json()["error"]


def test_api_rejection_and_validation_errors(officer, ws):
    bad = send(officer, "/api/uploads", "bomb.zip", zip_bomb(20 * MB))
    assert bad.status_code == 400
    assert "zip bomb" in bad.get_json()["error"] and bad.get_json()["problems"] == []
    data = csv_bytes(["name", "category", "latitude", "longitude"],
                     [["Bad", "youth", "north", LON]])
    token = send(officer, "/api/uploads", "bad.csv", data).get_json()["token"]
    failed = officer.post(f"/api/uploads/{token}/commit",
                          headers={"X-CSRF-Token": csrf_token(officer)})
    body = failed.get_json()
    assert failed.status_code == 400 and body["error"] == "1 problem: nothing was imported"
    assert body["problems"][0]["row"] == 2 and body["problems"][0]["column"] == "latitude"
    discard = officer.post(f"/api/uploads/{token}/discard",
                           headers={"X-CSRF-Token": csrf_token(officer)})
    assert discard.get_json() == {"discarded": token}


def test_too_large_requests_are_413_with_a_reason(ws):
    app = create_app({"TESTING": True, "WORKSPACE": str(ws.directory),
                      "UPLOAD_MAX_BYTES": 2000})
    assert app.config["MAX_CONTENT_LENGTH"] == 2000 + MB
    client = sign_in(app.test_client(), "officer")
    for url in ("/uploads", "/api/uploads"):
        response = send(client, url, "big.csv", CSV_TEXT.encode() + b"x" * 5000)
        assert response.status_code == 413
        text = (response.get_json() or {}).get("error") or response.get_data(as_text=True)
        assert "more than the upload limit of 2 KB" in text, text
    huge = send(client, "/api/uploads", "huge.csv", b"x" * (MB + 5000))  # over MAX_CONTENT_LENGTH
    assert huge.status_code == 413
    assert huge.get_json()["error"] == "The upload is larger than the limit of 2 KB per file."
    huge = send(client, "/uploads", "huge.csv", b"x" * (MB + 5000))
    page = huge.get_data(as_text=True)
    assert huge.status_code == 413 and "larger than the limit of 2 KB per file" in page


def test_roles_and_csrf(app, ws):
    anonymous = app.test_client()
    response = anonymous.get("/uploads")
    assert response.status_code == 302 and "/signin" in response.headers["Location"]
    assert send(anonymous, "/uploads", "g.csv", good_groups(1)).status_code == 401
    response = send(anonymous, "/api/uploads", "g.csv", good_groups(1))
    assert response.status_code == 401 and response.get_json()["error"]
    assert '>Upload</a>' not in anonymous.get("/").get_data(as_text=True)

    partner = sign_in(app.test_client(), "partner")
    assert partner.get("/uploads").status_code == 403
    response = send(partner, "/api/uploads", "g.csv", good_groups(1))
    assert response.status_code == 403 and "officer role" in response.get_json()["error"]

    officer = sign_in(app.test_client(), "officer")
    response = send(officer, "/uploads", "g.csv", good_groups(1), csrf=False)
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    response = send(officer, "/api/uploads", "g.csv", good_groups(1), csrf=False)
    assert response.status_code == 400 and "CSRF" in response.get_json()["error"]
    assert staged(ws) == []
    token = send(officer, "/api/uploads", "g.csv", good_groups(1)).get_json()["token"]
    for url in (f"/uploads/{token}/commit", f"/uploads/{token}/discard",
                f"/api/uploads/{token}/commit", f"/api/uploads/{token}/discard"):
        assert officer.post(url, data={"mode": "all"}).status_code == 400, url
        assert partner.post(url, data={"csrf_token": csrf_token(partner)}).status_code == 403
    other = sign_in(app.test_client(), "officer", username="another-officer")
    for url in (f"/uploads/{token}/commit", f"/api/uploads/{token}/commit"):
        response = other.post(url, data={"mode": "all", "csrf_token": csrf_token(other)})
        assert response.status_code == 404, url
    assert other.get(f"/uploads/{token}").status_code == 404
    assert staged(ws) == [token] and not ws.has_layer("groups")
