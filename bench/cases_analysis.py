"""Cases of the analysis hot paths, on seeded synthetic data (:mod:`bench.generate`).

Each function takes its sizes as arguments (the quick run, the full run and the test
pass different ones) and returns :class:`bench.core.Result` objects. Every case runs the
project's own code path and a baseline written here, on the same data in the same run.
"""

from __future__ import annotations

import math
from collections import deque

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from bench.core import Check, Result, best_of, log, slowdown, speedup
from bench.generate import (
    Areas,
    deprivation_table,
    groups_frame,
    points_frame,
    population_points,
    random_xy,
)

# -- helpers -------------------------------------------------------------------------------


def _fresh(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy without a cached spatial index, so every timed call builds its own."""
    out = frame.copy()
    assert not out.has_sindex
    return out


def _pow10(n: int) -> str:
    exp = math.log10(n) if n > 0 else 0
    return f"10^{exp:.0f}" if exp.is_integer() else f"{n:,}"


def _mismatches(a: np.ndarray, b: np.ndarray) -> int:
    a = pd.Series(a, dtype=object).fillna("").to_numpy()
    b = pd.Series(b, dtype=object).fillna("").to_numpy()
    return int((a != b).sum())


def real_areas(workspace) -> tuple[Areas, gpd.GeoDataFrame]:
    """The wards, LSOAs and boroughs of a built workspace as :class:`Areas`, and its
    postcode centroids."""
    from mapper.store import Workspace

    ws = Workspace(workspace)
    wards = ws.read_layer("wards")
    areas = Areas(lsoas=ws.read_layer("lsoas"), wards=wards, boroughs=ws.read_layer("boroughs"),
                  box=shapely.box(*wards.total_bounds))
    return areas, ws.read_layer("postcodes")


# == 1. point-in-polygon assignment ==========================================================


def naive_assign(points: np.ndarray, shapes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Baseline: for each polygon (lowest code first), ``shapely.contains`` over all points."""
    out = np.full(len(points), None, dtype=object)
    free = np.ones(len(points), dtype=bool)
    for pos in np.argsort(codes, kind="stable"):
        inside = shapely.contains(shapes[pos], points) & free  # lowest code wins an edge
        out[inside] = codes[pos]
        free &= ~inside
    return out


def sjoin_assign(points: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, code: str) -> np.ndarray:
    """Baseline: ``geopandas.sjoin(predicate="within")``, lowest code per point."""
    joined = gpd.sjoin(points[["geometry"]], areas[[code, "geometry"]], predicate="within",
                       how="left")
    found = joined[code]
    if found.index.has_duplicates:  # a point on a shared edge: keep the lowest code
        order = np.lexsort((found.to_numpy(dtype=str), found.index.to_numpy()))
        found = found.iloc[order]
        found = found[~found.index.duplicated()]
    return found.reindex(points.index).to_numpy(dtype=object)


def case_assign(areas: Areas, n_points: int, *, seed: int, naive_points: int,
                label: str, repeat: int = 3, points: gpd.GeoDataFrame | None = None,
                what: str = "points") -> list[Result]:
    """Points to wards and to LSOAs: ours (:func:`mapper.areas.area_of_points`)
    against a per-polygon loop (on a subsample, scaled) and ``geopandas.sjoin``.

    `points` (e.g. real postcode centroids) replaces the `n_points` random ones."""
    from mapper.areas import area_of_points

    if points is None:
        points = points_frame(random_xy(n_points, areas.box, seed=seed))
    else:
        points = points[["geometry"]].reset_index(drop=True)
        n_points = len(points)
    m = min(n_points, naive_points)
    sample = points.geometry.to_numpy()[:m]
    results = []
    for layer, code, target in (("wards", "ward_code", 15.0), ("LSOAs", "lsoa_code", 100.0)):
        frame = getattr(areas, layer.lower())[[code, "geometry"]]
        n_areas = len(frame)
        log(f"  assign {n_points:,} points to {n_areas:,} {layer}")
        ours_s, ours = best_of(
            lambda frame=frame, code=code: area_of_points(points.geometry, _fresh(frame), code),
            repeat)
        ours = ours.to_numpy(dtype=object)
        sjoin_s, joined = best_of(
            lambda frame=frame, code=code: sjoin_assign(points, _fresh(frame), code), repeat)
        naive_m_s, naive = best_of(
            lambda frame=frame, code=code: naive_assign(
                sample, frame.geometry.to_numpy(), frame[code].to_numpy(dtype=object)), 1)
        naive_s = naive_m_s * n_points / m
        bad_sjoin = _mismatches(ours, joined)
        bad_naive = _mismatches(ours[:m], naive)
        unassigned = int(pd.isna(ours).sum())
        check = Check(
            bad_sjoin == 0 and bad_naive == 0,
            f"{n_points - bad_sjoin:,}/{n_points:,} identical to sjoin, "
            f"{m - bad_naive:,}/{m:,} to the per-polygon loop ({unassigned:,} in no area "
            "in all three)" if bad_sjoin == 0 and bad_naive == 0 else
            f"{bad_sjoin:,} differ from sjoin, {bad_naive:,} of {m:,} from the loop")
        note = "" if m == n_points else (
            f"{layer}: the per-polygon loop ran on {m:,} of the {n_points:,} points "
            f"({naive_m_s:.2f} s) and is scaled linearly (its cost is polygons x points)")
        results.append(Result(
            case=f"assign points to {layer}",
            size=f"{label}: {_pow10(n_points)} {what}, {n_areas:,} {layer}",
            ours="mapper.areas.area_of_points",
            seconds=ours_s,
            comparisons=[
                speedup("per-polygon loop (shapely.contains)", naive_s, ours_s, target,
                        note=note),
                slowdown("geopandas.sjoin(predicate='within')", sjoin_s, ours_s, 1.2),
            ],
            check=check).finish())
    return results


# == 2. LSOA-to-ward apportionment and aggregation ===========================================


def naive_weights(lsoas: gpd.GeoDataFrame, wards: gpd.GeoDataFrame,
                  ward_positions: np.ndarray) -> pd.DataFrame:
    """Baseline: for each ward, intersect it with every LSOA; the share of each LSOA's area
    inside the ward is its weight."""
    geoms = lsoas.geometry.to_numpy()
    lsoa_area = shapely.area(geoms)
    lsoa_codes = lsoas["lsoa_code"].to_numpy()
    ward_geoms = wards.geometry.to_numpy()
    ward_codes = wards["ward_code"].to_numpy()
    frames = []
    for pos in ward_positions:
        hit = np.flatnonzero(shapely.intersects(ward_geoms[pos], geoms))
        share = shapely.area(shapely.intersection(ward_geoms[pos], geoms[hit])) / lsoa_area[hit]
        keep = share > 0
        frames.append(pd.DataFrame({"lsoa_code": lsoa_codes[hit][keep],
                                    "ward_code": ward_codes[pos], "weight": share[keep]}))
    return pd.concat(frames, ignore_index=True)


def naive_need(dep: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """Baseline: for each ward, its rows of the weights, their LSOAs' values, and the
    population and population-weighted scores (same denominators as need.area_need)."""
    from mapper.analysis.need import SCORE_WEIGHTS

    dep = dep.set_index("lsoa_code")
    scores = [c for c in dep.columns if c.endswith("_score")]
    rows = {}
    for ward in sorted(weights["ward_code"].unique()):
        mine = weights[weights["ward_code"] == ward]
        values = dep.loc[mine["lsoa_code"]]
        w = mine["weight"].to_numpy()
        row = {"population": float((values["pop_total"].to_numpy() * w).sum())}
        for col in scores:
            denominator = SCORE_WEIGHTS.get(col.removesuffix("_score"), "pop_total")
            pw = values[denominator].to_numpy(float) * w
            row[col] = float((values[col].to_numpy() * pw).sum() / pw.sum())
        rows[ward] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def case_aggregate(areas: Areas, *, seed: int, label: str, naive_wards: int,
                   repeat: int = 3) -> list[Result]:
    """LSOAs to wards in two steps. Weights: :func:`areal_weights` against a per-ward
    intersection loop. Aggregation: :func:`area_need` on those weights against a per-ward
    loop over the weights table; population must be conserved and every score agree."""
    from mapper.analysis.apportion import areal_weights
    from mapper.analysis.need import area_need

    lsoas = areas.lsoas[["lsoa_code", "geometry"]]
    wards = areas.wards[["ward_code", "geometry"]]
    dep = deprivation_table(areas, seed=seed)
    size = f"{label}: {len(lsoas):,} LSOAs, {len(wards):,} wards"
    log(f"  aggregate {len(lsoas):,} LSOAs to {len(wards):,} wards")
    weights_s, weights = best_of(lambda: areal_weights(_fresh(lsoas), _fresh(wards)), repeat)
    m = min(len(wards), naive_wards)
    positions = np.sort(np.random.default_rng(seed).choice(len(wards), m, replace=False))
    naive_w_m_s, naive_w = best_of(lambda: naive_weights(lsoas, wards, positions), 1)
    naive_w_s = naive_w_m_s * len(wards) / m
    mine = weights[weights["ward_code"].isin(set(naive_w["ward_code"]))]
    a = mine.sort_values(["ward_code", "lsoa_code"]).reset_index(drop=True)
    b = naive_w.sort_values(["ward_code", "lsoa_code"]).reset_index(drop=True)
    same_w = (len(a) == len(b) and a["lsoa_code"].tolist() == b["lsoa_code"].tolist()
              and np.allclose(a["weight"], b["weight"], rtol=1e-9, atol=1e-12))
    sums = weights.groupby("lsoa_code")["weight"].sum()
    whole = bool(np.allclose(sums, 1.0)) and len(sums) == len(lsoas)
    scaled = "" if m == len(wards) else (
        f"the per-ward loop ran on {m:,} of {len(wards):,} wards ({naive_w_m_s:.2f} s), scaled")
    weights_result = Result(
        case="LSOA-to-ward weights (areal)", size=size,
        ours="apportion.areal_weights", seconds=weights_s,
        comparisons=[speedup("per-ward loop (intersect every LSOA)", naive_w_s, weights_s,
                             None, note=scaled)],
        check=Check(same_w and whole,
                    f"weights of {m:,} wards {'identical to' if same_w else 'DIFFER from'} "
                    f"the loop's; every LSOA's weights sum to 1: {whole}")).finish()

    ours_s, ours = best_of(lambda: area_need(dep, weights), repeat)
    naive_s, naive = best_of(lambda: naive_need(dep, weights), 1)
    total_in = float(dep["pop_total"].sum())
    total_out = float(ours["population"].sum())
    conserved = math.isclose(total_in, total_out, rel_tol=1e-9)
    columns = list(naive.columns)
    mine = ours.reindex(naive.index)[columns]
    agree = bool(np.allclose(mine.to_numpy(float), naive.to_numpy(float), rtol=1e-9,
                             atol=1e-9))
    check = Check(conserved and agree and len(ours) == len(wards),
                  f"population {total_out:,.1f} of {total_in:,.1f} "
                  f"({'conserved' if conserved else 'NOT conserved'}); population and "
                  f"{len(columns) - 1} scores of {len(naive):,} wards "
                  f"{'agree' if agree else 'DISAGREE'} with the loop")
    need_result = Result(
        case="LSOA-to-ward aggregation (need)", size=size,
        ours="need.area_need on the weights", seconds=ours_s,
        comparisons=[speedup("per-ward loop over the weights (pandas)", naive_s, ours_s, 5.0)],
        check=check).finish()
    return [weights_result, need_result]


# == 3. nearest-k with a category filter =====================================================


def brute_nearest(x: np.ndarray, y: np.ndarray, ids: np.ndarray, qx: float, qy: float, k: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Baseline: distance to every record (of the category), the k smallest by (distance,
    id); the records passed in are already those of the wanted category."""
    dx, dy = x - qx, y - qy
    dist = np.sqrt(dx * dx + dy * dy)
    if len(dist) > k:
        kth = np.partition(dist, k - 1)[k - 1]
        near = np.flatnonzero(dist <= kth)
    else:
        near = np.arange(len(dist))
    order = np.lexsort((ids[near], dist[near]))[:k]
    return ids[near][order], dist[near][order]


def brute_nearest_scan(x, y, codes, ids, qx, qy, k, code):
    """Baseline as timed: scan every record's category (integer codes, made once), then
    :func:`brute_nearest` on the matches."""
    keep = codes == code
    return brute_nearest(x[keep], y[keep], ids[keep], qx, qy, k)


def case_nearest(box: shapely.Polygon, n_groups: int, *, seed: int, queries: int,
                 timed_brute: int, target: float | None, k: int = 10) -> Result:
    """NearestIndex.query_many (batched by category) and NearestIndex.query_ids (one call
    per query, as the web API asks) against a numpy scan per query; each checked on every
    query. The target is the batch path's: one Python call costs tens of microseconds
    of interpreter and scipy overhead whatever the index (reported, without a target)."""
    from mapper.analysis.nearest import NearestIndex

    groups = groups_frame(n_groups, box, seed=seed)
    log(f"  nearest: index {n_groups:,} groups")
    build_s, index = best_of(lambda: NearestIndex(groups), 1)
    rng = np.random.default_rng(seed + 7)
    qxy = random_xy(queries, box, seed=seed + 8, clustered=0.0)
    category = np.array(sorted(set(groups["category"])), dtype=object)
    q_cat = category[rng.integers(0, len(category), queries)]
    x, y = shapely.get_x(groups.geometry.array), shapely.get_y(groups.geometry.array)
    cats = groups["category"].to_numpy(dtype=object)
    ids = groups["group_id"].to_numpy(dtype=str)

    def ours_batch():
        """Every query answered by query_many, one call per category, in query order."""
        out: list = [None] * queries
        for c in category:
            rows = np.flatnonzero(q_cat == c)
            if len(rows):
                found = index.query_many(qxy[rows, 0], qxy[rows, 1], k=k, category=c)
                for row, answer in zip(rows.tolist(), found, strict=True):
                    out[row] = answer
        return out

    def ours_single():
        return [index.query_ids(qx, qy, k=k, category=c) for (qx, qy), c in zip(qxy, q_cat,
                                                                                 strict=True)]

    # the index builds its per-category trees on first use: timed apart, then warm runs
    trees_s, _ = best_of(lambda: [index.query_many(qxy[:1, 0], qxy[:1, 1], k=k, category=c)
                                  for c in category], 1)
    batch_s, batch_answers = best_of(ours_batch, 3)
    single_s, single_answers = best_of(ours_single, 2)
    # correctness on every query; timing of the scan on the first `timed_brute` queries
    by_cat = {c: (x[cats == c], y[cats == c], ids[cats == c]) for c in category}
    wrong_batch, wrong_single = [], []
    for i, ((qx, qy), c) in enumerate(zip(qxy, q_cat, strict=True)):
        want_ids, want_d = brute_nearest(*by_cat[c], qx, qy, k)
        got_ids, got_d = batch_answers[i]
        if not (np.array_equal(got_ids.astype(str), want_ids)
                and np.array_equal(np.asarray(got_d, dtype=float), want_d)):
            wrong_batch.append(i)
        got_ids, got_d = single_answers[i]
        if not (np.array_equal(got_ids.astype(str), want_ids)
                and np.array_equal(np.asarray(got_d, dtype=float), want_d)):
            wrong_single.append(i)
    t = min(timed_brute, queries)
    codes, uniques = pd.factorize(cats)
    q_code = pd.Index(uniques).get_indexer(q_cat)
    brute_s, _ = best_of(lambda: [brute_nearest_scan(x, y, codes, ids, qx, qy, k, c)
                                  for (qx, qy), c in zip(qxy[:t], q_code[:t], strict=True)], 1)
    per_batch, per_single, per_brute = batch_s / queries, single_s / queries, brute_s / t

    def verdict(name: str, wrong: list) -> str:
        return (f"{name}: {queries - len(wrong):,}/{queries:,} identical"
                + (f" (first wrong: query {wrong[0]})" if wrong else ""))

    check = Check(not wrong_batch and not wrong_single,
                  f"{verdict('query_many', wrong_batch)}; {verdict('query_ids', wrong_single)} to "
                  "the brute-force scan (ids and distances, ties by id)")
    built = (f"index built once in {build_s:.2f} s, its per-category k-d trees on first use "
             f"in {trees_s:.2f} s; the scan timed on {t:,} queries")
    return Result(
        case="nearest k=10 with a category filter",
        size=f"{_pow10(n_groups)} groups, {len(category)} categories",
        ours="NearestIndex.query_many(xs, ys, k=10, category=c) per category; "
             "NearestIndex.query_ids(x, y, k=10, category=c) per query",
        seconds=per_batch,
        comparisons=[
            speedup("numpy brute-force scan per query (ours: query_many, batched by category)",
                    per_brute, per_batch, target,
                    note=f"query_many: total time / {queries:,} queries, one call per "
                    f"category (~{queries // len(category):,} points each); {built}"),
            speedup("numpy brute-force scan per query (ours: one query_ids() call, as the "
                    "web API)", per_brute, per_single, None,
                    note="query_ids: one Python call per query (arrays, no DataFrame), as "
                    "/api/nearest asks; reported without a target: a call's fixed cost "
                    "(argument checks, the lock, scipy's single-point query) is ~20 µs "
                    "whatever the index size"),
        ],
        check=check,
        extra={"build_s": build_s, "trees_s": trees_s, "queries": queries,
               "per_query_batch_s": per_batch, "per_query_single_s": per_single}).finish()


# == 4. coverage gaps ==========================================================================


def exact_gap_share(sites: np.ndarray, radius: float, study_area, quad_segs: int) -> float:
    """Baseline: union of every buffer, the study area's share outside it."""
    circles = shapely.buffer(sites, radius, quad_segs=quad_segs)
    covered = shapely.intersection(shapely.union_all(circles), study_area)
    return 1.0 - shapely.area(covered) / shapely.area(study_area)


def case_coverage(areas: Areas, *, n_groups: int, n_people: int, seed: int, label: str,
                  radii=(400.0, 800.0, 1600.0), repeat: int = 2,
                  study_area=None, wards=None, groups=None, people=None) -> list[Result]:
    from mapper.analysis.coverage import BUFFER_QUAD_SEGS, coverage_gaps, coverage_summary

    wards = areas.wards[["ward_code", "geometry"]] if wards is None else wards
    groups = groups_frame(n_groups, areas.box, seed=seed) if groups is None else groups
    people = population_points(areas, n_people, seed=seed + 1) if people is None else people
    study_area = areas.box if study_area is None else study_area
    sites = groups.geometry.to_numpy()
    results = []
    for radius in radii:
        log(f"  coverage gaps at {radius:g} m ({len(groups):,} groups, {len(wards):,} wards)")
        ours_s, (table, _gaps) = best_of(
            lambda radius=radius: coverage_gaps(wards, people, groups, radius_m=radius),
            repeat)
        share = coverage_summary(table)["uncovered_area_share"]
        exact_s, exact = best_of(
            lambda radius=radius: exact_gap_share(sites, radius, study_area, BUFFER_QUAD_SEGS),
            repeat)
        # the exact answer, with near-true circles (256-gons, 0.01% short of the circle's
        # area); the timed baseline above uses our 64-gons, so both do the same geometry
        fine = exact_gap_share(sites, radius, study_area, 64)
        diff_pp = abs(share - fine) * 100
        check = Check(diff_pp <= 0.5, f"gap share {share:.4%} vs exact {fine:.4%} "
                      f"(256-gon circles; {exact:.4%} with our 64-gons): {diff_pp:.3f} "
                      "percentage points apart (limit 0.5)")
        results.append(Result(
            case=f"coverage gaps {radius:g} m",
            size=f"{label}: {len(wards):,} wards, {len(groups):,} groups, "
                 f"{len(people):,} population points",
            ours="coverage.coverage_gaps",
            seconds=ours_s,
            comparisons=[slowdown("union_all of every buffer, clipped to the study area",
                                  exact_s, ours_s, 1.0)],
            check=check, extra={"gap_share": share, "exact_share_256gon": fine,
                                "exact_share_64gon": exact}).finish())
    return results


# == 5. CAN clustering =========================================================================


def bfs_labels(codes: np.ndarray, selected: np.ndarray, borough: np.ndarray | None,
               left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Baseline: breadth-first search over the queen-contiguity edges, from the selected
    wards in code order, so each cluster is numbered by its smallest ward code; -1 for
    wards not selected."""
    adjacency: list[list[int]] = [[] for _ in codes]
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        adjacency[a].append(b)
    label = np.full(len(codes), -1, dtype=np.int64)
    current = 0
    for start in np.argsort(codes, kind="stable").tolist():
        if not selected[start] or label[start] >= 0:
            continue
        label[start] = current
        queue = deque([start])
        while queue:
            ward = queue.popleft()
            for other in adjacency[ward]:
                if (selected[other] and label[other] < 0
                        and (borough is None or borough[other] == borough[ward])):
                    label[other] = current
                    queue.append(other)
        current += 1
    return label


def case_clusters(areas: Areas, *, seed: int, label: str, share: float = 0.3,
                  limit_s: float | None = None, repeat: int = 3) -> Result:
    from mapper.analysis.neighbourhoods import cluster_labels, queen_neighbours

    wards = areas.wards
    codes = wards["ward_code"].to_numpy(dtype=object)
    rng = np.random.default_rng(seed)
    selected = rng.random(len(wards)) < share
    mask = pd.Series(selected, index=pd.Index(codes, name="ward_code"))
    borough = pd.Series(wards["borough_code"].to_numpy(), index=mask.index)
    log(f"  CAN clusters on {len(wards):,} wards")
    edges_s, edges = best_of(lambda: queen_neighbours(_fresh(wards)), repeat)
    ours_s, labels = best_of(lambda: cluster_labels(mask, edges, same_borough=borough), repeat)
    position = pd.Series(np.arange(len(codes)), index=codes)
    left = position.reindex(edges["ward_code"]).to_numpy()
    right = position.reindex(edges["neighbour_code"]).to_numpy()
    bfs_s, bfs = best_of(lambda: bfs_labels(codes, selected, borough.to_numpy(dtype=object),
                                            left, right), repeat)
    ours = labels.reindex(codes).fillna(-1).astype(np.int64).to_numpy()
    same = np.array_equal(ours, bfs)
    clusters = int(bfs.max()) + 1
    total = edges_s + ours_s
    differ = "" if same else f" ({int((ours != bfs).sum())} wards differ)"
    check = Check(same, f"{clusters:,} clusters of {int(selected.sum()):,} selected wards; "
                  f"labels {'identical to' if same else 'DIFFER from'} the BFS{differ}")
    comparisons = [speedup("plain BFS over the same queen edges (clustering only)", bfs_s,
                           ours_s, None,
                           note=f"queen contiguity (queen_neighbours) took {edges_s:.3f} s, "
                                f"{len(edges):,} directed edges")]
    if limit_s is not None:
        comparisons.append(
            speedup(f"time limit {limit_s:g} s (contiguity + clustering)", limit_s, total,
                    1.0, note=f"contiguity + clustering took {total:.3f} s"))
        comparisons[-1].ratio_is = "time limit / our time (>= 1: within the limit)"
    return Result(
        case="CAN clustering (contiguity + components)",
        size=f"{label}: {len(wards):,} wards, {share:.0%} selected, within boroughs",
        ours="neighbourhoods.queen_neighbours + cluster_labels",
        seconds=total,
        comparisons=comparisons,
        check=check, extra={"queen_s": edges_s, "cluster_s": ours_s}).finish()
