"""England-size maps loading only what is in view (issue 19): a synthetic workspace of
England's size (7,000 wards, 310 districts, about 300 CANs) with boundary vertices as
dense as real ones, and what ``/priority`` costs on it: HTML bytes, the server's time,
and in headless Chromium the load time, DOM nodes and the longest task while panning
(PerformanceObserver ``longtask``).

The workspace is the synthetic demo (for its registers, settings and provenance) with
its areas swapped for :func:`bench.generate.make_areas`' England-size ones, and its
ward summary made of the demo's rows drawn at random for each ward (the figures do not
matter here; their shapes and numbers do).
"""

from __future__ import annotations

import shutil
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench.core import Check, Result
from bench.generate import make_areas

#: real ward boundaries have a vertex every 10-30 m; the generator's Voronoi cells have
#: one every kilometre or so: segmentize to this spacing, then wiggle each vertex (a
#: function of where it is, so neighbours' shared vertices move together)
VERTEX_SPACING_M = 25.0
WIGGLE_M = 6.0
#: CANs of England-size: about one ward in 25 is the seed of one
CAN_SHARE = 0.04

#: the page's figures in the browser
DOM_JS = "() => document.getElementsByTagName('*').length"
LONGTASKS_INIT = """
window.__longest = 0;
new PerformanceObserver(function (list) {
    list.getEntries().forEach(function (e) {
        window.__longest = Math.max(window.__longest, e.duration);
    });
}).observe({type: 'longtask', buffered: true});
"""
PAN_JS = """
async () => {
    const map = window[document.querySelector('.folium-map').id];
    // there and back, from the area's middle at each zoom: the view stays over wards
    const moves = [[300, 0], [-300, 0], [0, 250], [0, -250], [200, 200], [-200, -200]];
    const middle = map.getCenter();
    const first = map.getZoom();
    const box = map.getContainer();
    // the wards and the outline layers loaded for the view have what they asked for
    const idle = () => new Promise(done => {
        const check = () => ['wards', 'cans', 'boroughs'].every(k =>
            box.getAttribute('data-' + k + '-pending') === '0'
            || !box.hasAttribute('data-' + k + '-pending'))
            ? setTimeout(done, 100) : setTimeout(check, 50);
        setTimeout(check, 50);
    });
    for (const zoom of [null, 9, 12, 14]) {
        if (zoom !== null) { map.setView(middle, zoom, {animate: false}); await idle(); }
        for (const [dx, dy] of moves) { map.panBy([dx, dy], {animate: false}); await idle(); }
    }
    const near = window.__longest;
    // pans of more than the canvas's drawn margin (half the view each side): redrawn
    let far = 0;
    for (const zoom of [first, 9, 12]) {
        map.setView(middle, zoom, {animate: false});
        await idle();
        window.__longest = 0;
        for (const [dx, dy] of [[900, 0], [-900, 0], [0, 700], [0, -700]]) {
            map.panBy([dx, dy], {animate: false}); await idle();
        }
        far = Math.max(far, window.__longest);
    }
    return [near, far];
}
"""


def real_spacing(shapes: np.ndarray, spacing_m: float = VERTEX_SPACING_M,
                 wiggle_m: float = WIGGLE_M) -> np.ndarray:
    """`shapes` with a vertex every `spacing_m` metres, each moved up to `wiggle_m` by a
    smooth function of its place (shared edges stay shared)."""
    dense = shapely.segmentize(np.asarray(shapes, dtype=object), spacing_m)

    def wiggle(xy: np.ndarray) -> np.ndarray:
        key = np.round(xy, 2)
        phase = key[:, 0] * 0.021 + key[:, 1] * 0.017
        return xy + wiggle_m * np.column_stack([np.sin(phase), np.cos(phase * 1.3)])

    return shapely.transform(dense, wiggle)


