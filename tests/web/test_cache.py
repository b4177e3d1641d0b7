"""The web app's caches (:mod:`mapper.web.data`): one rebuild per version by one thread,
readers served the previous version meanwhile, edits changing only what they touch, and
every kind bounded."""

from __future__ import annotations

import json
import threading
import time

import geopandas as gpd
import pandas as pd
import pytest

from mapper import overlay
from mapper.editing import current_record, retire_record, save_record
from mapper.geo import CRS_ANALYSIS
from mapper.store import Workspace
from mapper.web import contacts, create_app, data, layers


@pytest.fixture
def demo_app(demo_copy):
    data._entries.clear()
    app = create_app({"TESTING": True, "WORKSPACE": str(demo_copy)})
    return app, Workspace(demo_copy)


def _a_group(workspace: Workspace):
    return overlay.read_layer(workspace, "groups").sort_values("group_id").iloc[0]


def _latlon(group) -> tuple[float, float]:
    from mapper.geo import to_display

    point = to_display(gpd.GeoSeries([group.geometry], crs=CRS_ANALYSIS)).iloc[0]
    return point.y, point.x


def _nearest(client, lat: float, lon: float, k: int = 3) -> dict:
    response = client.get(f"/api/nearest?lat={lat}&lon={lon}&k={k}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def _edit(workspace: Workspace, group_id: str, values: dict) -> int:
    _record, version, _retired = current_record(workspace, "groups", group_id)
    return save_record(workspace, "groups", values, actor="tester", record_id=group_id,
                       expected_version=version)[1]


def test_readers_during_a_version_bump_trigger_exactly_one_rebuild(demo_app, monkeypatch):
    app, workspace = demo_app
    group = _a_group(workspace)
    lat, lon = _latlon(group)
    client = app.test_client()
    assert _nearest(client, lat, lon)["features"][0]["properties"]["name"] == group["name"]

    started, release = threading.Event(), threading.Event()
    real = layers.patch_groups_table

    def slow_patch(*args):  # the rebuild takes until every reader has been answered
        started.set()
        release.wait(10)
        return real(*args)

    monkeypatch.setattr(layers, "patch_groups_table", slow_patch)
    _edit(workspace, group["group_id"], {"name": "Renamed while read"})
    before = dict(data.builds)

    names: list[str] = []
    errors: list[str] = []

    def reader() -> None:
        try:
            feature = _nearest(app.test_client(), lat, lon)["features"][0]
            names.append(feature["properties"]["name"])
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(error))

    first = threading.Thread(target=reader)
    first.start()
    assert started.wait(10), "the first reader did not start the rebuild"
    readers = [threading.Thread(target=reader) for _ in range(8)]
    for thread in readers:
        thread.start()
    for thread in readers:  # answered while the rebuild is still held up
        thread.join(10)
    assert not any(t.is_alive() for t in readers), "readers waited for the rebuild"
    assert names == [group["name"]] * 8  # the previous version, served stale
    release.set()
    first.join(10)
    assert not errors, errors
    assert names[-1] == "Renamed while read"  # the rebuilding reader's own answer
    made = {k: data.builds.get(k, 0) - before.get(k, 0) for k in data.builds}
    assert made["api:groups"] == 1 and made["api:nearest"] == 1, made
    assert made["nearest_index"] == 1, made
    # and the next reader gets the new version without another rebuild
    assert _nearest(client, lat, lon)["features"][0]["properties"]["name"] == \
        "Renamed while read"
    assert data.builds["api:groups"] - before.get("api:groups", 0) == 1


