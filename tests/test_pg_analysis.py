"""The analysis on the PostgreSQL store counts the incidents in the database
(:func:`mapper.pgstore.incident_summary`, GROUP BY in SQL) and never reads their rows;
its ward summary is the embedded store's, for the demo and for a tiny hand-made case
with the awkward rows (months only in ``date``, malformed months, missing types and
wards, a force's strays over its boundary, edits made in the web app)."""

from __future__ import annotations

import factories as fx
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from mapper import pgstore
from mapper.analysis.incidents import incident_months
from mapper.analysis_run import analyse
from mapper.config import Settings
from mapper.pipeline import build, build_demo
from mapper.store import Provenance, Workspace

SETTINGS = dict(stability_draws=6)
#: columns that differ between two runs of the same analysis (when they ran)
VOLATILE = {"neighbourhoods": ["first_run", "last_run"]}


def _pair(root, pg_url, make) -> tuple[Workspace, Workspace]:
    gpkg = Workspace(root / "gpkg", url="")
    make(gpkg)
    pg = Workspace(root / "pg", url=pg_url)
    make(pg)  # built the same way (a copy would leave the CAN history behind)
    return gpkg, pg


def _refuse_incident_rows(monkeypatch) -> list[str]:
    """Make reading the incident layer's rows from PostgreSQL fail; the layers read."""
    read = pgstore.read_layer
    seen: list[str] = []

    def guarded(url, name, **kwargs):
        seen.append(name)
        if name == "incidents" and kwargs.get("where") != "1 = 0":
            raise AssertionError("the analysis read the incident rows from PostgreSQL")
        return read(url, name, **kwargs)
    monkeypatch.setattr(pgstore, "read_layer", guarded)
    return seen


def _analysed_alike(gpkg: Workspace, pg: Workspace, monkeypatch, **settings) -> list[str]:
    expected = analyse(gpkg, Settings(**SETTINGS, **settings))
    with monkeypatch.context() as patch:
        seen = _refuse_incident_rows(patch)
        got = analyse(pg, Settings(**SETTINGS, **settings))
    assert "wards" in seen  # the guard was in place
    assert_frame_equal(got.wards, expected.wards, check_exact=False, rtol=1e-12)
    assert got.notes == expected.notes
    for name in ("ward_summary", "neighbourhoods", "borough_summary"):
        want, have = gpkg.read_layer(name), pg.read_layer(name)
        drop = [c for c in VOLATILE.get(name, []) if c in want]
        assert_frame_equal(have.drop(columns=drop), want.drop(columns=drop),
                           check_exact=False, rtol=1e-12, obj=name)
    return seen


def _expected_summary(incidents: pd.DataFrame) -> pd.DataFrame:
    """The summary counted in pandas from the rows, as the analysis reads months."""
    keys = ["source_file", "type", "month", "ward_code", "borough_code"]
    frame = incidents.assign(month=incident_months(incidents).astype(object))[keys]
    frame = frame.astype(object).where(frame.notna(), None)
    counted = frame.groupby(keys, dropna=False).size().rename("n_records").reset_index()
    return counted


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in frame.columns if c != "n_records"]
    text = frame[keys].astype(object).where(frame[keys].notna(), None)
    text["n_records"] = frame["n_records"].astype("int64")
    order = text[keys].map(lambda v: "\x00" if v is None else str(v))
    return text.iloc[order.sort_values(keys).index].reset_index(drop=True)


# -- the demo ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_pair(pg_url, tmp_path_factory):
    yield _pair(tmp_path_factory.mktemp("pgagg_demo"), pg_url, build_demo)
    pgstore.close_all()


def test_the_demo_ward_summary_is_the_same_counted_in_the_database(demo_pair, monkeypatch):
    gpkg, pg = demo_pair
    _analysed_alike(gpkg, pg, monkeypatch)
    summary = pg.read_layer("ward_summary")
    assert summary["incidents"].sum() > 100  # the demo's incidents did count


def test_the_demo_incident_summary_counts_every_incident(demo_pair):
    gpkg, pg = demo_pair
    rows = gpkg.read_layer("incidents", read_geometry=False)
    got = pg.incident_summary()
    assert got is not None and gpkg.incident_summary() is None
    assert int(got["n_records"].sum()) == len(rows) > 1000
    assert len(got) < len(rows)  # a summary, not the rows
    assert_frame_equal(_sorted(got), _sorted(_expected_summary(rows)), check_dtype=False)


# -- a tiny hand-made case ------------------------------------------------------------


