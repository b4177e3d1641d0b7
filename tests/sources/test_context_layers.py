"""``mapper import-context``: context layers read from an OS-like GeoPackage and an
OpenStreetMap file built in code, classified by what their columns hold, clipped to the
study area, stored atomically (``context.gpkg``) with provenance, and cleared."""

from __future__ import annotations

import pyogrio
import pytest
from contextfiles import CLIP, write_os_gpkg, write_osm

from mapper import context_store
from mapper.cli import main
from mapper.context_store import ContextStore
from mapper.errors import MapperError
from mapper.sources.context_layers import (
    OS_ATTRIBUTION,
    OSM_ATTRIBUTION,
    read_context,
)

#: the tiny workspace's wards span this (EPSG:27700)
EXTENT = (530_000.0, 180_000.0, 533_000.0, 183_000.0)


@pytest.fixture
def os_file(tmp_path):
    return write_os_gpkg(tmp_path / "os.gpkg")


@pytest.fixture
def osm_file(tmp_path):
    return write_osm(tmp_path / "extract.osm")


class Run:
    def __init__(self, code, out, err):
        self.exit_code, self.output = code, out + err


@pytest.fixture
def run(capsys):
    def invoke(workspace, *args) -> Run:
        code = main(["--workspace", str(workspace), "import-context", *map(str, args)])
        return Run(code, *capsys.readouterr())
    return invoke


def classes(found, kind):
    frame = found.frames[kind]
    return sorted(zip(frame["class"], frame["name"].fillna(""), frame["min_zoom"],
                      strict=True))


def test_os_layers_are_sorted_by_what_their_columns_hold(os_file):
    found = read_context([os_file], EXTENT)
    assert classes(found, "roads") == [("minor", "Church Lane", 13),
                                       ("primary", "High Street", 11),
                                       ("service", "", 15)]
    assert classes(found, "rail") == [("rail", "", 11)]  # the tunnel is not drawn
    # only the suburb: the town is 70 km away, a woodland is no settlement
    assert classes(found, "places") == [("suburb", "Millbrook", 12)]
    # layers whose columns say nothing: taken from their names, and the report says so
    assert classes(found, "water") == [("water", "", 13)]  # 0.12 km2: not a large lake
    assert classes(found, "buildings") == [("building", "", 15)]
    notes = "\n".join(found.notes)
    assert "surfacewater: 1 of 1 polygons kept (assumed water from the layer's name" in notes
    assert "fields: skipped (1 polygons whose columns hold no road" in notes
    assert "--kind" in notes and "--layer fields" in notes
    [source] = found.sources
    assert source["attribution"] == OS_ATTRIBUTION
    assert source["licence"] == "Open Government Licence v3.0"


def test_osm_tags_decide_and_far_features_are_left_out(osm_file):
    found = read_context([osm_file], EXTENT)
    assert classes(found, "roads") == [("minor", "Elm Street", 13),
                                       ("primary", "Long Road", 11)]  # no footway, no Paris
    assert classes(found, "water") == [("river", "River Lea", 12)]
    assert classes(found, "rail") == [("rail", "", 11)]
    assert classes(found, "buildings") == [("building", "", 15)]
    assert classes(found, "places") == [("suburb", "Eastholme", 12)]  # the hamlet is unnamed
    [source] = found.sources
    assert source["attribution"] == OSM_ATTRIBUTION
    assert "ODbL" in source["licence"]


def test_features_are_clipped_to_the_area_and_its_margin(os_file):
    found = read_context([os_file], EXTENT)
    roads = found.frames["roads"].set_index("name")
    a_road = roads.loc["High Street", "geometry"]
    # from 530.5 km to the clip box's east edge (533 km + 2 km margin), not 560 km
    assert a_road.bounds == (530_500.0, 181_500.0, CLIP[2], 181_500.0)
    assert a_road.length == pytest.approx(4_500.0)
    for frame in found.frames.values():
        west, south, east, north = frame.total_bounds
        assert west >= CLIP[0] and south >= CLIP[1] and east <= CLIP[2] and north <= CLIP[3]
    assert found.frames["roads"].crs.to_epsg() == 27700


