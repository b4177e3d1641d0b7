"""Community Action Neighbourhoods (CANs): contiguous clusters of wards meeting conditions.

The numeric core works on ward codes and an edge list; :func:`find_neighbourhoods` is the
GeoDataFrame adapter that strings the steps together:

1. :func:`queen_neighbours` -- which wards touch (share at least a point, within a small
   tolerance for slivers and gaps in real boundary files);
2. :func:`cluster_labels` -- groups of touching selected wards (connected components),
   optionally never crossing a borough boundary;
3. :func:`apply_population_bounds` -- split clusters that are too large, drop those too
   small;
4. stable ids ("CAN-01" = the greatest total unmet need) and a ranked summary.

:func:`selection_draws` re-chooses the wards under perturbed weights and thresholds, and
:func:`can_stability` says how often each CAN is found again, labelled by
:func:`stability_label`.

Labels produced by graph algorithms depend on row order; every label leaving this module
is renumbered from the data alone (need, population, ward codes), never from row order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from mapper.can_history import can_number, format_id
from mapper.geo import CRS_ANALYSIS

#: columns of the edge list returned by :func:`queen_neighbours`
EDGE_COLUMNS = ("ward_code", "neighbour_code")
#: ward-level columns summed per CAN when present in the table
SUMMED_COLUMNS = ("groups_total", "premises_total", "incidents")
#: ward-level columns averaged per CAN, weighted by population, when present
WEIGHTED_COLUMNS = ("imd_score",)
#: prefix of the columns holding each component's contribution to unmet need
CONTRIB_PREFIX = "contrib_"
#: how many ward names, and how many drivers, a CAN's summary names
NAMED_WARDS = 2
NAMED_DRIVERS = 2
#: how many offending ward codes an error message lists
LISTED_CODES = 5


# -- contiguity -----------------------------------------------------------------------


def queen_neighbours(wards: gpd.GeoDataFrame, *, tolerance_m: float = 1.0) -> pd.DataFrame:
    """Pairs of wards that touch (queen contiguity), allowing for slivers and small gaps.

    Two wards are neighbours when their boundaries come within `tolerance_m` metres of each
    other: sharing an edge or only a corner both count, and so do the sub-metre gaps and
    overlaps left between neighbours in real boundary files. Multipolygon wards touch
    through any of their parts; a ward touching nothing (an island) has no rows.

    Parameters
    ----------
    wards
        Ward boundaries in EPSG:27700 with a unique ``ward_code`` column.
    tolerance_m
        Greatest gap, in metres, still counted as touching.

    Returns
    -------
    pandas.DataFrame
        One row per ordered pair, both directions present, columns ``ward_code`` and
        ``neighbour_code``, sorted by both; no ward is its own neighbour.
    """
    _require_analysis_crs(wards, "wards")
    codes = _ward_codes(wards)
    if not np.isfinite(tolerance_m) or tolerance_m < 0:
        raise ValueError(f"tolerance_m must be a distance in metres >= 0; got {tolerance_m!r}")
    geoms = np.asarray(wards.geometry.array)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=float(tolerance_m))
    keep = left != right
    edges = pd.DataFrame({EDGE_COLUMNS[0]: codes[left[keep]], EDGE_COLUMNS[1]: codes[right[keep]]})
    return edges.sort_values(list(EDGE_COLUMNS), ignore_index=True)


# -- clusters -------------------------------------------------------------------------


def cluster_labels(
    mask: pd.Series,
    neighbours: pd.DataFrame,
    *,
    same_borough: pd.Series | None = None,
) -> pd.Series:
    """Label the contiguous groups of selected wards (connected components).

    Parameters
    ----------
    mask
        Boolean, indexed by ``ward_code``: True for the wards meeting the conditions
        (missing values count as False).
    neighbours
        Edge list from :func:`queen_neighbours`; edges naming wards absent from `mask`
        are ignored.
    same_borough
        ``borough_code`` per ward, indexed by ``ward_code``. When given, edges between
        wards of different boroughs are dropped, so no cluster crosses a borough boundary.
        None lets clusters cross borough boundaries.

    Returns
    -------
    pandas.Series
        ``cluster`` (Int64) indexed like `mask`: <NA> for unselected wards, else 0, 1, ...
        numbered by the smallest ward code in each cluster (independent of row order).
    """
    selected = _boolean(mask, "mask")
    codes = selected.index[selected.to_numpy()]
    boroughs = None
    if same_borough is not None:
        boroughs = _aligned(same_borough, codes, "same_borough").to_numpy()
    left, right = _edge_positions(neighbours, codes)
    if boroughs is not None:
        same = boroughs[left] == boroughs[right]
        left, right = left[same], right[same]
    return _labels_series(selected.index, codes, _components(len(codes), left, right))


def apply_population_bounds(
    labels: pd.Series,
    population: pd.Series,
    unmet_need: pd.Series,
    neighbours: pd.DataFrame,
    *,
    min_population: float = 0,
    max_population: float | None = None,
    split: str = "trim",
) -> pd.Series:
    """Split clusters above a population ceiling and drop those below a floor.

    ``split="trim"`` (the default) applies the rule below; ``split="balanced"`` splits an
    oversized cluster into contiguous parts of balanced population instead, keeping every
    ward (see :func:`balanced_parts`, a SKATER-style regionalisation).

    The rule, applied until every cluster is within the ceiling:

    1. total the population of each cluster (wards touching within the same cluster);
    2. from *every* cluster above `max_population` remove the one ward with the lowest
       unmet need (on a tie, the ward with the alphabetically smallest ``ward_code``);
       removed wards belong to no CAN;
    3. recompute the clusters from the remaining wards (removing a ward may split its
       cluster in two or more parts) and repeat.

    A single ward above the ceiling is therefore removed too. Finally every cluster whose
    population is below `min_population` is dropped.

    Parameters
    ----------
    labels
        Cluster per ward (from :func:`cluster_labels`), indexed by ``ward_code``, <NA>
        outside any cluster. Clusters never merge: only edges between wards sharing a
        label are used.
    population, unmet_need
        Per ward, indexed by ``ward_code``; required for every labelled ward.
    neighbours
        Edge list from :func:`queen_neighbours`.
    min_population
        Smallest population a cluster may have (inclusive).
    max_population
        Largest population a cluster may have (inclusive); None for no ceiling.

    Returns
    -------
    pandas.Series
        ``cluster`` (Int64) indexed like `labels`, <NA> outside the kept clusters, numbered
        by the smallest ward code in each cluster.
    """
    _check_bounds(min_population, max_population)
    if not labels.index.is_unique:
        raise ValueError("labels index (ward_code) has repeated values")
    labelled = labels[labels.notna()]
    codes = labelled.index
    pop = _aligned(population, codes, "population").to_numpy(float)
    need = _aligned(unmet_need, codes, "unmet_need").to_numpy(float)
    left, right = _edge_positions(neighbours, codes)
    cluster = labelled.astype(int).to_numpy()
    same = cluster[left] == cluster[right]
    left, right = left[same], right[same]
    active = np.ones(len(codes), bool)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    if max_population is not None and split == "balanced":
        comp = balanced_parts(_active_components(active, left, right), left, right, pop, need,
                              max_population)
        return _labels_series(labels.index, codes, _drop_small(comp, pop, min_population))
    if max_population is not None:
        rank = _removal_rank(need, codes)
        active = _split_oversized(active, left, right, pop, rank, max_population)
    comp = _drop_small(_active_components(active, left, right), pop, min_population)
    return _labels_series(labels.index, codes, comp)


SPLITS = ("trim", "balanced")


def balanced_parts(comp: np.ndarray, left: np.ndarray, right: np.ndarray, pop: np.ndarray,
                   need: np.ndarray, max_population: float) -> np.ndarray:
    """Split every component above `max_population` into contiguous parts (SKATER-style).

    For an oversized component, a minimum spanning tree is built over its wards' contiguity
    with edge costs ``|unmet_need_i - unmet_need_j|`` (so the tree links similar wards);
    then, while a part is above the ceiling, the tree edge whose removal gives the most
    balanced split (the largest population on the smaller side; ties: the most dissimilar
    edge, then the lowest ward positions) is cut. Every ward is kept; a single ward above
    the ceiling cannot be split and is dropped (-1). Returns new component labels.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    out = comp.copy()
    next_label = int(comp.max()) + 1 if len(comp) else 0
    totals = pd.Series(pop).groupby(comp).sum()
    for label in totals.index[(totals > max_population) & (totals.index >= 0)]:
        members = np.flatnonzero(comp == label)
        local = {int(g): i for i, g in enumerate(members)}
        inside = np.isin(left, members) & np.isin(right, members) & (left < right)
        a = np.array([local[int(i)] for i in left[inside]], dtype=int)
        b = np.array([local[int(i)] for i in right[inside]], dtype=int)
        cost = np.abs(need[left[inside]] - need[right[inside]]) + 1e-9
        tree = minimum_spanning_tree(coo_matrix((cost, (a, b)), shape=(len(members),) * 2))
        tree = tree.tocoo()
        edges = sorted(zip(tree.row.tolist(), tree.col.tolist(), tree.data.tolist(),
                           strict=True))
        for part in _cut_tree(list(range(len(members))), edges, pop[members], max_population):
            out[members[part]] = next_label if len(part) > 1 or pop[members[part]].sum() \
                <= max_population else -1
            next_label += 1
    return out