def _incidents(wards: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Two forces' files over 16 months and a few awkward rows: months only in the
    date, malformed or blank months, no type, no ward, strays over the boundary."""
    rng = np.random.default_rng(19)
    rows = []
    codes = wards.set_index("ward_code")["borough_code"]
    points = wards.set_index("ward_code").geometry.representative_point()
    months = [f"{2023 + (m // 12)}-{m % 12 + 1:02d}" for m in range(2, 18)]
    for file, boroughs in (("north.csv", {"E09900003"}),
                           ("south.csv", {"E09900001", "E09900002"})):
        for ward, borough in codes.items():
            if borough not in boroughs:
                continue
            for month in months:
                for kind in ("Burglary", "Robbery", "Anti-social behaviour"):
                    for _ in range(int(rng.poisson(3 if ward.endswith(("1", "5")) else 1.5))):
                        rows.append(dict(source_file=file, type=kind, month=month,
                                         date=f"{month}-1{rng.integers(0, 9)}",
                                         ward_code=ward, borough_code=borough))
    stray = dict(source_file="north.csv", type="Burglary", ward_code="E05900006",
                 borough_code="E09900002")
    rows += [dict(stray, month=months[-1], date="")] * 2  # strays: not coverage
    awkward = dict(source_file="south.csv", type="Robbery", ward_code="E05900002",
                   borough_code="E09900001")
    rows += [dict(awkward, month="", date=f"{months[-2]}-03T10:00:00"),  # month from date
             dict(awkward, month=f" {months[-1]} ", date=""),  # spaces round it
             dict(awkward, month="2024-13", date="2024-13-01"),  # no month
             dict(awkward, month=None, date=None),
             dict(awkward, type=None, month=months[-1], date=""),
             dict(awkward, ward_code=None, borough_code=None, month=months[-1], date="")]
    frame = pd.DataFrame(rows)
    frame.insert(0, "incident_id", [f"INC-{i:05d}" for i in range(len(frame))])
    frame["lsoa_code"] = None
    frame["source"] = "police"
    frame["duplicate_of"] = None
    geometry = [points.get(w) if isinstance(w, str) else None for w in frame["ward_code"]]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs="EPSG:27700"),
                            crs="EPSG:27700")


def _make_tiny(tmp_path):
    def make(ws: Workspace) -> None:
        build(fx.write_folder(tmp_path / "in"), ws)
        incidents = _incidents(ws.read_layer("wards"))
        with ws.transaction() as tx:
            tx.write_layer("incidents", incidents,
                           [Provenance(layer="incidents", kind="incidents", source_file=f)
                            for f in ("north.csv", "south.csv")])
    return make


@pytest.fixture
def tiny_pair(tmp_path):
    from pgtest import fresh_database

    with fresh_database() as url:  # its own app database: CAN ids start again
        yield _pair(tmp_path, url, _make_tiny(tmp_path))


def test_a_tiny_case_counted_in_the_database_gives_the_same_ward_summary(
        tiny_pair, monkeypatch):
    gpkg, pg = tiny_pair
    rows = gpkg.read_layer("incidents", read_geometry=False)
    assert_frame_equal(_sorted(pg.incident_summary()), _sorted(_expected_summary(rows)),
                       check_dtype=False)
    _analysed_alike(gpkg, pg, monkeypatch, can_min_population=0)
    wards = pg.read_layer("ward_summary").set_index("ward_code")
    # the strays of north.csv in Middleton do not make it covered by north.csv: its
    # burglaries count south.csv's alone
    assert wards["incidents"].notna().all()
    month = incident_months(rows)
    window = sorted(set(month.dropna()))[-12:]
    assert window[-1] == "2024-06" and len(window) == 12
    assert wards.loc["E05900006", "incidents"] == (
        (rows["ward_code"] == "E05900006") & (rows["source_file"] == "south.csv")
        & month.isin(window)).sum() > 12
    # with a named type and a shorter window the figures still agree
    _analysed_alike(gpkg, pg, monkeypatch, can_min_population=0,
                    incident_types="Burglary", incident_months=6)


def test_edits_in_the_web_app_count_as_people_see_them(tiny_pair, monkeypatch):
    gpkg, pg = tiny_pair
    for ws in (gpkg, pg):
        rows = ws.read_layer("incidents")
        first = rows.iloc[0]
        data = {c: (None if pd.isna(v) else v) for c, v in first.drop("geometry").items()}
        moved = dict(data, type="Robbery", month="2024-05")
        ws.appdb.put_record("incidents", first["incident_id"],
                            moved | {"x": first.geometry.x, "y": first.geometry.y},
                            actor="ana", expected_version=1, base=data)
        gone = rows.iloc[1]
        kept = {c: (None if pd.isna(v) else v) for c, v in gone.drop("geometry").items()}
        ws.appdb.put_record("incidents", gone["incident_id"], kept, actor="ana",
                            expected_version=1, base=kept, action="retire", retired=True)
        added = dict(data, incident_id="NEW-1", type="Burglary", month="2024-04")
        ws.appdb.put_record("incidents", "NEW-1", added | {"x": first.geometry.x,
                                                           "y": first.geometry.y},
                            actor="ana", expected_version=None)
    seen = _analysed_alike(gpkg, pg, monkeypatch, can_min_population=0)
    assert seen.count("incidents") == 1  # the edited records alone (where 1 = 0)
    totals = {ws: ws.read_layer("ward_summary")["incidents"].sum() for ws in (gpkg, pg)}
    assert totals[gpkg] == totals[pg] > 0
