"""Uploads and imports bounded end to end (issue 13, item 6): GeoPackages whose layer is a
view (one that would run for ever), that have triggers of their own or columns computed
on read are refused before GDAL reads them, by the upload check and by `mapper import`
alike; text over the 2,000-character edit limit is cut and reported; the commit runs in
a child process with the check's time and memory limits.

Hostile files are built here with sqlite3 on a GeoPackage GDAL writes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point
from upload_files import *  # noqa: F403 - the fixtures (upload_files.__all__)
from upload_files import FAST, LAT, LON, csv_bytes

from mapper import overlay, registers
from mapper.errors import MapperError
from mapper.pipeline import import_file
from mapper.sources.files import check_geopackage
from mapper.uploads import Limits, UploadError, commit_upload, inspect_upload, load_report

ROOT = Path(__file__).resolve().parents[1]
#: a query that counts to 10^12: it never ends in a test's lifetime
FOREVER = ("(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
           "WHERE x < 1000000000000) SELECT count(*) FROM c)")


def plain_gpkg(path: Path, names=("Riverside Youth", "Hill Food")) -> Path:
    points = [Point(530_500 + 300 * n, 180_500) for n in range(len(names))]
    frame = gpd.GeoDataFrame({"name": list(names), "category": ["youth"] * len(names)},
                             geometry=points, crs=27700)
    frame.to_file(path, layer="groups", driver="GPKG")
    return path


def view_gpkg(path: Path) -> Path:
    """The only layer is a view that runs for ever once read."""
    plain_gpkg(path)
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE VIEW groups_view AS SELECT * FROM groups WHERE {FOREVER} > 0")
        db.execute("UPDATE gpkg_contents SET table_name = 'groups_view' "
                   "WHERE table_name = 'groups'")
        db.execute("UPDATE gpkg_geometry_columns SET table_name = 'groups_view' "
                   "WHERE table_name = 'groups'")
        db.execute("DELETE FROM gpkg_ogr_contents")
    return path


def trigger_gpkg(path: Path) -> Path:
    plain_gpkg(path)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TRIGGER spread AFTER UPDATE ON groups BEGIN "
                   "UPDATE groups SET name = name || name; END")
    return path


def generated_gpkg(path: Path) -> Path:
    plain_gpkg(path)
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE groups ADD COLUMN big TEXT "
                   "AS (printf('%.*c', 100000000, 'x')) VIRTUAL")
    return path


HOSTILE = {
    "view.gpkg": (view_gpkg, "1 view (groups_view): a view is a query run on every read"),
    "trigger.gpkg": (trigger_gpkg, "1 trigger of its own (spread)"),
    "generated.gpkg": (generated_gpkg, "its layer 'groups' has columns computed on read (big)"),
}


def test_a_plain_geopackage_passes(tmp_path):
    check_geopackage(plain_gpkg(tmp_path / "plain.gpkg"))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_geopackages_are_refused_by_the_upload_check(ws, tmp_path, name):
    build, reason = HOSTILE[name]
    data = build(tmp_path / name).read_bytes()
    started = time.monotonic()
    with pytest.raises(UploadError) as caught:
        inspect_upload(name, data, ws, limits=Limits(parse_seconds=20))
    assert time.monotonic() - started < 15
    assert caught.value.status == 400
    assert reason in caught.value.reason and "refused" in caught.value.reason
    assert str(tmp_path) not in caught.value.reason


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_geopackages_are_refused_by_import(ws, tmp_path, name):
    build, reason = HOSTILE[name]
    before = ws.path.read_bytes()
    with pytest.raises(MapperError, match="refused"):
        import_file(build(tmp_path / name), ws)
    assert ws.path.read_bytes() == before


def test_mapper_import_of_a_view_geopackage_ends_with_a_clear_error(ws, tmp_path):
    path = view_gpkg(tmp_path / "view.gpkg")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mapper", "--workspace", str(ws.directory), "import", str(path)],
        capture_output=True, text=True, timeout=120, env=env)
    assert time.monotonic() - started < 120
    assert done.returncode == 1, done.stderr
    assert "view.gpkg: cannot import it: refused: it holds 1 view (groups_view)" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_geopackage_inside_a_zip_is_refused_for_import(ws, tmp_path):
    import zipfile

    inner = plain_gpkg(tmp_path / "inner.gpkg")
    with zipfile.ZipFile(tmp_path / "packed.zip", "w") as archive:
        archive.write(inner, "inner.gpkg")
    with pytest.raises(MapperError, match="unzip it and import the .gpkg itself"):
        import_file(tmp_path / "packed.zip", ws)


# -- field length ------------------------------------------------------------------------------


def test_a_huge_field_is_cut_to_the_edit_limit_by_import(ws, tmp_path):
    huge = "N" * 5_000_000
    path = plain_gpkg(tmp_path / "huge.gpkg", names=("Fine", huge, huge))
    imported = import_file(path, ws)
    note = next(str(w) for w in imported.warnings if "longer than 2,000" in str(w))
    assert "column 'name': 2 values longer than 2,000 characters" in note
    assert "(features 2, 3)" in note
    stored = overlay.read_layer(ws, "groups")
    stored = stored[stored["source_file"] == "huge.gpkg"]
    assert sorted(stored["name"].str.len()) == [4, registers.MAX_TEXT, registers.MAX_TEXT]


def test_a_huge_csv_field_is_reported_by_the_upload_check(ws):
    data = csv_bytes(["name", "category", "latitude", "longitude", "description"],
                     [["Big", "youth", LAT, LON, "d" * 900_000]])
    report = inspect_upload("big.csv", data, ws, limits=FAST)
    assert report.accepted == 1
    assert any("column 'description': 1 value longer than 2,000" in w and "(row 2)" in w
               for w in report.warnings), report.warnings


# -- the commit has the check's limits -----------------------------------------------------------


def _waiting(ws, tmp_path):
    data = csv_bytes(["name", "category", "latitude", "longitude"],
                     [["Slow Group", "youth", LAT, LON]])
    return inspect_upload("slow.csv", data, ws, limits=Limits(parse_seconds=20),
                          owner="olivia")


def test_the_commit_is_killed_at_the_time_limit(ws, tmp_path, monkeypatch):
    report = _waiting(ws, tmp_path)
    before = ws.path.read_bytes()

    def forever(*args, **kwargs):  # the forked child runs this
        time.sleep(3600)

    monkeypatch.setattr("mapper.pipeline.import_file", forever)
    started = time.monotonic()
    with pytest.raises(MapperError, match="took longer than 2 s to import"):
        commit_upload(report.token, ws, "olivia", limits=Limits(parse_seconds=2))
    assert time.monotonic() - started < 15
    assert ws.path.read_bytes() == before
    assert load_report(report.token, ws, "olivia").file == "slow.csv"  # still waiting
    monkeypatch.undo()
    done = commit_upload(report.token, ws, "olivia", limits=Limits(parse_seconds=20))
    assert done.accepted == 1


def test_the_commit_is_refused_beyond_the_memory_limit(ws, tmp_path, monkeypatch):
    report = _waiting(ws, tmp_path)
    before = ws.path.read_bytes()

    def greedy(*args, **kwargs):
        return bytearray(600 * 1024 * 1024)

    monkeypatch.setattr("mapper.pipeline.import_file", greedy)
    with pytest.raises(MapperError, match="needs more memory"):
        commit_upload(report.token, ws, "olivia",
                      limits=Limits(parse_seconds=20, max_memory_bytes=200 * 1024 * 1024))
    assert ws.path.read_bytes() == before


def test_a_committed_upload_is_the_same_as_an_import(ws, tmp_path):
    report = _waiting(ws, tmp_path)
    done = commit_upload(report.token, ws, "olivia", limits=Limits(parse_seconds=20))
    assert (done.register, done.rows_read, done.accepted, done.rejected) == ("groups", 1, 1, 0)
    groups = overlay.read_layer(ws, "groups")
    assert list(groups.loc[groups["source_file"] == "slow.csv", "name"]) == ["Slow Group"]
    audit = ws.appdb.read_audit(actor="olivia")
    assert audit[0]["action"] == "import" and "1 accepted + 0 rejected = 1 input" in \
        audit[0]["detail"]
    assert pd.notna(audit[0]["at"])