def _cut_tree(nodes: list[int], edges: list, pop: np.ndarray, ceiling: float) -> list[list[int]]:
    """Parts of a tree after cutting the most balancing edge until all fit (see above)."""
    parts, queue = [], [(nodes, edges)]
    while queue:
        part, tree = queue.pop()
        if pop[part].sum() <= ceiling or not tree:
            parts.append(part)
            continue
        best: tuple[tuple, int, set[int]] | None = None
        for n, (i, j, cost) in enumerate(tree):
            side = _side(i, [e for m, e in enumerate(tree) if m != n])
            small = min(pop[list(side)].sum(), pop[part].sum() - pop[list(side)].sum())
            key = (small, cost, -min(i, j))
            if best is None or key > best[0]:
                best = (key, n, side)
        assert best is not None  # the tree has an edge to cut (checked above)
        _, n, side = best
        rest = [e for m, e in enumerate(tree) if m != n]
        one = sorted(side)
        two = sorted(set(part) - side)
        queue.append((two, [e for e in rest if e[0] in set(two)]))
        queue.append((one, [e for e in rest if e[0] in side]))
    return parts


def _side(start: int, edges: list) -> set[int]:
    """Nodes reachable from `start` over `edges` (a forest)."""
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for i, j, _ in edges:
            for a, b in ((i, j), (j, i)):
                if a == node and b not in seen:
                    seen.add(b)
                    todo.append(b)
    return seen


