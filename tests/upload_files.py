"""Files and helpers shared by the upload tests (tests/test_uploads.py, the fuzz tests,
the bounds and validation-gap tests): the built tiny grid to upload into, coordinates
inside its wards, and hand-made files (CSV, GeoJSON, zips, hostile archives).

The fixtures are this module's ``__all__``; a test module takes them with one star
import (``from upload_files import *  # noqa: F403``), helpers by name.

``base_dir``
    the built tiny grid (conftest.py ``shared_grid``), this module's copy.
``ws``
    a Workspace on a copy of it for one test.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import zipfile

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from mapper.store import Workspace
from mapper.uploads import (
    Limits,
    UploadError,
    inspect_upload,
)

__all__ = ["base_dir", "ws"]

MB = 1024 * 1024
#: child-process parsing (the default) for most tests; the fast path where said
FAST = Limits(in_process=True)


# -- the workspace --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base_dir(shared_grid, tmp_path_factory):
    """The built tiny grid: this module's copy (tests copy it again, in ``ws``)."""
    directory = tmp_path_factory.mktemp("uploads") / "ws"
    shutil.copytree(shared_grid, directory)
    return directory


@pytest.fixture
def ws(base_dir, tmp_path) -> Workspace:
    directory = tmp_path / "ws"
    shutil.copytree(base_dir, directory)
    return Workspace(directory)


def lonlat(x: float, y: float) -> tuple[float, float]:
    """WGS84 longitude, latitude of a British National Grid point."""
    point = gpd.GeoSeries([Point(x, y)], crs=27700).to_crs(4326).iloc[0]
    return round(point.x, 7), round(point.y, 7)


LON, LAT = lonlat(530_500, 180_500)  # inside ward E05900001
LON2, LAT2 = lonlat(531_500, 181_500)


def csv_bytes(header: list[str], rows: list[list], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    pd.DataFrame(rows, columns=header).to_csv(out, index=False)
    return out.getvalue().encode(encoding)


def good_groups(n: int = 3) -> bytes:
    rows = [[f"Group {i}", "youth", LAT2 if i % 2 else LAT, LON2 if i % 2 else LON,
             "020 7946 0000", f"g{i}@example.org"] for i in range(n)]
    return csv_bytes(["name", "category", "latitude", "longitude", "phone", "email"], rows)


def points_frame(n: int = 3) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": [f"Hall {i}" for i in range(n)], "type": ["hall"] * n},
        geometry=[Point(530_100 + 300 * i, 180_100 + 200 * i) for i in range(n)],
        crs=27700,
    )


def shapefile_zip(tmp_path, frame: gpd.GeoDataFrame | None = None, name: str = "halls",
                  *, skip: tuple[str, ...] = ()) -> bytes:
    folder = tmp_path / f"shp-{name}"
    folder.mkdir()
    pyogrio.write_dataframe(points_frame() if frame is None else frame, folder / f"{name}.shp")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(folder.iterdir()):
            if part.suffix not in skip:
                archive.write(part, f"{name}/{part.name}")
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


