"""Which cases run at which sizes, and running them (one failure never stops the rest).

Three size sets: ``full`` (``python -m bench``), ``quick`` (``python -m bench --quick``,
for CI, under two minutes) and ``tiny`` (``tests/test_bench_quick.py``: every
correctness check on small data, under a minute, using the synthetic demo workspace
instead of the real London data).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import shapely

from bench import cases_analysis as ca
from bench import cases_geojson as cg
from bench import cases_scale as cs
from bench import cases_web as cw
from bench.core import Result, log
from bench.generate import make_areas
from mapper import overlay

#: worker processes of the served app in the API cases: one per core (up to 4), as
#: ``mapper serve --workers N`` runs on a server many officers use at once; one process
#: where processes cannot be forked (Windows)
SERVER_CORES = 1 if sys.platform == "win32" else max(1, min(4, os.cpu_count() or 1))

SIZES: dict[str, dict] = {
    "tiny": {
        "scales": {"small": {"wards": 60, "lsoas": 400, "boroughs": 4, "side": 8_000.0,
                             "origin": (520_000.0, 170_000.0)}},
        "assign_points": 2_000, "naive_points": 2_000,
        "aggregate_naive_wards": {"small": 60},
        "nearest": [(2_000, None)], "queries": 200, "timed_brute": 200,
        "coverage_groups": 60, "coverage_people": 2_000, "radii": (400.0, 800.0),
        "cluster_scales": ["small"], "probe": None,
        "real": False, "demo": True, "page_groups": 150, "page_loads": 1,
        "api_requests": 20, "api_runs": [(1, 2, True)], "repeat": 1,
        "api_editing": {"seconds": 2.5, "rounds": 1, "clients": 2, "workers": 1},
        # the in-view path on a small area: the size rule lowered to take it
        "inview": ("small", {"INVIEW_WARDS": 10}),
    },
    "quick": {
        "scales": {"London-size": "london", "England-size": "england"},
        "assign_points": 10_000, "naive_points": 10_000,
        "aggregate_naive_wards": {"London-size": 680},
        "nearest": [(10_000, 100.0)], "queries": 1_000, "timed_brute": 1_000,
        "coverage_groups": 2_000, "coverage_people": 50_000, "radii": (400.0, 800.0, 1600.0),
        "cluster_scales": ["London-size", "England-size"],
        "probe": {"groups": 5_000, "queries": 5_000, "threads": 4},
        "real": False, "page_groups": 5_000, "page_loads": 1,
        "api_requests": 100, "api_runs": [(4, SERVER_CORES, True)], "repeat": 2,
        "api_editing": {"seconds": 4.0, "rounds": 3, "clients": 4, "workers": SERVER_CORES},
        "inview": ("London-size", {"INVIEW_WARDS": 100}),
    },
    "full": {
        "scales": {"London-size": "london", "England-size": "england"},
        "assign_points": 1_000_000, "naive_points": 10_000,
        "aggregate_naive_wards": {"London-size": 680, "England-size": 700},
        "nearest": [(100_000, 100.0), (1_000_000, 200.0)], "queries": 1_000,
        "timed_brute": 300,
        "coverage_groups": 2_000, "coverage_people": 200_000, "radii": (400.0, 800.0, 1600.0),
        "cluster_scales": ["London-size", "England-size"],
        "probe": {"groups": 5_000, "queries": 20_000, "threads": 4},
        "real": True, "page_groups": 5_000, "page_loads": 9,
        "api_requests": 400, "repeat": 3,
        "api_editing": {"seconds": 6.0, "rounds": 3, "clients": 4, "workers": SERVER_CORES},
        "api_runs": [(4, SERVER_CORES, True), (1, SERVER_CORES, True), (4, 1, False)],
        "inview": ("England-size", {}),
    },
}

#: the case groups, in the order they run (``--only`` picks by these names)
GROUPS = ("assign", "aggregate", "nearest", "coverage", "clusters", "concurrency", "build",
          "page", "api", "real", "inview", "scale")
#: the scale grid (``--only scale``) runs only when asked for: it takes up to hours
ASKED_ONLY = ("scale",)


def _guard(results: list[Result], name: str, size: str, func: Callable[[], object]) -> None:
    """Run one case (returning a Result or a list); an exception becomes a FAILED row."""
    start = time.perf_counter()
    try:
        got = func()
    except Exception as error:  # noqa: BLE001 - every case must be reported, not crash the run
        traceback.print_exc()
        got = Result(case=name, size=size, status="FAILED",
                     reason=f"{type(error).__name__}: {error}"[:500])
    got = got if isinstance(got, list) else [got]
    results.extend(got)
    for r in got:
        mark = "ok" if r.status == "ok" else r.status
        log(f"    -> {r.case} [{r.size}]: {mark}"
            + (f" ({r.reason[:160]})" if r.status != "ok" else ""))
    log(f"    ({time.perf_counter() - start:.1f} s)")


def _skipped(name: str, size: str, reason: str) -> Result:
    return Result(case=name, size=size, status="SKIPPED", reason=reason)


def run(mode: str = "quick", *, only: set[str] | None = None, seed: int = 20240607,
        workdir: Path | None = None, browser_needed: bool = True,
        grid: str = "london:1e5,1e6") -> list[Result]:
    """Every case of `mode` (see :data:`SIZES`); `only` limits to some :data:`GROUPS`.
    `grid` is the scale grid's (scale, incidents) list (:func:`cases_scale.parse_grid`)."""
    sizes = SIZES[mode]
    want = (lambda group: group in only if only is not None  # noqa: E731
            else group not in ASKED_ONLY)
    results: list[Result] = []
    repeat = sizes["repeat"]
    owned = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="mapper-bench-")) if owned else workdir
    try:
        areas = {}
        for label, scale in sizes["scales"].items():
            if any(want(g) for g in ("assign", "aggregate", "coverage", "clusters")):
                log(f"generating {label} areas")
                areas[label] = make_areas(scale, seed=seed)
        first = next(iter(sizes["scales"]))
        if want("assign"):
            log("point-in-polygon assignment")
            _guard(results, "assign points", first, lambda: ca.case_assign(
                areas[first], sizes["assign_points"], seed=seed + 1,
                naive_points=sizes["naive_points"], label=first, repeat=repeat))
        if want("aggregate"):
            log("LSOA-to-ward aggregation")
            for label, naive in sizes["aggregate_naive_wards"].items():
                _guard(results, "LSOA-to-ward aggregation", label, lambda label=label,
                       naive=naive: ca.case_aggregate(areas[label], seed=seed + 2, label=label,
                                                      naive_wards=naive, repeat=repeat))
        if want("nearest"):
            log("nearest k with a category filter")
            for n, target in sizes["nearest"]:
                _guard(results, "nearest", f"{n:,} groups", lambda n=n, target=target:
                       ca.case_nearest(areas[first].box if areas else shapely.box(
                           510_000, 160_000, 550_000, 200_000), n, seed=seed + 3,
                           queries=sizes["queries"], timed_brute=sizes["timed_brute"],
                           target=target))
        if want("coverage"):
            log("coverage gaps")
            _guard(results, "coverage gaps", first, lambda: ca.case_coverage(
                areas[first], n_groups=sizes["coverage_groups"],
                n_people=sizes["coverage_people"], seed=seed + 4, label=first,
                radii=sizes["radii"], repeat=min(repeat, 2)))
        if want("clusters"):
            log("CAN clustering")
            for label in sizes["cluster_scales"]:
                limit = 0.5 if label.startswith("London") else None
                _guard(results, "CAN clustering", label, lambda label=label, limit=limit:
                       ca.case_clusters(areas[label], seed=seed + 5, label=label,
                                        limit_s=limit, repeat=repeat))
        if want("concurrency") and sizes["probe"]:
            log("nearest index under concurrent queries")
            _guard(results, "nearest index queried from threads", "", lambda:
                   cw.case_concurrent_nearest(**sizes["probe"]))
        _workspace_cases(results, sizes, want, workdir, seed, browser_needed, repeat)
        if want("inview"):
            label, config = sizes["inview"]
            log(f"priority page loading wards in view ({label})")
            _guard(results, "priority page loading wards in view", label,
                   lambda: _inview_case(workdir, sizes["scales"][label], label, config,
                                        seed, browser_needed))
        if want("scale"):
            log("mapper build at London, quarter-England and England sizes")
            _guard(results, "mapper build at scale", grid, lambda: cs.case_scale(
                cs.parse_grid(grid), seed=seed, workdir=workdir))
    finally:
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