def _split_oversized(active, left, right, pop, removal_rank, max_population) -> np.ndarray:
    """Remove wards (see apply_population_bounds) until no cluster exceeds the ceiling."""
    active = active.copy()
    while True:
        comp = _active_components(active, left, right)
        drop = _wards_to_remove(comp, pop, removal_rank, max_population)
        if not len(drop):
            return active
        active[drop] = False


def _drop_small(comp: np.ndarray, pop: np.ndarray, min_population: float) -> np.ndarray:
    """Set to -1 the wards of clusters whose population is below `min_population`."""
    member = comp >= 0
    if not member.any():
        return comp
    comp_pop = np.bincount(comp[member], weights=pop[member])
    small = member & (comp_pop[np.where(member, comp, 0)] < min_population)
    return np.where(small, -1, comp)


def _removal_rank(need: np.ndarray, codes: pd.Index) -> np.ndarray:
    """Order in which wards are removed: lowest need first, then smallest ward code."""
    order = np.lexsort((codes.to_numpy(str), need))
    rank = np.empty(len(order), int)
    rank[order] = np.arange(len(order))
    return rank


def _wards_to_remove(comp, pop, removal_rank, max_population) -> np.ndarray:
    """Positions of the first-to-remove ward of every cluster above the ceiling."""
    member = comp >= 0
    if not member.any():
        return np.empty(0, int)
    n_comp = comp.max() + 1
    comp_pop = np.bincount(comp[member], weights=pop[member], minlength=n_comp)
    over = member & (comp_pop[np.where(member, comp, 0)] > max_population)
    if not over.any():
        return np.empty(0, int)
    best = np.full(n_comp, len(comp))
    np.minimum.at(best, comp[over], removal_rank[over])
    chosen = best[best < len(comp)]
    return np.flatnonzero(np.isin(removal_rank, chosen))


