"""Incidents held compactly (mapper/compact.py): the build's compact, per-file path gives
exactly the layer the whole-frame path gives, and writing or reading in small chunks
gives exactly what one write or one read gives."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from mapper import compact, demo, store
from mapper.pipeline import COMPACT_REGISTERS, gather_registers, plan_build, read_all
from mapper.store import Workspace

HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
          "LSOA name,Crime type,Last outcome category,Context")
FORCE = "Demo Police"


def _objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Text as objects, missing as None (how the two paths may differ in dtype only)."""
    out = pd.DataFrame(frame.drop(columns="geometry")).copy()
    for column in out.columns:
        values = out[column].astype(object)
        out[column] = values.where(values.notna(), None)
    return out.reset_index(drop=True)


def _same(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    pd.testing.assert_frame_equal(_objects(a), _objects(b))
    assert a.geometry.reset_index(drop=True).geom_equals_exact(
        b.geometry.reset_index(drop=True), 0).all()


def _police_file(folder, month: str, rows: int, seed: int) -> None:
    """A police.uk street file of `rows` crimes at demo postcodes: repeated crime ids, a
    row without a location, a phone number in the context, anti-social behaviour."""
    points = pd.read_csv(folder / demo.POSTCODES_FILE)
    rng = np.random.default_rng(seed)
    pick = points.iloc[rng.integers(0, len(points), rows)]
    lon, lat = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True).transform(
        pick["Eastings"].to_numpy(float), pick["Northings"].to_numpy(float))
    lines = [HEADER]
    for k in range(rows):
        crime_id = "" if k % 5 == 0 else f"{seed:02d}{k // 3 if k % 7 == 0 else k:062x}"
        kind = "Anti-social behaviour" if k % 5 == 0 else ("Burglary", "Drugs")[k % 2]
        where = (f"{lon[k]:.6f},{lat[k]:.6f},On or near Street {k % 9}" if k != 4
                 else ",,No Location")
        context = "call 020 7946 0000" if k == 6 else ""
        lines.append(f"{crime_id},{month},{FORCE},{FORCE},{where},,,{kind},"
                     f"{'' if k % 5 == 0 else 'Under investigation'},{context}")
    (folder / f"{month}-demo-street.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    demo.write_demo_inputs(folder)
    demo.write_demo_registers(folder)
    for n, month in enumerate(("2025-01", "2025-02", "2025-03")):
        _police_file(folder, month, 40 + 10 * n, seed=n + 1)
    return folder


def _gathered(folder, compact_kinds: tuple[str, ...]):
    imported, points, _ = read_all(plan_build(folder), compact_kinds=compact_kinds)
    layers = {k: imported[k].frame for k in ("lsoas", "wards", "boroughs") if k in imported}
    return gather_registers(points, layers), points


def test_the_compact_path_gives_the_same_incidents_as_the_whole_frame(folder):
    whole, whole_points = _gathered(folder, ())
    held, held_points = _gathered(folder, COMPACT_REGISTERS)
    frame, provenance = held["incidents"]
    assert compact.is_compact(frame)
    assert isinstance(frame["month"].dtype, pd.CategoricalDtype)  # not a string a row
    expected, expected_provenance = whole["incidents"]
    assert len(expected) == 1_500 + 40 + 50 + 60 - 3  # the demo's and three files' located
    assert expected["duplicate_of"].notna().sum() > 0  # repeated crime ids are flagged
    assert (expected["description"].astype(str).str.contains("020 7946")).sum() == 0
    for rows in (7, 1_000, 100_000):  # in chunks as in one
        _same(pd.concat(list(compact.geo_chunks(frame, rows)), ignore_index=True), expected)
    assert [p.as_row() for p in provenance] == [p.as_row() for p in expected_provenance]
    # the reports say the same: rows accepted and rejected, warnings
    from mapper.pipeline import counted

    assert [counted(i) for i in held_points] == [counted(i) for i in whole_points]
    assert [[str(w) for w in i.warnings] for i in held_points] == [
        [str(w) for w in i.warnings] for i in whole_points]


def test_a_layer_written_in_chunks_reads_back_as_one_write(folder, tmp_path, monkeypatch):
    held, _ = _gathered(folder, COMPACT_REGISTERS)
    frame = held["incidents"][0]
    whole, _ = _gathered(folder, ())
    one = Workspace(tmp_path / "one")
    with one.transaction(fresh=True) as tx:
        tx.write_layer("incidents", whole["incidents"][0])
    monkeypatch.setattr(store, "WRITE_CHUNK_ROWS", 11)
    many = Workspace(tmp_path / "many")
    with many.transaction(fresh=True) as tx:
        tx.write_layer("incidents", frame)
    _same(many.read_layer("incidents"), one.read_layer("incidents"))


def test_the_analysis_reads_the_same_incidents_in_chunks(folder, tmp_path, monkeypatch):
    from mapper import analysis_run

    whole, _ = _gathered(folder, ())
    ws = Workspace(tmp_path / "ws")
    with ws.transaction(fresh=True) as tx:
        tx.write_layer("incidents", whole["incidents"][0])
    once = analysis_run._incidents_layer(ws, None)
    monkeypatch.setattr(analysis_run, "READ_CHUNK_ROWS", 13)
    chunked = analysis_run._incidents_layer(ws, None)
    pd.testing.assert_frame_equal(chunked, once)
    held, _ = _gathered(folder, COMPACT_REGISTERS)
    given = analysis_run._incidents_layer(ws, held["incidents"][0])
    columns = list(once.columns.drop("version"))
    pd.testing.assert_frame_equal(_objects(given[columns].assign(geometry=None)),
                                  _objects(once[columns].assign(geometry=None)))
    assert len(once) == len(whole["incidents"][0])
