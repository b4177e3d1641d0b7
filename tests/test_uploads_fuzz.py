"""Malformed uploads through the real HTTP endpoints: never a 5xx, always a reason.

Over 1,000 uploads in all: hypothesis-generated (random bytes under every extension;
CSV, GeoJSON, zipped Shapefile and GeoPackage files built from valid ones and then
damaged: bytes flipped, cut short, junk inserted, cells replaced by nasty values, wrong
encodings and extensions, hostile zip entry names) and a hand corpus (every whole-file
rejection of test_uploads.py plus a 200 MB zip bomb, a zip whose headers lie, NaN
coordinates, swapped latitude and longitude, formula cells, a very long line and a
polygon with 10^6 vertices). Each is posted, signed in as an officer with the CSRF
token, to ``/api/uploads`` or ``/uploads`` of the real app (Flask's test client), and:

* the status is below 500;
* a 4xx names a reason: a non-empty ``error`` (JSON) or error message (HTML), with no
  traceback and no server path;
* a 2xx is a well-formed report: accepted + rejected + not used = rows read, every
  rejected row has a reason, a token to commit it with.

CSV and GeoJSON uploads are parsed in-process (``UPLOAD_IN_PROCESS``) to keep the run
short; the zips and GeoPackages (read by GDAL's C code) and the hand corpus go through the
real child process with its time limit. Each fuzz test counts its own uploads by status and
checks them (how many ran, that valid-enough files were accepted and damaged ones rejected), so
any one of them run alone can fail, and none depends on another having run first.
"""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import tempfile
import warnings
import zipfile
from collections import Counter

import pyogrio
import pytest
from accounts import csrf_token, sign_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from upload_files import (
    CASES,
    LAT,
    LAT2,
    LON,
    LON2,
    lying_zip,
    multipart,
    points_frame,
    polygon_geojson,
    zip_bomb,
)

from mapper.web import create_app

#: rejections where a reader raised something unexpected (shown when a count check fails)
READER_FAILURES: Counter = Counter()
EXTENSIONS = [".csv", ".geojson", ".json", ".gpkg", ".zip", ".CSV", ".txt", ".xlsx", "", ".shp"]
FUZZ = {"deadline": None, "database": None, "print_blob": True,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                  HealthCheck.filter_too_much]}
REPORT_KEYS = {
    "token", "file", "size", "format", "register", "detail", "rows_read", "accepted",
    "rejected", "rejected_count", "invalid_count", "not_used", "duplicates",
    "duplicate_count", "formula_cells", "formula_count", "warnings", "can_import_all",
    "can_import_valid", "expires_at",
}


# -- the app, once per module: one parsing in-process, one through the child process ------


@pytest.fixture(scope="module")
def workspace_dir(shared_grid, tmp_path_factory):
    directory = tmp_path_factory.mktemp("uploads-fuzz") / "ws"
    shutil.copytree(shared_grid, directory)
    yield directory
    shutil.rmtree(directory / ".uploads", ignore_errors=True)


def _client(directory, **config):
    app = create_app({"TESTING": True, "WORKSPACE": str(directory), **config})
    return sign_in(app.test_client(), "officer")


@pytest.fixture(scope="module")
def fast(workspace_dir):
    return _client(workspace_dir, UPLOAD_IN_PROCESS=True)


@pytest.fixture(scope="module")
def real(workspace_dir):
    return _client(workspace_dir, UPLOAD_PARSE_SECONDS=10)


# -- posting and checking one upload ----------------------------------------------------------