def _active_components(active, left, right) -> np.ndarray:
    """Component per position among active wards; -1 for inactive ones."""
    live = active[left] & active[right]
    comp = _components(len(active), left[live], right[live])
    return np.where(active, comp, -1)


# -- the adapter: CANs from wards and a table ---------------------------------------


def find_neighbourhoods(
    wards: gpd.GeoDataFrame,
    table: pd.DataFrame,
    *,
    select: pd.Series,
    min_population: float = 0,
    max_population: float | None = None,
    cross_borough: bool = False,
    neighbours: pd.DataFrame | None = None,
    split: str = "trim",
) -> tuple[pd.Series, pd.DataFrame]:
    """Label and rank Community Action Neighbourhoods: contiguous clusters of selected wards.

    Selected wards that touch (:func:`queen_neighbours`) form a cluster; unless
    `cross_borough` is True a cluster never crosses a borough boundary. Clusters are then
    held within the population bounds by :func:`apply_population_bounds`.

    Ids are stable: clusters are numbered by descending total unmet need, the sum over
    their wards of ``unmet_need * population`` (on a tie, the cluster holding the smallest
    ward code comes first), as "CAN-01", "CAN-02", ... "CAN-99", "CAN-100" ...
    (:func:`mapper.can_history.format_id`: the width never depends on the count).
    The same data in any row order gives the same ids. These are this run's ids; across
    runs, :func:`mapper.analysis.can_identity.match_neighbourhoods` gives a CAN found
    again the id it had before.

    Parameters
    ----------
    wards
        Ward boundaries in EPSG:27700 with ``ward_code``, ``ward_name``, ``borough_code``.
    table
        Indexed by ``ward_code``; ``population`` and ``unmet_need`` are required for every
        selected ward. Optional columns summarised when present: ``groups_total``,
        ``premises_total``, ``incidents`` (summed), ``imd_score`` (population-weighted
        mean) and ``contrib_<component>`` (each component's contribution to the ward's
        unmet need, giving ``top_drivers``).
    select
        Boolean, indexed by ``ward_code``: the wards meeting the user's conditions. Wards
        missing from it are not selected.
    min_population, max_population
        Population bounds of a CAN (inclusive); see :func:`apply_population_bounds`.
    cross_borough
        Let CANs cross borough boundaries.
    neighbours
        A precomputed :func:`queen_neighbours` edge list for `wards`, to save recomputing.
    split
        How clusters above `max_population` are split: "trim" (remove lowest-need wards)
        or "balanced" (SKATER-style parts of balanced population, keeping every ward).

    Returns
    -------
    can_id : pandas.Series
        ``can_id`` (string) indexed by ``ward_code`` in the row order of `wards`, <NA>
        for wards in no CAN.
    summary : pandas.DataFrame
        Indexed by ``can_id`` in rank order, columns: ``rank`` (1 = greatest total unmet
        need); ``name``, the names of the two wards with the highest unmet need joined
        by " & " (ties by ward code) plus " and N more" for larger CANs, e.g.
        "Abbey & Gascoigne and 3 more"; ``wards`` (count); ``ward_codes`` and
        ``boroughs`` (sorted codes joined by "; "); ``population`` (sum); ``unmet_need``
        (population-weighted mean); the optional sums and means above; ``top_drivers``,
        the (at most) two components with the highest population-weighted mean
        contribution, joined by "; " (components contributing nothing or less are left
        out; "" without ``contrib_`` columns).
    """
    _check_inputs(wards, table, select)
    frame = _ward_frame(wards, table)
    if neighbours is None:
        neighbours = queen_neighbours(wards)
    mask = _boolean(select, "select").reindex(frame.index, fill_value=False)
    boroughs = None if cross_borough else frame["borough_code"]
    labels = cluster_labels(mask, neighbours, same_borough=boroughs)
    labels = apply_population_bounds(
        labels,
        frame["population"],
        frame["unmet_need"],
        neighbours,
        min_population=min_population,
        max_population=max_population,
        split=split,
    )
    in_can = labels.notna().to_numpy()
    members = frame.loc[in_can].assign(cluster=labels[in_can].astype(int)).reset_index()
    ids = _stable_ids(members)
    can_id = labels.map(ids).astype("string").reindex(_ward_codes(wards)).rename("can_id")
    return can_id, _summarise(members.assign(can_id=members["cluster"].map(ids)))