def test_edits_change_the_cached_groups_exactly_as_a_full_rebuild(demo_app):
    """Renaming, moving, retiring and adding groups, record by record, gives the same
    feature texts, filters and nearest answers as making everything again."""
    app, workspace = demo_app
    groups = overlay.read_layer(workspace, "groups").sort_values("group_id")
    ids = groups["group_id"].tolist()
    probes = [(51.52, -0.08), (51.50, -0.12), (51.54, -0.05)]

    def state():
        with app.test_request_context("/api/nearest"):
            table = layers.groups_table()
            index = data.nearest_index()
            answers = [index.query_ids(*_grid(lat, lon), k=8)[0].tolist()
                       for lat, lon in probes]
            phones.append(contacts._table())
            return table, index, answers

    phones = []  # the contacts table at each state

    _edit(workspace, ids[0], {"name": "A new name"})  # (stores x, y to the cm: moved)
    _table, index, _ = state()
    _edit(workspace, ids[0], {"name": "Another name", "phone": "020 7946 0000"})
    _table, after_rename, _ = state()
    assert after_rename is index  # a name or contact changes nothing the index holds
    _edit(workspace, ids[1], {"lat": 51.521, "lon": -0.081})  # moved
    _edit(workspace, ids[2], {"category": "food"})  # its searches' filter changed
    _record, version, _ = current_record(workspace, "groups", ids[3])
    retire_record(workspace, "groups", ids[3], version, actor="tester")
    save_record(workspace, "groups", {"name": "A new group", "category": "faith",
                                      "lat": 51.519, "lon": -0.079}, actor="tester")
    _edit(workspace, ids[0], {"name": "Renamed twice"})
    patched, moved_index, answers = state()
    assert moved_index is not index
    counts = dict(data.builds)

    data._entries.clear()  # everything made again from the workspace
    full, full_index, full_answers = state()
    assert data.builds["api:groups"] == counts["api:groups"] + 1
    for name in ("ids", "properties", "geometry", "id_texts", "positions", "layers"):
        assert getattr(patched, name) == getattr(full, name), name
    pd.testing.assert_frame_equal(patched.frame, full.frame)
    assert answers == full_answers
    assert phones[-2] == phones[-1]  # contacts, changed record by record and made again
    assert phones[-1][ids[0]]["contact"]["phone"] == "020 7946 0000"
    assert ids[3] not in phones[-1]  # retired
    assert len(moved_index) == len(full_index) == len(groups)  # one retired, one added
    assert ids[3] not in moved_index and ids[1] in moved_index


def _grid(lat: float, lon: float) -> tuple[float, float]:
    from mapper.geo import grid_from_lonlat

    return grid_from_lonlat(lon, lat)


def test_an_edit_does_not_make_the_wards_or_the_imported_layers_again(demo_app):
    app, workspace = demo_app
    client = app.test_client()
    assert client.get("/api/wards").status_code == 200
    _nearest(client, 51.52, -0.08)
    before = dict(data.builds)
    _edit(workspace, _a_group(workspace)["group_id"], {"name": "Edited"})
    assert client.get("/api/wards").status_code == 200
    _nearest(client, 51.52, -0.08)
    made = {k: data.builds.get(k, 0) - before.get(k, 0) for k in data.builds}
    assert made.get("api:wards", 0) == 0 and made.get("imported:groups", 0) == 0, made
    assert made.get("layer:wards", 0) == 0 and made.get("meta", 0) == 0, made
    assert made["api:groups"] == 1 and made["nearest_index"] == 1, made