def england_workspace(demo: Path, target: Path, *, seed: int = 0, scale: str | dict = "england",
                      spacing_m: float = VERTEX_SPACING_M) -> dict:
    """Write the England-size workspace at `target` (from the analysed demo workspace at
    `demo`); returns its counts."""
    from mapper.store import Provenance, Workspace

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(demo, target)
    started = time.perf_counter()
    areas = make_areas(scale, seed=seed)
    made_s = time.perf_counter() - started
    rng = np.random.default_rng(seed)
    shapes = real_spacing(np.asarray(areas.wards.geometry.values), spacing_m)
    wards = gpd.GeoDataFrame(areas.wards.drop(columns="geometry"), geometry=shapes,
                             crs=areas.wards.crs)
    boroughs = gpd.GeoDataFrame(areas.boroughs.drop(columns="geometry"),
                                geometry=real_spacing(np.asarray(areas.boroughs.geometry.values),
                                                      spacing_m), crs=areas.boroughs.crs)
    workspace = Workspace(target)
    demo_summary = workspace.read_layer("ward_summary")
    picks = rng.integers(0, len(demo_summary), len(wards))
    summary = pd.DataFrame(demo_summary.drop(columns="geometry").iloc[picks]).reset_index(
        drop=True)
    for column in ("ward_code", "ward_name", "borough_code", "borough_name"):
        summary[column] = wards[column].to_numpy()
    # CANs: a seed ward and the wards touching it
    tree = shapely.STRtree(shapes)
    can_of = np.full(len(wards), None, dtype=object)
    seeds = rng.choice(len(wards), size=max(1, int(len(wards) * CAN_SHARE)), replace=False)
    number = 0
    for seed_row in seeds.tolist():
        if can_of[seed_row] is not None:
            continue
        members = [r for r in tree.query(shapes[seed_row], predicate="touches").tolist()
                   if can_of[r] is None][:3] + [seed_row]
        number += 1
        for r in members:
            can_of[r] = f"CAN-{number:03d}"
    summary["can_id"] = can_of
    summary = gpd.GeoDataFrame(summary, geometry=shapes, crs=wards.crs)
    template = workspace.read_layer("neighbourhoods").iloc[0].to_dict()
    rows = []
    for rank, (can_id, group) in enumerate(summary.groupby("can_id", sort=True), start=1):
        rows.append({**template, "can_id": can_id, "rank": rank, "name": f"Area {rank}",
                     "wards": len(group), "ward_codes": "; ".join(group["ward_code"]),
                     "boroughs": "; ".join(sorted(set(group["borough_code"]))),
                     "geometry": shapely.union_all(group.geometry.values)})
    cans = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=wards.crs)
    borough_row = workspace.read_layer("borough_summary").drop(columns="geometry").iloc[[0]]
    borough_summary = pd.DataFrame(borough_row.iloc[[0] * len(boroughs)]).reset_index(drop=True)
    borough_summary["borough_code"] = boroughs["borough_code"].to_numpy()
    borough_summary["borough_name"] = boroughs["borough_name"].to_numpy()
    borough_summary = gpd.GeoDataFrame(borough_summary, geometry=boroughs.geometry.values,
                                       crs=wards.crs)

    def provenance(layer: str, rows_: int) -> Provenance:
        return Provenance(layer=layer, kind=layer, source_file="bench-england-synthetic",
                          vintage="synthetic", licence="synthetic", attribution="synthetic",
                          rows_read=rows_, rows_imported=rows_)

    with workspace.transaction() as tx:
        for name, frame in (("wards", wards), ("boroughs", boroughs),
                            ("ward_summary", summary), ("neighbourhoods", cans),
                            ("borough_summary", borough_summary)):
            tx.write_layer(name, frame, provenance(name, len(frame)))
        # the demo's LSOA layers name none of these wards: without them the pages say
        # so, as for a workspace without deprivation data
        for name in ("lsoa_ward_weights", "lsoa_access", "coverage_gaps"):
            if workspace.has_layer(name):
                tx.drop_layer(name)
        tx.set_meta("study_area", "England-size (synthetic)")
    vertices = int(shapely.get_num_coordinates(shapes).sum())
    return {"wards": len(wards), "boroughs": len(boroughs), "cans": len(cans),
            "vertices": vertices, "areas_s": round(made_s, 1)}