def _ward_frame(wards: gpd.GeoDataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Ward attributes and table columns, indexed and sorted by ward code.

    Sorting fixes the order of every sum, so results are identical for shuffled rows.
    """
    base = pd.DataFrame(
        {
            "ward_name": wards["ward_name"].to_numpy(),
            "borough_code": wards["borough_code"].to_numpy(),
        },
        index=pd.Index(_ward_codes(wards), name="ward_code"),
    )
    extra = table.drop(columns=["ward_name", "borough_code"], errors="ignore")
    return base.join(extra, how="left").sort_index()


def _stable_ids(members: pd.DataFrame) -> pd.Series:
    """Map cluster label -> "CAN-NN": by descending total unmet need, then smallest code."""
    total = (members["unmet_need"] * members["population"]).groupby(members["cluster"]).sum()
    first = members.groupby("cluster")["ward_code"].min()
    order = pd.DataFrame({"total": total, "first": first})
    order = order.sort_values(["total", "first"], ascending=[False, True])
    return pd.Series([format_id(i) for i in range(1, len(order) + 1)], index=order.index)


def _summarise(members: pd.DataFrame) -> pd.DataFrame:
    """One row per CAN, in rank order (see :func:`find_neighbourhoods`)."""
    if members.empty:
        return _empty_summary(members)
    by = members.groupby("can_id", sort=True)
    columns = {
        "name": _names(members),
        "wards": by.size().astype(int),
        "ward_codes": by["ward_code"].agg(lambda s: "; ".join(sorted(s))),
        "boroughs": by["borough_code"].agg(lambda s: "; ".join(sorted(set(s)))),
        "population": by["population"].sum(),
        "unmet_need": _weighted_mean(members, "unmet_need"),
    }
    columns |= {c: by[c].sum() for c in SUMMED_COLUMNS if c in members}
    columns |= {c: _weighted_mean(members, c) for c in WEIGHTED_COLUMNS if c in members}
    # in number order, which is rank order (as text, CAN-100 would come before CAN-11)
    summary = pd.DataFrame(columns, index=pd.Index(sorted(by.groups, key=can_number),
                                                   dtype="string"))
    summary["top_drivers"] = _top_drivers(members).reindex(summary.index, fill_value="")
    summary.insert(0, "rank", np.arange(1, len(summary) + 1))
    return summary.rename_axis("can_id")


def _empty_summary(members: pd.DataFrame) -> pd.DataFrame:
    """The summary's columns, with no rows."""
    text = ["name", "ward_codes", "boroughs"]
    columns = ["rank", "name", "wards", "ward_codes", "boroughs", "population", "unmet_need"]
    columns += [c for c in (*SUMMED_COLUMNS, *WEIGHTED_COLUMNS) if c in members]
    frame = pd.DataFrame(
        {c: pd.Series(dtype=object if c in text else float) for c in columns},
        index=pd.Index([], dtype="string", name="can_id"),
    )
    frame["top_drivers"] = pd.Series(dtype=object)
    return frame.astype({"rank": int, "wards": int})


def _names(members: pd.DataFrame) -> pd.Series:
    """'A & B and N more' from the wards with the highest unmet need (ties by code)."""
    ranked = members.sort_values(
        ["can_id", "unmet_need", "ward_code"], ascending=[True, False, True]
    )
    names = ranked.groupby("can_id", sort=True)["ward_name"]
    text = names.agg(lambda s: " & ".join(s.iloc[:NAMED_WARDS].astype(str)))
    more = names.size() - NAMED_WARDS
    suffix = more.map(lambda n: f" and {n} more" if n > 0 else "")
    return text + suffix


def _weighted_mean(members: pd.DataFrame, column: str) -> pd.Series:
    """Population-weighted mean of `column` per CAN, ignoring wards missing a value."""
    values = pd.to_numeric(members[column], errors="coerce").astype(float)
    weights = members["population"].astype(float).where(values.notna(), 0.0)
    numerator = (values.fillna(0.0) * weights).groupby(members["can_id"]).sum()
    denominator = weights.groupby(members["can_id"]).sum()
    return numerator / denominator.where(denominator > 0)


def _top_drivers(members: pd.DataFrame) -> pd.Series:
    """The components with the highest population-weighted mean contribution per CAN."""
    columns = [c for c in members.columns if str(c).startswith(CONTRIB_PREFIX)]
    if not columns or members.empty:
        return pd.Series(dtype=object)
    means = pd.DataFrame(
        {c.removeprefix(CONTRIB_PREFIX): _weighted_mean(members, c) for c in columns}
    )

    def top(row: pd.Series) -> str:
        ranked = sorted(
            ((name, value) for name, value in row.items() if value > 0),
            key=lambda item: (-item[1], item[0]),
        )
        return "; ".join(name for name, _ in ranked[:NAMED_DRIVERS])

    return means.apply(top, axis=1)


# -- stability of the selection -------------------------------------------------------


def _check_draws(draws, spread) -> None:
    """The one check of the stability measures' draws and spread (ValueError saying why)."""
    if isinstance(draws, bool) or int(draws) != draws or draws < 1:
        raise ValueError(f"draws must be a whole number >= 1; got {draws!r}")
    if not 0 <= spread <= 1:
        raise ValueError(f"spread must be between 0 and 1; got {spread!r}")


#: a CAN kept in at least this share of perturbed runs is robust; below MARGINAL, marginal
ROBUST, MARGINAL = 0.8, 0.5
#: a CAN counts as found again in a run when wards holding at least this share of its
#: residents are still selected
KEPT_SHARE = 0.5
#: the threshold (top share of wards) moves by up to this fraction of the weights' spread
THRESHOLD_SPREAD = 0.5


def perturbations(weights: Mapping[str, float], *, draws: int, spread: float,
                  seed: int = 0) -> list[tuple[dict[str, float], float]]:
    """The perturbed settings of the stability check: (weights, threshold factor) per draw.

    Each weight is multiplied by its own factor drawn uniformly from
    ``[1 - spread, 1 + spread]``, and the threshold (the top share of wards considered)
    by one from ``[1 - spread * THRESHOLD_SPREAD, 1 + spread * THRESHOLD_SPREAD]``
    (``numpy.random.default_rng(seed)``: one row of factors per draw, weights in the
    order given, the threshold last). The same seed gives the same draws.
    """
    _check_draws(draws, spread)
    names = list(weights)
    base = np.array([float(weights[n]) for n in names])
    rng = np.random.default_rng(seed)
    factors = rng.uniform(-1, 1, size=(int(draws), len(names) + 1))
    out = []
    for row in factors:
        moved = base * (1 + spread * row[:-1])
        out.append((dict(zip(names, moved.tolist(), strict=True)),
                    float(1 + spread * THRESHOLD_SPREAD * row[-1])))
    return out


def selection_draws(
    compute_selected: Callable[[dict[str, float], float], pd.Series],
    weights: Mapping[str, float],
    *,
    draws: int = 200,
    spread: float = 1.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Which wards are selected under each perturbed setting (:func:`perturbations`).

    `compute_selected(weights, threshold_factor)` returns a boolean Series indexed by
    ``ward_code``. Returns a bool frame indexed by ``ward_code`` (every ward any draw
    returned), one column per draw (0, 1, ...); a ward absent from a draw is False there.
    The row mean is each ward's stability.
    """
    columns = {}
    for i, (moved, factor) in enumerate(perturbations(weights, draws=draws, spread=spread,
                                                      seed=seed)):
        columns[i] = _boolean(compute_selected(moved, factor), "compute_selected(weights)")
    frame = pd.DataFrame(columns).fillna(False).astype(bool)
    return frame.rename_axis("ward_code")


def can_stability(selected: pd.DataFrame, can_id: pd.Series, population: pd.Series) -> pd.Series:
    """Share of perturbed runs in which each CAN is found again.

    A CAN is found again in a run when wards holding at least :data:`KEPT_SHARE` of its
    residents are selected in that run (`selected`: from :func:`selection_draws`; a CAN
    whose wards have no residents counts its wards instead). Returns ``stability``
    (0-1) indexed by ``can_id``, sorted.
    """
    members = can_id.dropna().astype(str)
    if members.empty:
        return pd.Series(dtype=float, name="stability").rename_axis("can_id")
    pop = pd.to_numeric(population.reindex(members.index), errors="coerce").fillna(0.0)
    pop = pop.groupby(members).transform(lambda p: p if p.sum() > 0 else p * 0 + 1)
    chosen = selected.reindex(members.index).fillna(False).astype(float)
    held = chosen.mul(pop, axis=0).groupby(members).sum()
    total = pop.groupby(members).sum()
    kept = held.div(total, axis=0) >= KEPT_SHARE - 1e-12
    return kept.mean(axis=1).rename("stability").rename_axis("can_id").sort_index()


def stability_label(share: float) -> str:
    """'robust' (>= ROBUST), 'marginal' (< MARGINAL) or 'moderate'; '' when unknown."""
    if share is None or not np.isfinite(share):
        return ""
    if share >= ROBUST - 1e-12:
        return "robust"
    return "marginal" if share < MARGINAL else "moderate"


def stability_method(draws: int, spread: float) -> str:
    """One sentence saying how stability was measured, for pages and the record."""
    return (f"Stability is the share of {draws:,} re-runs, each with every weight moved at "
            f"random by up to {spread:.0%} either way and the share of wards considered by "
            f"up to {spread * THRESHOLD_SPREAD:.0%}, in which wards holding at least "
            f"{KEPT_SHARE:.0%} of the CAN's residents were still selected: robust from "
            f"{ROBUST:.0%}, marginal below {MARGINAL:.0%}.")


# -- checks and small helpers ---------------------------------------------------------


def _require_analysis_crs(frame: gpd.GeoDataFrame, name: str) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ValueError(f"{name} must be a GeoDataFrame; got {type(frame)!r}")
    if frame.crs is None or CRS.from_user_input(frame.crs) != CRS.from_user_input(CRS_ANALYSIS):
        got = "no CRS" if frame.crs is None else frame.crs.to_string()
        raise ValueError(
            f"{name} must be in {CRS_ANALYSIS} (British National Grid); got {got} "
            "(reproject with mapper.geo.to_analysis)"
        )


def _ward_codes(wards: pd.DataFrame) -> np.ndarray:
    if "ward_code" not in wards:
        raise ValueError(f"wards needs a 'ward_code' column; got {list(wards.columns)}")
    codes = wards["ward_code"].astype(str).to_numpy()
    repeated = pd.Index(codes)[pd.Index(codes).duplicated()]
    if len(repeated):
        raise ValueError(f"wards has repeated ward_code values: {_listed(repeated)}")
    return codes


def _check_inputs(wards: gpd.GeoDataFrame, table: pd.DataFrame, select: pd.Series) -> None:
    """Raise one ValueError listing every problem with the inputs of find_neighbourhoods."""
    _require_analysis_crs(wards, "wards")
    problems = []
    missing = [c for c in ("ward_code", "ward_name", "borough_code") if c not in wards]
    if missing:
        problems.append(f"wards lacks columns {missing}; got {list(wards.columns)}")
    missing = [c for c in ("population", "unmet_need") if c not in table]
    if missing:
        problems.append(f"table lacks columns {missing}; got {list(table.columns)}")
    if not table.index.is_unique:
        problems.append("table index (ward_code) has repeated values")
    if not isinstance(select, pd.Series) or not pd.api.types.is_bool_dtype(select.dtype):
        got = select.dtype if isinstance(select, pd.Series) else type(select)
        problems.append(f"select must be a boolean Series indexed by ward_code; got {got}")
    elif not select.index.is_unique:
        problems.append("select index (ward_code) has repeated values")
    elif not problems:
        problems += _selection_problems(wards, table, select)
    if problems:
        raise ValueError("cannot find neighbourhoods:\n  - " + "\n  - ".join(problems))


def _selection_problems(wards, table, select) -> list[str]:
    """Selected wards absent from the boundaries, or lacking population or unmet need."""
    chosen = pd.Index(select.index[select.fillna(False).to_numpy(bool)].astype(str))
    problems = []
    unknown = chosen.difference(pd.Index(wards["ward_code"].astype(str)))
    if len(unknown):
        problems.append(
            f"{len(unknown)} selected ward codes are not in wards (another ward vintage?): "
            f"{_listed(unknown)}"
        )
    for column in ("population", "unmet_need"):
        values = pd.to_numeric(table[column], errors="coerce").reindex(chosen)
        invalid = values.isna() | (values < 0) if column == "population" else values.isna()
        if invalid.any():
            problems.append(
                f"{int(invalid.sum())} selected wards have no valid {column} in table: "
                f"{_listed(values.index[invalid.to_numpy()])}"
            )
    return problems


def _check_bounds(min_population: float, max_population: float | None) -> None:
    if not np.isfinite(min_population) or min_population < 0:
        raise ValueError(f"min_population must be a number >= 0; got {min_population!r}")
    if max_population is None:
        return
    if not max_population > 0:
        raise ValueError(f"max_population must be a number > 0 or None; got {max_population!r}")
    if min_population > max_population:
        raise ValueError(
            f"min_population ({min_population:,}) is above max_population "
            f"({max_population:,}): no CAN could meet both"
        )


def _boolean(mask: pd.Series, name: str) -> pd.Series:
    """A plain bool Series (missing values False), checked to be boolean and unique."""
    if not isinstance(mask, pd.Series) or not pd.api.types.is_bool_dtype(mask.dtype):
        got = mask.dtype if isinstance(mask, pd.Series) else type(mask)
        raise ValueError(f"{name} must be a boolean Series indexed by ward_code; got {got}")
    if not mask.index.is_unique:
        raise ValueError(f"{name} index (ward_code) has repeated values")
    return mask.fillna(False).astype(bool)


def _aligned(values: pd.Series, codes: pd.Index, name: str) -> pd.Series:
    """`values` reindexed to `codes`, raising when any is missing."""
    aligned = values.reindex(codes)
    missing = aligned.index[aligned.isna().to_numpy()]
    if len(missing):
        raise ValueError(f"{name} has no value for {len(missing)} wards: {_listed(missing)}")
    return aligned


def _edge_positions(neighbours: pd.DataFrame, codes: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Edges as positions in `codes`, keeping only those with both ends in `codes`."""
    missing = [c for c in EDGE_COLUMNS if c not in getattr(neighbours, "columns", [])]
    if missing:
        raise ValueError(
            "neighbours must be an edge list from queen_neighbours with columns "
            f"{list(EDGE_COLUMNS)}; got {type(neighbours)!r}"
        )
    index = pd.Index(codes)
    left = index.get_indexer(neighbours[EDGE_COLUMNS[0]])
    right = index.get_indexer(neighbours[EDGE_COLUMNS[1]])
    keep = (left >= 0) & (right >= 0)
    return left[keep], right[keep]


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected component of each of `n` nodes given undirected edges."""
    if n == 0:
        return np.empty(0, int)
    graph = coo_array((np.ones(len(left), np.int8), (left, right)), shape=(n, n)).tocsr()
    return connected_components(graph, directed=False)[1]


def _labels_series(index: pd.Index, codes: pd.Index, comp: np.ndarray) -> pd.Series:
    """Int64 ``cluster`` Series over `index`: components renumbered by smallest code.

    `comp` gives the component of each of `codes` (-1 for none).
    """
    keep = np.asarray(comp) >= 0
    kept = np.asarray(comp)[keep]
    kept_codes = pd.Index(codes)[keep]
    labels = pd.Series(pd.NA, index=index, dtype="Int64", name="cluster")
    if len(kept):
        first = pd.Series(kept_codes.astype(str)).groupby(kept).min()
        order = pd.Series(np.arange(len(first)), index=first.sort_values().index)
        labels.loc[kept_codes] = order.reindex(kept).to_numpy()
    return labels


def _listed(codes) -> str:
    codes = [str(c) for c in codes]
    more = len(codes) - LISTED_CODES
    return ", ".join(codes[:LISTED_CODES]) + (f" and {more} more" if more > 0 else "")
