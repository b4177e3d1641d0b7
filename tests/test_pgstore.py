"""The workspace layers in PostGIS (mapper/pgstore.py): the same frames as the GeoPackage,
the schema (EPSG:27700, GiST indexes, migrations), one transaction per import, and the
incident counts made in SQL."""

from __future__ import annotations

import threading
import time

import pandas as pd
import psycopg
import pytest
from pandas.testing import assert_frame_equal

from mapper import pgstore
from mapper.analysis_run import analyse
from mapper.config import Settings
from mapper.errors import MapperError
from mapper.pipeline import build_demo
from mapper.store import Provenance, Workspace


@pytest.fixture(scope="module")
def pg_demo(pg_url, tmp_path_factory):
    """The demo built and analysed into PostgreSQL, and into a GeoPackage the same way
    (the demo and its analysis are deterministic), with the app database in each one's
    directory."""
    root = tmp_path_factory.mktemp("pgdemo")
    made = {}
    for name, url in (("gpkg", ""), ("pg", pg_url)):
        ws = Workspace(root / name, url=url)
        build_demo(ws)
        analyse(ws, Settings(stability_draws=10))
        made[name] = ws
    yield made["gpkg"], made["pg"]
    pgstore.close_all()


def _same(name: str, got, expected) -> None:
    assert list(got.columns) == list(expected.columns), name
    assert dict(got.dtypes.astype(str)) == dict(expected.dtypes.astype(str)), name
    assert type(got) is type(expected), name
    if hasattr(expected, "crs"):
        assert got.crs == expected.crs, name
    assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, obj=name)


def test_every_demo_layer_reads_the_same_from_either_store(pg_demo):
    gpkg, pg = pg_demo
    assert pg.layers() and sorted(pg.layers()) == sorted(gpkg.layers())
    assert not pg.path.exists()  # nothing written beside it
    assert len(pg.layers()) >= 15
    volatile = {"neighbourhoods": ["first_run", "last_run"]}
    for name in gpkg.layers():
        expected, got = gpkg.read_layer(name), pg.read_layer(name)
        drop = [c for c in volatile.get(name, []) if c in expected]
        _same(name, got.drop(columns=drop), expected.drop(columns=drop))


def test_reading_options_match_pyogrio(pg_demo):
    gpkg, pg = pg_demo
    first = gpkg.read_layer("wards")["ward_code"].iloc[3]
    for kwargs in ({"columns": ["ward_name"]}, {"columns": []}, {"read_geometry": False},
                   {"where": f"ward_code = '{first}'"}, {"where": "ward_code = 'E05900001'"},
                   {"bbox": tuple(gpkg.read_layer("wards").total_bounds + [0, 0, -3000, -3000])}):
        expected, got = gpkg.read_layer("wards", **kwargs), pg.read_layer("wards", **kwargs)
        _same(f"wards {kwargs}", got, expected)
    assert 0 < len(pg.read_layer("wards", bbox=kwargs["bbox"])) < len(pg.read_layer("wards"))
    assert pg.read_layer("wards", where=f"ward_code = '{first}'")["ward_code"].tolist() == [first]


def test_provenance_and_meta_are_the_same(pg_demo):
    gpkg, pg = pg_demo
    columns = ["layer", "kind", "source_file", "vintage", "rows_read", "rows_imported",
               "licence", "attribution", "notes"]
    assert_frame_equal(pg.provenance()[columns], gpkg.provenance()[columns])
    assert list(pg.provenance().columns) == list(gpkg.provenance().columns)
    skip = {"created_at", "updated_at", "data_version", "analysed_data_version",
            "analysed_at", "built_from"}
    pm, gm = pg.meta(), gpkg.meta()
    assert {k: v for k, v in pm.items() if k not in skip} == {
        k: v for k, v in gm.items() if k not in skip}
    assert pm["data_version"] == pm["analysed_data_version"]


def test_layers_are_postgis_tables_in_27700_with_gist_indexes(pg_demo, pg_url):
    _, pg = pg_demo
    with psycopg.connect(pg_url) as conn:
        columns = dict(conn.execute(
            "SELECT f_table_name, srid FROM geometry_columns WHERE f_table_schema = %s",
            (pgstore.SCHEMA,)).fetchall())
        indexed = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_indexes WHERE schemaname = %s AND indexdef LIKE "
            "'%%USING gist%%'", (pgstore.SCHEMA,))}
        migrations = conn.execute(
            f"SELECT max(version) FROM {pgstore.SCHEMA}.schema_migrations").fetchone()[0]
    assert {"wards", "lsoas", "boroughs", "postcodes", "groups", "incidents"} <= set(columns)
    assert set(columns.values()) == {27700}
    assert set(columns) == indexed
    assert migrations == max(pgstore.MIGRATIONS)


def test_a_copy_either_way_reads_the_same(pg_demo, tmp_path, pg_url):
    gpkg, pg = pg_demo
    back = Workspace(tmp_path / "back", url="")
    back.copy_from(pg)
    for name in ("wards", "incidents", "ward_summary", "neighbourhoods"):
        _same(name, back.read_layer(name), pg.read_layer(name))
    assert back.meta() == pg.meta()  # the data version too: the analysis stays current
    assert_frame_equal(back.provenance(), pg.provenance())