def measure_priority(base: str, browser, *, width: int = 1280) -> dict:
    """/priority at `base`: its HTML bytes and the server's time (a fresh request), then
    in a fresh browser context (cold cache) the ms to the load event, the ms until the
    ward layer has its view, the DOM nodes, the longest task while panning (there and
    back, by less than the canvas's drawn margin) and zooming (ms), and the longest task
    on pans past that margin (each redrawing the canvas; the zoom changes before them
    not counted)."""
    started = time.perf_counter()
    with urllib.request.urlopen(base + "/priority", timeout=600) as answer:
        html = answer.read()
    server_s = time.perf_counter() - started
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    other_hosts: list[str] = []
    page.on("request", lambda r: urlsplit(r.url).hostname not in (None, "127.0.0.1",
                                                                  "localhost")
            and r.url.startswith("http") and other_hosts.append(r.url))
    try:
        page.add_init_script(LONGTASKS_INIT)
        begun = time.perf_counter()
        page.goto(base + "/priority", wait_until="load", timeout=180_000)
        load_ms = page.evaluate("() => performance.getEntriesByType('navigation')[0]"
                                ".loadEventStart")
        page.wait_for_function(
            "() => { const b = document.querySelector('.folium-map'); return b && "
            "(!b.hasAttribute('data-wards-pending') || "
            "(b.getAttribute('data-wards-pending') === '0' && "
            "b.hasAttribute('data-wards-loaded'))); }", timeout=180_000)
        ready_ms = (time.perf_counter() - begun) * 1000
        load_longest = page.evaluate("() => window.__longest")
        drawn = page.evaluate("() => document.querySelector('.folium-map')"
                              ".getAttribute('data-wards-loaded')")
        dom = page.evaluate(DOM_JS)
        page.evaluate("() => { window.__longest = 0; }")
        pan_longest, far_longest = page.evaluate(PAN_JS)
    finally:
        context.close()
    return {"html_bytes": len(html), "server_s": round(server_s, 3),
            "load_ms": round(load_ms), "ready_ms": round(ready_ms), "dom_nodes": dom,
            "longest_task_load_ms": round(load_longest or 0),
            "longest_task_pan_ms": round(pan_longest or 0),
            "longest_task_far_pan_ms": round(far_longest or 0), "wards_drawn": drawn,
            "console_errors": errors, "other_hosts": other_hosts}


def case_inview(demo: Path, work: Path, *, label: str, scale: str | dict, executable: str | None,
                config: dict | None = None, seed: int = 0) -> list[Result]:
    """Build the England-size workspace, serve it (warmed, as ``mapper serve`` does) and
    measure /priority (see :func:`measure_priority`). Run in a thread of its own
    (Playwright's sync API)."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["results"] = _inview(demo, work, label=label, scale=scale,
                                         executable=executable, config=config or {},
                                         seed=seed)
        except BaseException as error:  # noqa: BLE001 - raised again in the caller
            outcome["error"] = error

    worker = threading.Thread(target=run, name="bench-inview")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["results"]


def _inview(demo: Path, work: Path, *, label: str, scale, executable, config: dict,
            seed) -> list[Result]:
    from bench.cases_web import _browser, live_server
    from mapper.web import create_app

    started = time.perf_counter()
    counts = england_workspace(demo, work / "england", seed=seed, scale=scale)
    built_s = time.perf_counter() - started
    started = time.perf_counter()
    app = create_app({"WORKSPACE": str(work / "england"), "TILES": "none", **config},
                     warm=True)
    warm_s = time.perf_counter() - started
    result = Result("priority page loading wards in view", label,
                    ours=f"{counts['wards']:,} wards, {counts['vertices']:,} vertices, "
                         f"{counts['cans']} CANs")
    with live_server(app) as base, _browser(executable) as browser:
        if browser is None:
            result.status, result.reason = "SKIPPED", "no Chromium"
            return [result]
        figures = measure_priority(base, browser)
    result.seconds = figures["load_ms"] / 1000
    result.extra = {**counts, **figures, "workspace_s": round(built_s, 1),
                    "warm_up_s": round(warm_s, 1)}
    ok = (figures["dom_nodes"] < 20_000 and not figures["console_errors"]
          and not figures["other_hosts"])
    result.check = Check(ok, f"{figures['dom_nodes']:,} DOM nodes (target < 20,000), "
                             f"HTML {figures['html_bytes'] / 1e6:.2f} MB, load "
                             f"{figures['load_ms']} ms (target < 3,000), longest task on "
                             f"a pan {figures['longest_task_pan_ms']} ms (target < 200; "
                             f"{figures['longest_task_far_pan_ms']} ms past the drawn "
                             f"margin), "
                             f"warm-up {warm_s:.1f} s")
    return [result.finish()]