def _reason(response, api: bool) -> str:
    if api:
        body = response.get_json(silent=True)
        assert isinstance(body, dict), response.get_data(as_text=True)[:300]
        assert isinstance(body.get("problems", []), list)
        return str(body.get("error") or "")
    page = response.get_data(as_text=True)
    found = re.search(r'class="upload-error__reason">(.*?)</p>', page, re.S) or re.search(
        r'class="error-message">\s*<p>(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)).strip() if found else ""


def _check_report(report: dict) -> None:
    assert REPORT_KEYS <= set(report), REPORT_KEYS - set(report)
    assert report["rows_read"] > 0 and report["token"]
    assert report["accepted"] + report["rejected_count"] + report["not_used"] == (
        report["rows_read"])
    assert len(report["rejected"]) == min(report["rejected_count"], 1000)
    assert 0 <= report["invalid_count"] <= report["rejected_count"]
    assert report["can_import_all"] == (report["invalid_count"] == 0 and report["accepted"] > 0)
    for row in report["rejected"]:
        assert row["message"].strip()
    for duplicate in report["duplicates"]:
        assert duplicate["duplicate_of"] and duplicate["reason"]
    json.dumps(report)


def upload(client, filename: str, data: bytes, *, api: bool = True,
           register: str = "auto", seen: Counter | None = None) -> int:
    """Post one upload and check the answer (see the module doc); returns its status."""
    url = "/api/uploads" if api else "/uploads"
    body, content_type = multipart({"register": register, "csrf_token": csrf_token(client)},
                                   filename, data)
    response = client.post(url, data=body, content_type=content_type)
    status = response.status_code
    if seen is not None:
        seen[status] += 1
    assert status < 500, (filename, status, response.get_data(as_text=True)[:2000])
    if status >= 400:
        reason = _reason(response, api)
        assert len(reason) >= 10, (filename, status, response.get_data(as_text=True)[:1000])
        assert "Traceback" not in reason and tempfile.gettempdir() not in reason, reason
        assert status in (400, 404, 413), (status, reason)
        if "the file could not be read (" in reason:
            READER_FAILURES[reason.split("could not be read (", 1)[1][:90]] += 1
    else:
        assert status == 200
        if api:
            _check_report(response.get_json())
        else:
            page = response.get_data(as_text=True)
            assert 'data-count="accepted"' in page and "Discard" in page
    return status


# -- strategies -------------------------------------------------------------------------------

NASTY_TEXT = [
    "", " ", "NaN", "nan", "inf", "-inf", "Infinity", "1e308", "-1e308", "1e-320", "0", "-0",
    "51.5", "-0.12", "999", "-999", "51,5", "51.5.5", "0x1F", "1_000", "=1+1",
    '=HYPERLINK("http://evil.example","click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
    "\t=1", "ZZ1 1AA", "ZZ9 9ZZ", "SW1A 1AA", "not a postcode", "yes", "no", "maybe",
    "2024-02-30", "31/12/2024", "yesterday", "2024-13", "é", "ß", "☃", "😀", "\u202e", "\ufeff",
    "\x00", "\x1b[31m", "<script>alert(1)</script>", "' OR 1=1 --", "a" * 5000, '"', '""',
    "\n", "\r\n", ",", ";", "|", "\\",
]
COLUMNS = [
    "name", "category", "type", "latitude", "longitude", "lat", "lon", "easting", "northing",
    "postcode", "date", "month", "capacity", "step_free", "phone", "email", "last_verified",
    "id", "group_id", "premises_id", "incident_id", "severity", "description", "charity_number",
]
NASTY_NAMES = [
    "../evil.shp", "../../etc/passwd", "/abs.shp", "C:/win.shp", "C:\\win.shp", "a\\b.shp",
    "dir/../../x.dbf", "layer.shp", "layer.shx", "layer.dbf", "layer.prj", "layer.cpg",
    "__MACOSX/._layer.shp", ".hidden.shp", "dir/", "", "x" * 300 + ".shp", "données.shp",
    "layer.SHP", "other.shp", "nested.zip", "readme.txt",
]


def numbers():
    return st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
        [LAT, LON, LAT2, LON2, 530_500.0, 180_500.0, 51.5, -0.12])


def cells():
    return (st.sampled_from(NASTY_TEXT) | st.text(max_size=40) | numbers().map(repr)
            | st.sampled_from([str(LAT), str(LON), "group", "youth", "hall", "Burglary"]))


