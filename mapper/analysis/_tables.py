"""Checks and small table operations shared by the analysis modules (private).

Tables: column-name slugs, per-value transforms, required columns, ward codes, the
``duplicate_of`` flag, population aligned to wards, and zero-filled cross tabulations.
Point frames: the EPSG:27700 check, search radii and the coordinates of points.

Like the rest of :mod:`mapper.analysis`, imports only ``mapper.geo`` and libraries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapper.geo import CRS_ANALYSIS

# -- values ------------------------------------------------------------------------------


def slug(value: object) -> str:
    """Column-name form of a category: lower case, each run of non-alphanumerics -> "_".

    Parameters
    ----------
    value
        A category, type or other label.

    Returns
    -------
    str or <NA>
        Leading and trailing underscores dropped: ``"Community centre"`` ->
        ``"community_centre"``, ``"Arts & sport"`` -> ``"arts_sport"``; <NA> for a blank
        or missing value.
    """
    return slugs(pd.Series([value], dtype="object")).iloc[0]


def slugs(values: pd.Series) -> pd.Series:
    """Vectorised :func:`slug`.

    Parameters
    ----------
    values
        Labels of any type.

    Returns
    -------
    Series of dtype ``string``
        The slug of each value, indexed like `values`; blank or missing values give <NA>.
    """
    return by_unique(values, _slug_text)


def _slug_text(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.lower()
    text = text.str.replace(r"[^0-9a-z]+", "_", regex=True).str.strip("_")
    return text.where(text.fillna("") != "", pd.NA)


def by_unique(values: pd.Series, transform: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply `transform` once per distinct value of `values`.

    Parameters
    ----------
    values
        Any Series; missing values are not passed to `transform`.
    transform
        A function from a Series of the distinct values (dtype object) to a Series of
        strings of the same length.

    Returns
    -------
    Series of dtype ``string``
        Each value's transform, indexed like `values`; <NA> where the value is missing.
    """
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
    done = transform(pd.Series(uniques, dtype="object")).astype("string")
    lookup = np.append(done.to_numpy(dtype=object), pd.NA)  # code -1 (missing) -> <NA>
    return pd.Series(lookup[codes], index=values.index, dtype="string")


# -- tables ------------------------------------------------------------------------------


def require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Check that `frame` is a DataFrame with every one of `columns`.

    Parameters
    ----------
    frame
        The argument to check.
    columns
        The column names it must have.
    what
        Its name in error messages.

    Raises
    ------
    TypeError
        When `frame` is not a DataFrame.
    ValueError
        Naming the missing columns and those present.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} has no column {', '.join(repr(c) for c in missing)}; "
            f"columns present: {', '.join(map(str, frame.columns)) or '(none)'}"
        )


def ward_index(wards_index) -> pd.Index:
    """The ward codes to report on, as an Index named ``ward_code``.

    Parameters
    ----------
    wards_index
        An Index or sequence of codes, or a frame of wards (its ``ward_code`` column, else
        its index).

    Returns
    -------
    Index
        The codes, in the order given, named ``ward_code``.

    Raises
    ------
    TypeError
        When given a single string.
    ValueError
        When a code is missing or repeated.
    """
    if isinstance(wards_index, str):
        raise TypeError(f"wards_index must be a sequence of ward codes, got str {wards_index!r}")
    if isinstance(wards_index, pd.DataFrame):
        has_column = "ward_code" in wards_index.columns
        wards_index = wards_index["ward_code"] if has_column else wards_index.index
    index = pd.Index(wards_index, name="ward_code")
    if index.hasnans:
        raise ValueError(f"wards_index has {int(index.isna().sum())} missing ward codes")
    if not index.is_unique:
        repeated = sorted(map(str, index[index.duplicated()].unique()))
        raise ValueError(f"wards_index repeats ward codes: {', '.join(repeated[:10])}")
    return index


def aligned_population(population: pd.Series, index: pd.Index) -> pd.Series:
    """Residents per ward aligned to `index`, with no value where a rate makes no sense.

    Parameters
    ----------
    population
        Residents, indexed by ward code (one value per code).
    index
        The ward codes wanted.

    Returns
    -------
    Series of float64
        Indexed by `index`; NaN where the population is 0, negative, not a number or
        missing, so that rates there are NaN (never inf, never a warning).

    Raises
    ------
    TypeError
        When `population` is not a Series.
    ValueError
        When its index repeats a code.
    """
    if not isinstance(population, pd.Series):
        raise TypeError(
            f"population must be a Series indexed by ward code, got {type(population).__name__}"
        )
    if not population.index.is_unique:
        raise ValueError("population is indexed by repeated codes; expected one value per ward")
    values = pd.to_numeric(population, errors="coerce").astype("float64")
    values = values.reindex(index)
    return values.where(values > 0)


def closed_status(status: object) -> bool:
    """Whether one record's ``status`` says it has closed (the one rule, see
    :func:`in_service`)."""
    return isinstance(status, str) and status.strip().lower() == "closed"


def in_service(records: pd.DataFrame) -> pd.Series:
    """Which records may be offered or counted: all but those whose ``status`` is closed.

    The one rule for every answer and figure (nearest groups, call sheets, supply,
    coverage, CAN selection). Temporarily closed and unknown records stay in, marked;
    registers and exports show closed ones too (see mapper/sources/status.py).

    Parameters
    ----------
    records
        A register, with or without a ``status`` column (without: all in service).

    Returns
    -------
    Series of bool
        Indexed like `records`.
    """
    if "status" not in records.columns:
        return pd.Series(True, index=records.index)
    return ~records["status"].map(closed_status).astype(bool)