def test_kind_and_layer_override(os_file):
    found = read_context([os_file], EXTENT, kind="water", layers=["fields"])
    assert list(found.frames) == ["water"]
    assert classes(found, "water") == [("water", "", 13)]
    assert any("road_link: skipped (not in --layer)" in n for n in found.notes)
    with pytest.raises(MapperError, match="no layer named nowhere .*layers: .*road_link"):
        read_context([os_file], EXTENT, layers=["nowhere"])


def test_a_file_with_nothing_to_draw_says_what_it_skipped(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    path = tmp_path / "plots.gpkg"
    gpd.GeoDataFrame({"crop": ["oats"]}, geometry=[box(531_000, 181_000, 531_100, 181_100)],
                     crs="EPSG:27700").to_file(path, layer="plots", driver="GPKG")
    with pytest.raises(MapperError, match="plots: skipped .*--kind"):
        read_context([path], EXTENT)


def test_cli_imports_summarises_and_clears(tiny_workspace, os_file, osm_file, run):
    result = run(tiny_workspace, str(os_file), str(osm_file))
    assert result.exit_code == 0, result.output
    assert "roads" in result.output and "(minor 2, primary 2, service 1)" in result.output
    assert "OpenStreetMap contributors" in result.output
    store = ContextStore(tiny_workspace)
    assert store.kinds() == ["water", "buildings", "roads", "rail", "places"]
    assert len(pyogrio.read_dataframe(store.path, layer="roads")) == 5
    assert store.attributions() == [OS_ATTRIBUTION, OSM_ATTRIBUTION]
    assert set(store.sources()["source_file"]) == {"os.gpkg", "extract.osm"}
    # another import replaces the kinds it brings and keeps the others
    result = run(tiny_workspace, str(os_file), "--layer", "names")
    assert result.exit_code == 0, result.output
    assert len(pyogrio.read_dataframe(store.path, layer="places")) == 1
    assert len(pyogrio.read_dataframe(store.path, layer="roads")) == 5
    sources = store.sources()
    assert sources["kinds"].tolist() == [
        "buildings 1, rail 1, roads 3, water 1",           # os.gpkg before: its places went
        "buildings 1, rail 1, roads 2, water 1",           # extract.osm: its place went
        "places 1"]                                        # os.gpkg's names, again
    assert sources["features"].tolist() == [6, 5, 1]
    result = run(tiny_workspace, "--clear")
    assert result.exit_code == 0 and "removed" in result.output
    assert not store.exists() and store.kinds() == []


def test_a_failed_import_leaves_the_previous_context(tiny_workspace, os_file, osm_file,
                                                     monkeypatch, tmp_path, run):
    assert run(tiny_workspace, str(osm_file)).exit_code == 0
    store = ContextStore(tiny_workspace)
    before = store.path.read_bytes()
    # a file that is not GIS data: a clear message, no traceback, nothing changed
    bad = tmp_path / "notes.gpkg"
    bad.write_text("not a GeoPackage")
    result = run(tiny_workspace, str(bad))
    assert result.exit_code == 1 and "notes.gpkg" in result.output
    assert "Traceback" not in result.output
    assert store.path.read_bytes() == before
    # the disk fails half-way through writing: the old file stays, no temporary is left
    real = pyogrio.write_dataframe
    calls = []

    def failing(frame, path, **kwargs):
        calls.append(kwargs.get("layer"))
        if len(calls) == 2:
            raise OSError("disk full")
        return real(frame, path, **kwargs)

    monkeypatch.setattr(context_store.pyogrio, "write_dataframe", failing)
    with pytest.raises(OSError, match="disk full"):
        store.replace(read_context([os_file], EXTENT).frames, [])
    assert store.path.read_bytes() == before
    assert not list(tiny_workspace.glob(f"{context_store.TMP_PREFIX}*"))


def test_import_needs_a_workspace(tmp_path, osm_file, run):
    result = run(tmp_path / "none", str(osm_file))
    assert result.exit_code == 1 and "no workspace" in result.output