@st.composite
def damaged(draw, base: bytes) -> bytes:
    """`base` with a few bytes flipped, cut, inserted, deleted or repeated."""
    data = bytearray(base)
    for op in draw(st.lists(st.sampled_from(["flip", "cut", "insert", "delete", "repeat"]),
                            min_size=1, max_size=4)):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=32))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 256))]
        else:
            data[i:i] = data[max(0, i - 64):i] * draw(st.integers(1, 4))
    return bytes(data)


#: headers a register can be read from (so rows reach the row-by-row checks)
READABLE = [
    ["name", "category", "latitude", "longitude"],
    ["name", "type", "easting", "northing", "capacity", "step_free"],
    ["type", "date", "latitude", "longitude", "severity"],
    ["name", "postcode", "phone", "email", "last_verified"],
    ["premises_id", "name", "lat", "lon"],
]


def good_cells(column: str):
    """Mostly valid values for a column, sometimes nasty ones."""
    valid = {
        "latitude": [str(LAT), str(LAT2)], "lat": [str(LAT)], "longitude": [str(LON), str(LON2)],
        "lon": [str(LON)], "easting": ["530500", "531250.5"], "northing": ["180500", "182000"],
        "postcode": ["ZZ1 0AA", "zz10ab", "ZZ2 5AZ"], "date": ["2024-05-31", "31/05/2024"],
        "capacity": ["120", "0"], "step_free": ["yes", "no"], "severity": ["1", "5"],
        "category": ["youth", "food", "Faith"], "type": ["hall", "Burglary", "library"],
    }.get(column, ["Hall", "St Mary's & Holy Trinity", "Bow Food Bank"])
    return st.sampled_from(valid) | st.sampled_from(valid) | cells()


@st.composite
def csv_files(draw) -> tuple[str, bytes]:
    if draw(st.booleans()):
        header = list(draw(st.sampled_from(READABLE)))
        rows = draw(st.lists(st.tuples(*[good_cells(c) for c in header]).map(list),
                             min_size=1, max_size=12))
    else:
        header = draw(st.lists(st.sampled_from(COLUMNS) | st.text(max_size=12), min_size=1,
                               max_size=8))
        rows = draw(st.lists(st.lists(cells(), min_size=0, max_size=len(header) + 2),
                             min_size=0, max_size=12))
    separator = draw(st.sampled_from([",", ";", "\t", "|"]))
    out = io.StringIO()
    for row in [header, *rows]:
        out.write(separator.join('"' + c.replace('"', '""') + '"'
                                 if draw(st.booleans()) else c for c in row) + "\n")
    encoding = draw(st.sampled_from(["utf-8"] * 4 + ["utf-8-sig", "cp1252", "latin-1",
                                                     "utf-16"]))
    data = out.getvalue().encode(encoding, errors="replace")
    if draw(st.integers(0, 3)) == 0:
        data = draw(damaged(data))
    extension = draw(st.sampled_from([".csv"] * 6 + EXTENSIONS))
    return "groups" + extension, data


def geometries():
    position = st.lists(numbers(), min_size=0, max_size=4)
    return st.one_of(
        st.builds(lambda c: {"type": "Point", "coordinates": c}, position),
        st.builds(lambda c: {"type": "Point", "coordinates": c},
                  st.sampled_from([[LON, LAT], [LAT, LON], [LON2, LAT2], [530500, 180500]])),
        st.builds(lambda r: {"type": "Polygon", "coordinates": [r]},
                  st.lists(position, max_size=6)),
        st.builds(lambda t, c: {"type": t, "coordinates": c},
                  st.sampled_from(["LineString", "MultiPoint", "Polygon", "Nonsense", ""]),
                  st.recursive(st.lists(numbers(), max_size=3),
                               lambda inner: st.lists(inner, max_size=3), max_leaves=10)),
        st.none(), st.integers(), st.text(max_size=10),
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | numbers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)