def zip_bomb(size: int = 200 * MB) -> bytes:
    """`size` bytes of zeros, deflated (about 200 KB), written in 1 MB steps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("bomb/bomb.shp", "w", force_zip64=True) as entry:
            zeros = bytes(MB)
            for _ in range(size // MB):
                entry.write(zeros)
        archive.writestr("bomb/bomb.shx", b"x")
        archive.writestr("bomb/bomb.dbf", b"x")
    return buffer.getvalue()


def lying_zip(tmp_path) -> bytes:
    """A shapefile zip whose central directory says the .shp unzips to 100 bytes."""
    data = bytearray(shapefile_zip(tmp_path))
    start = 0
    while (at := data.find(b"PK\x01\x02", start)) >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46: at + 46 + name_length].endswith(b".shp"):
            struct.pack_into("<I", data, at + 24, 100)
        start = at + 4
    return bytes(data)


def feature_collection(features: list[dict]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def point_feature(name: str, lon: float, lat: float) -> dict:
    return {"type": "Feature", "properties": {"name": name, "type": "hall"},
            "geometry": {"type": "Point", "coordinates": [lon, lat]}}


def polygon_geojson(vertices: int) -> bytes:
    """One polygon feature with `vertices` vertices (a circle in the grid), as text."""
    import numpy as np

    angle = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    lon = LON + 0.002 * np.cos(angle)
    lat = LAT + 0.002 * np.sin(angle)
    ring = ",".join(f"[{x:.7f},{y:.7f}]" for x, y in zip(lon, lat, strict=True))
    ring += f",[{lon[0]:.7f},{lat[0]:.7f}]"
    return (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"name":"Big","type":"hall"},"geometry":{"type":"Polygon","coordinates":[['
        + ring + "]]}}]}"
    ).encode()


def rejected(filename: str, data: bytes, ws: Workspace, limits: Limits = FAST,
             **kwargs) -> UploadError:
    with pytest.raises(UploadError) as caught:
        inspect_upload(filename, data, ws, limits=limits, **kwargs)
    error = caught.value
    assert error.reason.strip() and error.status in (400, 413), error.reason
    assert str(ws.directory) not in error.reason  # never a server path
    return error


def staged(ws: Workspace) -> list[str]:
    root = ws.directory / ".uploads"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def utf16(text: str, bom: bool = True) -> bytes:
    return text.encode("utf-16" if bom else "utf-16-le")


CSV_TEXT = f"name,category,latitude,longitude\nHall,youth,{LAT},{LON}\n"

CASES = [
    ("groups.xlsx", b"PK\x03\x04rest", "not a file type this tool takes (.xlsx)"),
    ("groups", CSV_TEXT.encode(), "no extension"),
    ("empty.csv", b"", "the file is empty"),
    ("blank.csv", b"  \n\r\n ", "the file is empty"),
    ("junk.csv", bytes(range(256)) * 4, "binary"),
    ("excel.csv", b"PK\x03\x04" + bytes(200), "an Excel workbook"),
    ("old.csv", b"\xd0\xcf\x11\xe0" + bytes(100), "old-style Excel"),
    ("utf16.csv", utf16(CSV_TEXT), "UTF-16"),
    ("utf16le.csv", utf16(CSV_TEXT, bom=False), "UTF-16"),
    ("undefined.csv", b"name,category\n\x81\x8d\x8f\x90\x9d,youth\n",
     "neither UTF-8 nor Windows-1252"),
    ("nolocation.csv", b"name,colour\nHall,red\n", "cannot import it"),
    ("header.csv", b"name,category,latitude,longitude\n", "has no rows"),
    ("array.geojson", b"[1, 2, 3]", "should start with '{'"),
    ("html.geojson", b"<html><body>404</body></html>", "should start with '{'"),
    ("latin1.geojson", '{"type": "FeatureCollection", "name": "Caf\xe9"}'.encode("latin-1"),
     "not UTF-8 text"),
    ("utf16.geojson", utf16('{"type": "FeatureCollection"}'), "UTF-16"),
    ("truncated.geojson", feature_collection([point_feature("A", LON, LAT)])[:-9],
     "not valid JSON"),
    ("polygon.geojson", b'{"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,0]]]}',
     "a bare Polygon geometry"),
    ("feature.geojson", json.dumps(point_feature("A", LON, LAT)).encode(), "a single Feature"),
    ("topo.geojson", b'{"type": "Topology", "objects": {}}', "its type is 'Topology'"),
    ("notype.json", b'{"features": []}', "it has no type"),
    ("nofeatures.geojson", b'{"type": "FeatureCollection", "features": {}}', "no list of"),
    ("zero.geojson", b'{"type": "FeatureCollection", "features": []}', "has no features"),
    ("badfeature.geojson", b'{"type": "FeatureCollection", "features": [1, {"type": "x"}]}',
     "2 features are malformed"),
    ("deep.geojson", b'{"type": "FeatureCollection", "features": ' + b"[" * 100_000
     + b"]" * 100_000 + b"}", "nested too deeply"),
    ("notgpkg.gpkg", b"hello, this is not a database", "not a GeoPackage"),
    ("broken.gpkg", b"SQLite format 3\x00" + bytes(2000), "GDAL cannot read it"),
    ("random.zip", os.urandom(3000), "not a valid zip archive"),
    ("empty.zip", zip_of({}), "the zip archive is empty"),
    ("many.zip", zip_of({f"f{i}.txt": b"x" for i in range(51)}),
     "the zip holds 51 entries; at most 50"),
    ("slip.zip", zip_of({"../evil.csv": b"x"}), "'..' (a parent folder)"),
    ("abs.zip", zip_of({"/abs.csv": b"x"}), "an absolute path"),
    ("backslash.zip", zip_of({"..\\evil.shp": b"x"}), "a backslash"),
    ("drive.zip", zip_of({"C:/evil.shp": b"x"}), "a drive letter"),
    ("csvzip.zip", zip_of({"data/groups.csv": CSV_TEXT.encode()}),
     "no shapefile (.shp); found: data/groups.csv; upload groups.csv itself"),
    ("two.zip", zip_of({"a.shp": b"x", "b.shp": b"x"}), "2 shapefiles"),
    ("nodbf.zip", zip_of({"a.shp": b"x", "a.shx": b"x"}), "not a.dbf"),
    ("garbage.zip", zip_of({"a.shp": b"x", "a.shx": b"x", "a.dbf": b"x"}), "GDAL cannot read"),
]


def multipart(fields: dict[str, str], filename: str | None, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body built in memory (werkzeug's test client spools bodies
    over 500 KB to a temporary file it never closes: a ResourceWarning, an error here)."""
    boundary = "upload-test-boundary-7d1c"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        .encode() for name, value in fields.items()
    ]
    if filename is not None:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            .encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"