def test_a_rebuild_that_fails_lets_the_next_reader_try(demo_app, monkeypatch):
    app, workspace = demo_app
    client = app.test_client()
    _nearest(client, 51.52, -0.08)
    _edit(workspace, _a_group(workspace)["group_id"], {"name": "Edited"})
    real = layers.patch_groups_table
    monkeypatch.setattr(layers, "patch_groups_table",
                        lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        with app.test_request_context("/api/nearest"):
            layers.groups_table()
    assert not data._flights  # nobody is left waiting for it
    monkeypatch.setattr(layers, "patch_groups_table", real)
    names = [f["properties"]["name"] for f in _nearest(client, 51.52, -0.08, 100)["features"]]
    assert "Edited" in names


def test_waiting_inside_a_rebuild_is_not_served_stale(demo_app):
    """A cache made from another is made from that one's current version: a rebuild
    that needs a cache another thread is rebuilding waits for it."""
    app, workspace = demo_app
    with app.test_request_context("/"):
        data.cached("t:base", lambda ws: "old")
    path = data._entries["t:base"][None].store[0]
    data._entries["t:base"][None] = data._Entry((path, 0, 0), None, "old")  # out of date
    gate = threading.Event()
    got = []

    def slow(_ws):
        gate.wait(5)
        return "new"

    def builder():
        with app.test_request_context("/"):
            data.cached("t:base", slow)

    thread = threading.Thread(target=builder)
    thread.start()
    time.sleep(0.2)
    with app.test_request_context("/"):
        assert data.cached("t:base", slow) == "old"  # a reader: stale
        threading.Timer(0.3, gate.set).start()
        got.append(data.cached("t:derived", lambda ws: data.cached("t:base", slow) + "!"))
    thread.join(5)
    assert got == ["new!"]


def test_another_workspace_is_never_served_nor_waited_for(demo_app, shared_demo):
    """One process serving two workspaces (tests do; a warm-up runs in its own thread):
    while a thread rebuilds a cache for one, a reader of the other neither gets the
    first one's value (served stale it once answered a 404, "no 'ward_summary'") nor
    waits for that rebuild."""
    app, _workspace = demo_app
    other = create_app({"WORKSPACE": str(shared_demo), "TILES": "none"})
    with other.test_request_context("/"):
        assert data.cached("t:which", lambda ws: "shared") == "shared"
    gate = threading.Event()
    got = []

    def builder():  # the shared demo's value made again, held up
        with other.test_request_context("/"):
            data.forget_version()
            path = data._entries["t:which"][None].store[0]
            data._entries["t:which"][None] = data._Entry((path, 0, 0), None, "shared")
            got.append(data.cached("t:which", lambda ws: gate.wait(5) and "shared, new"))

    thread = threading.Thread(target=builder)
    thread.start()
    time.sleep(0.2)
    began = time.perf_counter()
    with app.test_request_context("/"):
        assert data.cached("t:which", lambda ws: "copy") == "copy"
    assert time.perf_counter() - began < 2, "the reader waited for another workspace"
    gate.set()
    thread.join(5)
    assert got == ["shared, new"]
    with other.test_request_context("/"):  # each its own value, never the other's
        assert data.cached("t:which", lambda ws: "made again") == "shared, new"
    with app.test_request_context("/"):
        assert data.cached("t:which", lambda ws: "copy again") == "copy again"


def test_many_date_windows_evict_only_older_windows(demo_app):
    """A new window each time fills its own kind's bounded cache, never the nearest
    index or the layers."""
    app, workspace = demo_app
    client = app.test_client()
    months = sorted(overlay.read_layer(workspace, "incidents")["month"].unique())
    _nearest(client, 51.52, -0.08)
    with app.test_request_context("/"):
        index, wards = data.nearest_index(), data.layer("wards")
    windows = [(a, b) for i, a in enumerate(months) for b in months[i:]]
    assert len(windows) > 2 * data.VARIANTS_PER_KIND
    for start, end in windows:
        url = f"/priority/layers/incidents.json?incidents_from={start}&incidents_to={end}"
        assert client.get(url).status_code == 200
    kept = data._entries["json:priority:layer:incidents"]
    assert len(kept) == data.VARIANTS_PER_KIND
    last = [json.loads(k)[1:3] for k in kept]
    assert last == [list(w) for w in windows[-data.VARIANTS_PER_KIND:]]  # the newest kept
    with app.test_request_context("/"):
        assert data.nearest_index() is index and data.layer("wards") is wards
    built = data.builds.get("nearest_index", 0)
    _nearest(client, 51.52, -0.08)
    assert data.builds.get("nearest_index", 0) == built  # not made again


def test_a_warm_app_has_made_the_index_and_the_overview_map_before_any_request(demo_copy,
                                                                               tmp_path):
    """``create_app(warm=True)`` (as ``mapper serve`` calls it) makes the nearest index,
    what /api/nearest answers from and the overview map; the first requests reuse them."""
    data._entries.clear()
    before = dict(data.builds)
    app = create_app({"TESTING": True, "WORKSPACE": str(demo_copy)}, warm=True)
    made = {k for k, n in data.builds.items() if n > before.get(k, 0)}
    assert {"nearest_index", "api:nearest", "overview:facts", "overview:map"} <= made
    after_warming = dict(data.builds)
    client = app.test_client()
    assert client.get("/").status_code == 200
    _nearest(client, 51.52, -0.08)
    again = {k for k in made if data.builds[k] != after_warming[k]}
    assert not again  # nothing warmed is made again for the first visitors
    # without a workspace there is nothing to warm, and no error
    assert create_app({"TESTING": True, "WORKSPACE": str(tmp_path / "none")}, warm=True)


def test_request_parameters_make_no_new_kind_of_cache(demo_app):
    """Varied windows, pages and searches fill variants of the kinds they belong to,
    each bounded, and never make a new kind or evict a layer or the nearest index."""
    app, workspace = demo_app
    client = app.test_client()
    months = sorted(workspace.read_layer("incidents")["month"].unique())

    def round_of(i: int) -> None:
        start, end = months[i % len(months)], months[-1 - (i % len(months))]
        for url in (f"/priority/layers/incidents.json?incidents_from={min(start, end)}"
                    f"&incidents_to={max(start, end)}&limit={i + 1}",
                    f"/overview/groups.json?limit={i + 1}&offset={i}",
                    "/"):
            assert client.get(url).status_code == 200, url
        _nearest(client, 51.50 + i / 1000, -0.10 + i / 1000, k=1 + i % 5)

    round_of(0)
    kinds = set(data._entries)
    kept = {k: data.builds.get(k) for k in ("nearest_index", "layer:groups", "imported:wards")}
    for i in range(1, 3 * data.VARIANTS_PER_KIND):
        round_of(i)
    assert set(data._entries) == kinds
    assert all(len(v) <= data.VARIANTS_PER_KIND for v in data._entries.values())
    assert len(data._entries["json:priority:layer:incidents"]) == data.VARIANTS_PER_KIND
    assert {k: data.builds.get(k) for k in kept} == kept  # never made again