@st.composite
def geojson_files(draw) -> tuple[str, bytes]:
    features = draw(st.lists(st.fixed_dictionaries({
        "type": st.sampled_from(["Feature"] * 8 + ["feature", "Point"]),
        "properties": st.dictionaries(st.sampled_from(COLUMNS) | st.text(max_size=8),
                                      cells() | json_values, max_size=5)
        | st.none() | st.just({"name": "Hall", "type": "hall"}),
        "geometry": geometries(),
    }), min_size=0, max_size=8))
    if draw(st.booleans()):  # readable features with nasty coordinates and properties
        features = [point | {"properties": {"name": name, "type": "hall"}} for point, name in zip(
            draw(st.lists(st.fixed_dictionaries({"type": st.just("Feature"),
                                                 "geometry": geometries()}), min_size=1,
                          max_size=8)),
            draw(st.lists(good_cells("name"), min_size=8, max_size=8)), strict=False)]
    document = draw(st.sampled_from(["collection"] * 6 + ["feature", "value"]))
    if document == "collection":
        value = {"type": "FeatureCollection", "features": features}
    elif document == "feature":
        value = features[0] if features else {"type": "Feature"}
    else:
        value = draw(json_values)
    data = json.dumps(value, allow_nan=True).encode()
    if draw(st.integers(0, 3)) == 0:
        data = draw(damaged(data))
    extension = draw(st.sampled_from([".geojson"] * 4 + [".json"] * 2 + EXTENSIONS))
    return "halls" + extension, data


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    """A valid zipped Shapefile and GeoPackage of three halls, as bytes."""
    folder = tmp_path_factory.mktemp("valid")
    pyogrio.write_dataframe(points_frame(), folder / "halls.shp")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(folder.iterdir()):
            archive.write(part, part.name)
    pyogrio.write_dataframe(points_frame(), folder / "halls.gpkg", layer="halls")
    parts = {p.suffix: p.read_bytes() for p in folder.iterdir() if p.stem == "halls"}
    return {"zip": buffer.getvalue(), "gpkg": (folder / "halls.gpkg").read_bytes(),
            "parts": parts}


@st.composite
def zip_files(draw, valid) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["damaged", "parts", "parts", "entries", "random"]))
    if kind == "parts":  # a well-formed zip of the shapefile's parts, some damaged inside
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for suffix, content in sorted(valid["parts"].items()):
                if suffix in (".shp", ".shx", ".dbf", ".prj") and draw(st.booleans()):
                    content = draw(damaged(content))
                archive.writestr(f"halls{suffix}", content)
        data = buffer.getvalue()
    elif kind == "damaged":
        data = draw(damaged(valid["zip"]))
    elif kind == "random":
        data = draw(st.binary(max_size=2048))
    else:
        names = draw(st.lists(st.sampled_from(NASTY_NAMES) | st.text(max_size=20),
                              min_size=0, max_size=8))
        buffer = io.BytesIO()
        method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED,
                                       zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]))
        with zipfile.ZipFile(buffer, "w", method) as archive, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # duplicate names are part of the test
            for name in names:
                suffix = name[-4:].lower()
                content = valid["parts"].get(suffix) if draw(st.booleans()) else None
                if content is not None and draw(st.booleans()):
                    content = draw(damaged(content))
                try:
                    archive.writestr(zipfile.ZipInfo(name or "x"),
                                     content if content is not None else draw(
                                         st.binary(max_size=256)))
                except (ValueError, UnicodeEncodeError):
                    continue
        data = buffer.getvalue()
    return "halls" + draw(st.sampled_from([".zip"] * 5 + EXTENSIONS)), data


# -- hypothesis: 1,220 examples ---------------------------------------------------------------


def check_counts(seen: Counter, examples: int, *, accepted: int = 0, rejected: int = 0) -> None:
    """One fuzz test's uploads: every example ran, none was a 5xx, and the mix is as expected.

    ``accepted``/``rejected``: at least that many 200s / 4xx answers (a strategy that stopped
    producing readable files, or stopped damaging them, would no longer test anything).
    """
    detail = (dict(sorted(seen.items())), READER_FAILURES.most_common(5))
    assert sum(seen.values()) >= examples, detail
    assert not [status for status in seen if status >= 500], detail
    assert seen[200] >= accepted, detail
    assert sum(n for status, n in seen.items() if 400 <= status < 500) >= rejected, detail


