"""Asset supply per ward: counts of VCS groups and premises, rates and distances.

Counts and rates answer "how much is there here" (``groups_total_per_1000``); distances
answer "how far do residents live from it" (``mean_distance_faith_m``). Both are pure
functions of the canonical registers (see :mod:`mapper.registers`), in EPSG:27700.

Likely duplicates
-----------------
The importers flag, never merge, records that look like another record: the first record
keeps ``duplicate_of`` empty and each later one names the first. By default
(``exclude_duplicates=True``) every flagged record is left out, so each cluster of likely
duplicates is counted once, in the ward (and at the place) of its first record.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS
from scipy.spatial import cKDTree

from mapper.analysis._tables import (
    aligned_population,
    crosstab,
    in_service,
    is_duplicate,
    require,
    slug,
    slugs,
    ward_index,
)
from mapper.geo import CRS_ANALYSIS

TOTAL = "total"
ANY = "any"
RATE_SUFFIX = "_per_1000"


# -- selection -------------------------------------------------------------------------


def _countable(records: pd.DataFrame, index: pd.Index, exclude_duplicates: bool) -> pd.DataFrame:
    """Records in a ward of `index` that are in service, without flagged duplicates when
    asked."""
    keep = records["ward_code"].isin(index) & in_service(records)
    if exclude_duplicates:
        keep &= ~is_duplicate(records)
    return records[keep.to_numpy()]


def _ordered_slugs(present: pd.Series, values: Sequence[str] | None) -> list[str]:
    """Given values' slugs first (in order), then any other slug present, sorted."""
    if isinstance(values, str):
        raise TypeError(f"values must be a sequence of values, got str {values!r}")
    given = [] if values is None else list(slugs(pd.Series(list(values), dtype="object")))
    given = list(dict.fromkeys(s for s in given if isinstance(s, str)))
    others = sorted(set(present.dropna()) - set(given))
    return given + others


# -- counts and rates ------------------------------------------------------------------