def test_incidents_counted_by_ward_and_month_in_sql(pg_demo):
    gpkg, pg = pg_demo
    incidents = gpkg.read_layer("incidents", read_geometry=False)
    expected = (incidents.groupby(["ward_code", "month"]).size()
                .rename("incidents").reset_index().astype({"incidents": "int64"}))
    got = pgstore.incident_counts(pg.url)
    assert_frame_equal(got, expected)
    assert_frame_equal(pg.incident_counts(), expected)
    assert_frame_equal(gpkg.incident_counts(), expected)
    assert got["incidents"].sum() == len(incidents) > 1000
    with pytest.raises(MapperError, match="no column nope"):
        pgstore.incident_counts(pg.url, period="nope")


def test_a_failed_transaction_leaves_every_layer(pg_demo):
    _, pg = pg_demo
    before = pg.fingerprint()
    with pytest.raises(RuntimeError):
        with pg.transaction() as tx:
            tx.write_layer("deprivation", pg.read_layer("deprivation").head(3),
                           Provenance(layer="deprivation", kind="deprivation",
                                      source_file="x.csv"))
            tx.drop_layer("wards")
            raise RuntimeError("power cut")
    assert pg.fingerprint() == before
    assert len(pg.read_layer("wards")) == 20
    with pytest.raises(MapperError, match="another import is changing"):
        with pg.transaction():
            with pg.transaction():
                pass
    assert pg.fingerprint() == before


def test_readers_see_the_old_layer_or_the_new_while_imports_commit(pg_demo):
    """A server reading while an import swaps a layer in gets the old rows or the new,
    never an error or a mix."""
    _, pg = pg_demo
    wards = pg.read_layer("wards")
    seen: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(len(Workspace(pg.directory, url=pg.url).read_layer("wards")))
            except Exception as error:  # noqa: BLE001 - any error fails the test below
                errors.append(repr(error))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in (5, 20, 5, 20):
            with pg.transaction() as tx:
                tx.write_layer("wards", wards.head(n))
            time.sleep(0.05)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert not errors, errors[:3]
    assert set(seen) <= {5, 20} and len(seen) > 4
    assert len(pg.read_layer("wards")) == 20


def test_a_bad_url_says_so_without_the_password():
    with pytest.raises(MapperError) as caught:
        Workspace("ws", url="postgresql://ana:s3cret@127.0.0.1:1/none").exists()
    assert "s3cret" not in str(caught.value)
    assert "cannot connect" in str(caught.value)


def test_empty_frames_and_missing_values_round_trip(pg_url, tmp_path):
    frame = pd.DataFrame({"a": [1, None, 3], "b": ["x", None, "z"], "c": [1.5, float("nan"), 2.0],
                          "d": [True, False, True], "e": [True, None, False],
                          "f": pd.array([1, None, 3], dtype="Int64"),
                          "g": pd.to_datetime(["2025-01-02 03:04:05", None, "2025-03-01 00:00:00"]),
                          "h": [None, None, None]})
    stores = [Workspace(tmp_path / "g", url=""), Workspace(tmp_path / "p", url=pg_url)]
    for ws in stores:
        with ws.transaction() as tx:
            tx.write_layer("odd", frame)
            tx.write_layer("none", frame.head(0))
    for name in ("odd", "none"):
        expected, got = stores[0].read_layer(name), stores[1].read_layer(name)
        _same(name, got, expected)


def test_saved_mappings_live_in_the_database_shared_by_every_directory(pg_url, tmp_path,
                                                                        capsys):
    import json

    from mapper.cli import main
    from mapper.sources.choices import Choice

    first, second = Workspace(tmp_path / "a", url=pg_url), Workspace(tmp_path / "b", url=pg_url)
    legacy = {"mappings": {"0123abcd": {"register": "premises", "columns": {"name": "Site"},
                                        "category": None, "file": "old.csv"}}}
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "mappings.json").write_text(json.dumps(legacy))
    assert first.saved_mappings().load() == legacy["mappings"]  # read until a change
    assert second.saved_mappings().load() == {}
    first.saved_mappings().save("feedbeef", Choice("groups", {"name": "Label"}, "food"),
                                headers=["Label"], file="entries.csv")
    shared = second.saved_mappings().load()  # another host's directory sees both
    assert set(shared) == {"0123abcd", "feedbeef"}
    assert shared["feedbeef"]["category"] == "food"
    assert not (tmp_path / "b" / "mappings.json").exists()
    assert json.loads((tmp_path / "a" / "mappings.json").read_text()) == legacy  # untouched
    assert main(["--database", pg_url, "--workspace", str(tmp_path / "b"), "mapping",
                 "delete", "feed"]) == 0
    assert main(["--database", pg_url, "--workspace", str(tmp_path / "b"), "mapping",
                 "list"]) == 0
    out = capsys.readouterr().out
    listed = out.split("\n", 1)[1]  # after the line saying what was deleted
    assert listed.startswith("1 saved mapping in the database postgresql://")
    assert "0123abcd" in listed and "feedbeef" not in listed
    assert set(first.saved_mappings().load()) == {"0123abcd"}