def _inview_case(workdir: Path, scale, label: str, config: dict, seed: int,
                 browser_needed: bool) -> list[Result]:
    from bench import cases_inview

    demo = workdir / "inview-demo"
    if not demo.exists():
        from mapper.analysis_run import analyse
        from mapper.config import Settings
        from mapper.pipeline import build_demo
        from mapper.store import Workspace

        build_demo(Workspace(demo))
        analyse(Workspace(demo), Settings(stability_draws=10))
    return cases_inview.case_inview(demo, workdir, label=label, scale=scale, config=config,
                                    executable=cw.chromium_path() if browser_needed else None,
                                    seed=seed)


def _workspace_cases(results, sizes, want, workdir: Path, seed: int, browser_needed: bool,
                     repeat: int) -> None:
    """The cases needing a built workspace: real London when there (the demo in tiny)."""
    if not any(want(g) for g in ("build", "page", "api", "real")):
        return
    tiny = sizes.get("demo", False)
    data_dir, why = (None, "") if tiny else cw.london_dir()
    built = workdir / "built"
    label = "London" if data_dir is not None else "demo"
    if not tiny and data_dir is None:
        for group, name in (("build", "end to end: mapper build"), ("page", "map page weight"),
                            ("api", "API throughput"), ("real", "real London analysis")):
            if want(group):
                results.append(_skipped(name, "real London", why))
        return
    log("end to end build" if data_dir is not None else "demo workspace")
    _guard(results, "end to end build", label, lambda: cw.case_build(data_dir, built))
    if not (built / "mapper.gpkg").is_file():
        for group in ("page", "api", "real"):
            if want(group):
                results.append(_skipped(group, label, "the workspace build failed (above)"))
        return
    if want("real") and sizes["real"]:
        log("real London analysis")
        _real_cases(results, built, sizes, seed, repeat)
    if want("page") or want("api"):
        with_groups = workdir / "with-groups"
        log(f"workspace with {sizes['page_groups']:,} groups")
        try:
            count = cw.workspace_with_groups(built, with_groups, sizes["page_groups"],
                                             seed=seed + 6)
        except Exception as error:  # noqa: BLE001
            traceback.print_exc()
            results.append(Result(case="map page / API", size=label, status="FAILED",
                                  reason=f"preparing the workspace: {error}"[:500]))
            return
        if want("page"):
            log("pages: first request and warm CPU")
            _guard(results, "pages: first request and warm CPU", label,
                   lambda: cw.case_page_cpu(built, label=label,
                                            requests=5 if tiny else 20))
            log("map page weight")
            _guard(results, "map page weight", label, lambda: cw.case_page_weight(
                with_groups, label=f"{label}, {count:,} groups", loads=sizes["page_loads"],
                browser_needed=browser_needed))
        if want("api"):
            log("API GeoJSON encoding")
            _guard(results, "API GeoJSON encoding", label, lambda: cg.case_api_encoding(
                with_groups, label=f"{label}, {count:,} groups", repeat=3 if tiny else 7))
            log("API throughput")
            for clients, workers, target in sizes["api_runs"]:
                _guard(results, "API throughput", label,
                       lambda clients=clients, workers=workers, target=target:
                       cw.case_api(with_groups, requests=sizes["api_requests"],
                                   clients=clients, workers=workers, target=target,
                                   seed=seed + 7, label=f"{label}, {count:,} groups"))
            _guard(results, "API while editing", label, lambda: cw.case_api_editing(
                with_groups, **sizes["api_editing"], seed=seed + 8,
                label=f"{label}, {count:,} groups"))


def _real_cases(results, workspace: Path, sizes, seed: int, repeat: int) -> None:
    from mapper.store import Workspace

    areas, postcodes = ca.real_areas(workspace)
    _guard(results, "assign real postcodes", "real London", lambda: ca.case_assign(
        areas, 0, seed=seed, naive_points=sizes["naive_points"], label="real London",
        repeat=repeat, points=postcodes, what="postcodes"))

    def coverage():
        ws = Workspace(workspace)
        groups = overlay.read_layer(ws, "groups")
        people = postcodes[postcodes["ward_code"].notna()][["ward_code", "geometry"]].copy()
        people["population"] = 1.0
        wards = areas.wards[["ward_code", "geometry"]]
        return ca.case_coverage(areas, n_groups=len(groups), n_people=len(people), seed=seed,
                                label="real London", radii=sizes["radii"], repeat=2,
                                study_area=shapely.union_all(wards.geometry.to_numpy()),
                                wards=wards, groups=groups, people=people)

    _guard(results, "coverage gaps", "real London", coverage)
    _guard(results, "CAN clustering", "real London", lambda: ca.case_clusters(
        areas, seed=seed + 5, label="real London", limit_s=0.5, repeat=repeat))