def count_by(
    records: pd.DataFrame,
    wards_index,
    *,
    column: str,
    prefix: str,
    exclude_duplicates: bool = True,
    values: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Count records per ward and per value of `column`.

    Parameters
    ----------
    records : a register (``groups``, ``premises``) with ``ward_code`` and `column`
    wards_index : the wards to report on (see :func:`ward_index`)
    column : the column whose values split the counts (``category``, ``type``)
    prefix : start of every output column (``groups``, ``premises``)
    exclude_duplicates : leave out records flagged in ``duplicate_of``, so each cluster of
        likely duplicates counts once (in its first record's ward)
    values : values that get a column even when nothing has them, in this order; other
        values found follow, sorted

    Returns
    -------
    DataFrame indexed by ``ward_code`` (every ward of `wards_index`, in its order), with an
    int column ``f"{prefix}_{slug(value)}"`` per value and ``f"{prefix}_total"``. Values
    differing only in case or punctuation share a column (see :func:`slug`). Records with
    a blank `column` count in the total only; records outside the wards (``ward_code``
    missing or unknown) are not counted.
    """
    index = ward_index(wards_index)
    require(records, ["ward_code", column], "records")
    kept = _countable(records, index, exclude_duplicates)
    kinds = slugs(kept[column])
    names = _ordered_slugs(kinds, values)
    counts = crosstab(kept["ward_code"], index, kinds, names)
    total = crosstab(kept["ward_code"], index, pd.Series(TOTAL, index=kept.index), [TOTAL])
    out = pd.concat([counts, total], axis=1)
    out.columns = [f"{prefix}_{name}" for name in out.columns]
    return out


def per_1000(counts: pd.DataFrame, population: pd.Series) -> pd.DataFrame:
    """Each column of `counts` per 1,000 residents, columns renamed ``*_per_1000``.

    `population` is aligned on the index of `counts`; a ward whose population is 0,
    negative or missing gets NaN (never inf, never a warning).
    """
    if isinstance(counts, pd.Series):
        counts = counts.to_frame()
    thousands = aligned_population(population, counts.index) / 1000.0
    rates = counts.astype("float64").div(thousands, axis=0)
    return rates.add_suffix(RATE_SUFFIX)


def supply_table(
    wards,
    population: pd.Series,
    groups: pd.DataFrame,
    premises: pd.DataFrame,
    *,
    group_categories: Sequence[str] | None = None,
    premises_types: Sequence[str] | None = None,
    exclude_duplicates: bool = True,
) -> pd.DataFrame:
    """Asset supply per ward: groups by category, premises by type, totals and rates.

    Parameters
    ----------
    wards : the wards (a frame with ``ward_code``, or the codes themselves)
    population : residents per ward, indexed by ``ward_code``
    groups, premises : the registers
    group_categories, premises_types : values that always get a column (for example
        ``registers.GROUP_CATEGORIES`` and ``registers.PREMISES_TYPES``)
    exclude_duplicates : see :func:`count_by`

    Returns
    -------
    DataFrame indexed by ``ward_code``: ``groups_<category>`` ..., ``groups_total``,
    ``premises_<type>`` ..., ``premises_total`` (ints), then the same columns suffixed
    ``_per_1000`` (floats; NaN where the population is 0 or missing).
    """
    index = ward_index(wards)
    counts = pd.concat(
        [
            count_by(
                groups,
                index,
                column="category",
                prefix="groups",
                exclude_duplicates=exclude_duplicates,
                values=group_categories,
            ),
            count_by(
                premises,
                index,
                column="type",
                prefix="premises",
                exclude_duplicates=exclude_duplicates,
                values=premises_types,
            ),
        ],
        axis=1,
    )
    return pd.concat([counts, per_1000(counts, population)], axis=1)


# -- distances -------------------------------------------------------------------------


def _check_crs(frame: gpd.GeoDataFrame, what: str) -> None:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise TypeError(f"{what} must be a GeoDataFrame, got {type(frame).__name__}")
    if frame.crs is not None and CRS.from_user_input(frame.crs) != CRS.from_user_input(
        CRS_ANALYSIS
    ):
        raise ValueError(
            f"{what} is in {frame.crs.to_string()}; distances need {CRS_ANALYSIS} "
            "(reproject with mapper.geo.to_analysis)"
        )


def _xy(geometry: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of usable geometries (others reduced to a representative point).

    Returns the (n, 2) coordinates and the boolean mask of rows that have them.
    """
    usable = ~(geometry.isna() | geometry.is_empty).to_numpy()
    points = geometry[usable]
    if len(points) and not (points.geom_type == "Point").all():
        points = points.representative_point()
    xy = np.column_stack([points.x.to_numpy(float), points.y.to_numpy(float)])
    return xy.reshape(-1, 2), usable


def _nearest(targets: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """Distance from each origin to the nearest target; NaN when there is no target."""
    if len(targets) == 0:
        return np.full(len(origins), np.nan)
    if len(origins) == 0:
        return np.empty(0)
    distance, _ = cKDTree(targets).query(origins, k=1)
    return np.asarray(distance, dtype="float64")


def nearest_distance(
    population_points: gpd.GeoDataFrame,
    records: gpd.GeoDataFrame,
    *,
    category_column: str = "category",
    categories: Sequence[str] | None = None,
    exclude_duplicates: bool = True,
    prefix: str = "distance",
) -> pd.DataFrame:
    """Distance in metres from each point to the nearest record of each category.

    Parameters
    ----------
    population_points : points (postcode centroids) in EPSG:27700
    records : a register in EPSG:27700 with `category_column`; non-point geometries are
        reduced to a representative point, empty ones ignored
    category_column : ``category`` for groups, ``type`` for premises
    categories : categories that get a column even when no record has them (their
        distances are NaN); other categories found follow, sorted
    exclude_duplicates : ignore records flagged in ``duplicate_of`` (see module notes)
    prefix : start of every output column

    Returns
    -------
    DataFrame indexed like `population_points`: ``f"{prefix}_{slug(category)}_m"`` per
    category and ``f"{prefix}_any_m"`` (any record, including those with a blank
    category). NaN where no record qualifies or the point has no geometry.
    """
    _check_crs(population_points, "population_points")
    _check_crs(records, "records")
    require(records, [category_column], "records")
    records = records[in_service(records).to_numpy()]
    if exclude_duplicates:
        records = records[~is_duplicate(records).to_numpy()]
    targets, has_xy = _xy(records.geometry)
    kinds = slugs(records[category_column]).fillna("").to_numpy(dtype=object)[has_xy]
    origins, placed = _xy(population_points.geometry)
    names = _ordered_slugs(pd.Series(kinds[kinds != ""], dtype="object"), categories)
    columns = {f"{prefix}_{name}_m": _nearest(targets[kinds == name], origins) for name in names}
    columns[f"{prefix}_{ANY}_m"] = _nearest(targets, origins)
    data = np.full((len(population_points), len(columns)), np.nan)
    data[placed] = np.column_stack(list(columns.values()))
    return pd.DataFrame(data, index=population_points.index, columns=list(columns))


def _weighted_mean(distances: pd.DataFrame, weights: pd.Series, keys: pd.Series):
    """Weighted mean of each column per key, ignoring NaN distances and zero weights."""
    keys = keys.to_numpy()
    weight = pd.DataFrame(
        np.broadcast_to(weights.to_numpy()[:, None], distances.shape),
        index=distances.index,
        columns=distances.columns,
    ).where(distances.notna(), 0.0)
    numerator = (distances.fillna(0.0) * weight).groupby(keys).sum()
    denominator = weight.groupby(keys).sum()
    return numerator / denominator.where(denominator > 0)


def _access(population_points, records, key: str, **options) -> pd.DataFrame:
    require(population_points, ["population", key], "population_points")
    distances = nearest_distance(population_points, records, **options)
    population = pd.to_numeric(population_points["population"], errors="coerce")
    weights = population.astype("float64").where(lambda p: p > 0, 0.0).fillna(0.0)
    mean = _weighted_mean(distances, weights, population_points[key])
    mean.index.name = key
    return mean.add_prefix("mean_")


def lsoa_access(
    population_points: gpd.GeoDataFrame,
    records: gpd.GeoDataFrame,
    lsoa_index=None,
    *,
    category_column: str = "category",
    categories: Sequence[str] | None = None,
    exclude_duplicates: bool = True,
    prefix: str = "distance",
) -> pd.DataFrame:
    """Population-weighted mean distance to the nearest record of each category, per LSOA.

    `population_points` carries ``population`` (each point's share of its LSOA's
    residents) and ``lsoa_code``. Points with no or non-positive population carry no
    weight. Options are those of :func:`nearest_distance`.

    Returns
    -------
    DataFrame indexed by ``lsoa_code`` (the codes of `lsoa_index` when given, else those
    of the points), columns ``mean_<column of nearest_distance>``, e.g.
    ``mean_distance_faith_m`` and ``mean_distance_any_m``; NaN where no resident of the
    LSOA has a qualifying record (or the LSOA has no population points).
    """
    mean = _access(
        population_points,
        records,
        "lsoa_code",
        category_column=category_column,
        categories=categories,
        exclude_duplicates=exclude_duplicates,
        prefix=prefix,
    )
    if lsoa_index is not None:
        mean = mean.reindex(pd.Index(lsoa_index, name="lsoa_code"))
    return mean


def ward_access(
    population_points: gpd.GeoDataFrame,
    records: gpd.GeoDataFrame,
    wards_index,
    *,
    category_column: str = "category",
    categories: Sequence[str] | None = None,
    exclude_duplicates: bool = True,
    prefix: str = "distance",
) -> pd.DataFrame:
    """As :func:`lsoa_access`, per ward: indexed by every ward of `wards_index`.

    Uses the points' ``ward_code``; a ward with no population points gets NaN.
    """
    index = ward_index(wards_index)
    mean = _access(
        population_points,
        records,
        "ward_code",
        category_column=category_column,
        categories=categories,
        exclude_duplicates=exclude_duplicates,
        prefix=prefix,
    )
    return mean.reindex(index)


__all__ = [
    "slug",
    "ward_index",
    "count_by",
    "per_1000",
    "supply_table",
    "nearest_distance",
    "lsoa_access",
    "ward_access",
]


# -- counts per ward for the maps ------------------------------------------------------

#: the ward_summary column holding each register's records per ward, as the analysis
#: counted them (in service, likely duplicates once)
COUNT_COLUMNS = {"groups": "groups_total", "premises": "premises_total",
                 "incidents": "incidents"}


def ward_counts(wards: pd.DataFrame, kind: str, counts: pd.Series | None = None) -> pd.Series:
    """Records of register `kind` per ward, as whole numbers, indexed by ``ward_code`` in
    the wards' order: the analysis's own figure (:data:`COUNT_COLUMNS`), or `counts` (a
    figure by ``ward_code``, e.g. the incidents of a filter from
    :func:`mapper.analysis.incidents.filtered_ward_incidents`) when given. A ward with
    no figure (not counted, or not covered by any source) counts 0."""
    if kind not in COUNT_COLUMNS:
        raise ValueError(f"unknown register {kind!r}; choose one of "
                         f"{', '.join(COUNT_COLUMNS)}")
    require(wards, ["ward_code"], "wards")
    codes = pd.Index(wards["ward_code"].astype(str), name="ward_code")
    if counts is None:
        column = COUNT_COLUMNS[kind]
        values = (pd.to_numeric(wards[column], errors="coerce") if column in wards
                  else pd.Series(np.nan, index=wards.index))
        figures = pd.Series(values.to_numpy(), index=codes)
    else:
        figures = pd.to_numeric(counts, errors="coerce")
        figures.index = figures.index.astype(str)
        figures = figures.reindex(codes)
    return figures.fillna(0).round().astype("int64").rename(kind)