def test_random_bytes(fast):
    seen: Counter = Counter()

    @settings(max_examples=300, **FUZZ)
    @given(data=st.binary(max_size=4096), extension=st.sampled_from(EXTENSIONS),
           api=st.booleans())
    def run(data, extension, api):
        upload(fast, "file" + extension, data, api=api, seen=seen)

    run()
    check_counts(seen, 300, rejected=250)  # a run: all 300


def test_damaged_csv(fast):
    seen: Counter = Counter()

    @settings(max_examples=340, **FUZZ)
    @given(file=csv_files(), api=st.booleans(),
           register=st.sampled_from(["auto", "groups", "premises", "incidents", "people"]))
    def run(file, api, register):
        upload(fast, *file, api=api, register=register, seen=seen)

    run()
    check_counts(seen, 340, accepted=15, rejected=200)  # a run: 47 and 293


def test_damaged_geojson(fast):
    seen: Counter = Counter()

    @settings(max_examples=300, **FUZZ)
    @given(file=geojson_files(), api=st.booleans())
    def run(file, api):
        upload(fast, *file, api=api, seen=seen)

    run()
    check_counts(seen, 300, accepted=5, rejected=200)  # a run: 21 and 279


def test_damaged_zips_through_the_child_process(real, valid_files):
    seen: Counter = Counter()

    @settings(max_examples=200, **FUZZ)
    @given(data=st.data(), api=st.booleans())
    def run(data, api):
        upload(real, *data.draw(zip_files(valid_files)), api=api, seen=seen)

    run()
    check_counts(seen, 200, accepted=10, rejected=100)  # a run: 34 and 166


def test_damaged_geopackages_through_the_child_process(real, valid_files):
    seen: Counter = Counter()

    @settings(max_examples=80, **FUZZ)
    @given(data=st.data(), api=st.booleans())
    def run(data, api):
        upload(real, "halls.gpkg", data.draw(damaged(valid_files["gpkg"])), api=api, seen=seen)

    run()
    # a run: 5 and 75 (a damaged GeoPackage is rarely still readable: no floor on the 200s)
    check_counts(seen, 80, rejected=50)


# -- the hand corpus, through the child process ------------------------------------------------


def _csv(rows: list[list]) -> bytes:
    lines = ["name,category,latitude,longitude"] + [",".join(map(str, r)) for r in rows]
    return ("\n".join(lines) + "\n").encode()


HAND = [(name, data) for name, data, _ in CASES] + [
    ("nan.csv", _csv([["A", "youth", "NaN", "NaN"], ["B", "youth", LAT, LON]])),
    ("swapped.csv", _csv([["A", "youth", LON, LAT], ["B", "youth", LON2, LAT2]])),
    ("formula.csv", _csv([['"=HYPERLINK(""http://evil.example"",""x"")"', "youth", LAT, LON],
                          ["@SUM(1)", "+cmd", LAT2, LON2]])),
    ("line.csv", b"name," + b"a" * (2 * 1024 * 1024)),
    ("nan.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "A"},
         "geometry": {"type": "Point", "coordinates": [float("nan"), float("nan")]}}]},
        allow_nan=True).encode()),
]


@pytest.mark.parametrize("api", [True, False], ids=["api", "html"])
@pytest.mark.parametrize(("filename", "data"), HAND, ids=[h[0] for h in HAND])
def test_hand_corpus(real, filename, data, api):
    upload(real, filename, data, api=api)


def test_zip_bomb_lying_zip_and_a_million_vertices(real, tmp_path):
    assert upload(real, "bomb.zip", zip_bomb()) == 400
    assert upload(real, "liar.zip", lying_zip(tmp_path), api=False) == 400
    assert upload(real, "big.geojson", polygon_geojson(1_000_000)) == 400