def is_duplicate(records: pd.DataFrame) -> pd.Series:
    """Which records the importers flagged as likely duplicates of another.

    Parameters
    ----------
    records
        A register, with or without a ``duplicate_of`` column.

    Returns
    -------
    Series of bool
        Indexed like `records`: True where ``duplicate_of`` is present and not blank.
    """
    flagged = pd.Series(False, index=records.index)
    if "duplicate_of" in records.columns:
        present = records["duplicate_of"].notna()
        text = records.loc[present, "duplicate_of"].astype("string").str.strip()
        flagged[present] = text.ne("").to_numpy(dtype=bool)
    return flagged


#: the column of a summarised register saying how many records each row stands for (the
#: incidents counted in the database, :meth:`mapper.store.Workspace.incident_summary`);
#: without it every row is one record
WEIGHT = "n_records"


def row_weights(frame: pd.DataFrame) -> pd.Series | None:
    """How many records each row of `frame` stands for (:data:`WEIGHT`), or None when
    every row is one record."""
    if WEIGHT not in frame.columns:
        return None
    return frame[WEIGHT].astype("int64")


def weighted_counts(values: pd.Series, weights: pd.Series | None) -> pd.Series:
    """``values.value_counts()``, each row counting its weight (None: one each)."""
    if weights is None:
        return values.value_counts()
    kept = values.notna().to_numpy()
    return (weights[kept].groupby(values[kept].to_numpy()).sum()
            .sort_values(ascending=False, kind="stable"))


def crosstab(keys: pd.Series, index: pd.Index, labels: pd.Series, names: list,
             weights: pd.Series | None = None) -> pd.DataFrame:
    """Count rows per (key in `index`, label in `names`), zero-filled; with `weights`
    (aligned with `keys`) each row counts its weight.

    Parameters
    ----------
    keys
        Each row's key (a ward code); rows whose key is not in `index` are not counted.
    index
        The keys wanted, in order.
    labels
        Each row's label, aligned with `keys`; rows whose label is not in `names` are not
        counted.
    names
        The labels wanted, in order.

    Returns
    -------
    DataFrame
        Indexed by `index`, one int64 column per name; no columns when `names` is empty.
    """
    if not names:
        return pd.DataFrame(index=index)
    rows = pd.Categorical(keys.where(keys.isin(index)), categories=index)
    cols = pd.Categorical(labels.where(labels.isin(names)), categories=names)
    pairs = pd.DataFrame({"row": rows, "col": cols})
    if weights is None:
        sizes = pairs.groupby(["row", "col"], observed=False).size()
    else:
        pairs["weight"] = weights.to_numpy(dtype="int64")
        sizes = pairs.groupby(["row", "col"], observed=False)["weight"].sum()
    # observed=False gives every (row, col) pair, in category order: row-major
    data = sizes.to_numpy(dtype="int64").reshape(len(index), len(names))
    return pd.DataFrame(data, index=index, columns=names)


# -- point frames ------------------------------------------------------------------------


def check_frame(frame: object, what: str, columns: Iterable[str] = ()) -> None:
    """Check that `frame` is a GeoDataFrame in EPSG:27700 with every one of `columns`.

    Parameters
    ----------
    frame
        The argument to check.
    what
        Its name in error messages.
    columns
        Column names it must have.

    Raises
    ------
    TypeError
        When `frame` is not a GeoDataFrame.
    ValueError
        When it has no CRS or another one, or lacks a column.
    """
    if not isinstance(frame, gpd.GeoDataFrame):
        raise TypeError(f"{what} must be a GeoDataFrame; got {type(frame)!r}")
    crs = frame.crs
    if crs is None or not (crs.equals(CRS_ANALYSIS) or crs.to_epsg() == 27700):
        raise ValueError(
            f"{what} must be in {CRS_ANALYSIS} (British National Grid metres); "
            f"got {crs if crs is None else crs.to_string()!r}"
        )
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} has no {', '.join(map(repr, missing))} column; "
            f"columns are: {', '.join(map(str, frame.columns))}"
        )


def check_radius(radius_m: object) -> float:
    """A search radius in metres, as a float.

    Raises
    ------
    ValueError
        When `radius_m` is not a finite number >= 0.
    """
    radius = float(radius_m)  # type: ignore[arg-type]
    if not math.isfinite(radius) or radius < 0:
        raise ValueError(f"radius_m must be a finite number of metres >= 0; got {radius_m!r}")
    return radius


def point_xy(frame: gpd.GeoDataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
    """x and y of each row's point.

    Parameters
    ----------
    frame
        A GeoDataFrame of points (rows may have a missing or empty geometry).
    what
        Its name in error messages.

    Returns
    -------
    (ndarray, ndarray)
        x and y per row, float; NaN where the geometry is missing or empty.

    Raises
    ------
    ValueError
        Naming the geometry types found when any row is not a point.
    """
    geoms = frame.geometry.array
    bad = ~np.isin(shapely.get_type_id(geoms), [-1, 0]) & ~shapely.is_empty(geoms)
    if bad.any():
        found = sorted(set(frame.geometry[bad].geom_type))
        raise ValueError(f"{what} must be points; got {bad.sum()} rows of {', '.join(found)}")
    x, y = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
    located = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    x[located], y[located] = shapely.get_x(geoms[located]), shapely.get_y(geoms[located])
    return x, y
