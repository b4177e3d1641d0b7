"""Class breaks for choropleth maps, a colour-blind-safe palette and legend entries.

Pure functions, no folium. A classification is described by its **edges**: a sorted
array ``[minimum, upper bound of class 1, ..., maximum]`` of length ``classes + 1``.
Class 1 holds the values from the minimum up to and including ``edges[1]``; class ``i``
holds the values above ``edges[i-1]`` up to and including ``edges[i]``. NaN values are
left out of every computation and belong to no class ("no data").

Edges increase strictly, with one exception: ``edges[1]`` may equal the minimum, making
class 1 hold only the minimum (a common case: every ward with no groups at all). When the
values have fewer distinct values than classes asked for, fewer classes are returned
(never repeated edges); when every value is the same there is one class, ``[v, v]``; when
there is no value at all, no class (an empty array).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: classification schemes by their URL name
SCHEMES: dict[str, str] = {
    "quantiles": "Quantiles (about the same number of wards in each class)",
    "equal": "Equal intervals (classes of the same width)",
    "natural": "Natural breaks (Jenks: groups of similar values)",
}
MIN_CLASSES, MAX_CLASSES = 1, 9

#: above this many distinct values natural breaks are computed on an evenly spread
#: sample of them (by rank): still close to optimal, and quick
NATURAL_EXACT_LIMIT = 3_000

#: ColorBrewer YlGnBu (sequential, colour-blind safe, prints in grey as light-to-dark),
#: by number of classes. 1 and 2 classes use the ends of the 3-class scheme.
#: Colours from www.ColorBrewer.org by Cynthia A. Brewer, Penn State (Apache 2.0).
YLGNBU: dict[int, tuple[str, ...]] = {
    1: ("#7fcdbb",),
    2: ("#edf8b1", "#2c7fb8"),
    3: ("#edf8b1", "#7fcdbb", "#2c7fb8"),
    4: ("#ffffcc", "#a1dab4", "#41b6c4", "#225ea8"),
    5: ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"),
    6: ("#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#2c7fb8", "#253494"),
    7: ("#ffffcc", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8", "#0c2c84"),
    8: ("#ffffd9", "#edf8b1", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8",
        "#0c2c84"),
    9: ("#ffffd9", "#edf8b1", "#c7e9b4", "#7fcdbb", "#41b6c4", "#1d91c0", "#225ea8",
        "#253494", "#081d58"),
}
#: fill of areas without a value (drawn with a dashed outline; hatched in the legend)
NO_DATA_COLOUR = "#ffffff"


# -- checks ---------------------------------------------------------------------------


def _valid(values) -> np.ndarray:
    """The finite values of `values` as a float array (NaN and None dropped)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"values must be a sequence of numbers, got {type(values).__name__}")
    try:
        array = pd.to_numeric(pd.Series(values, dtype=object), errors="raise")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"values must be numbers: {exc}") from None
    array = array.to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(array).any():
        raise ValueError("values must be finite (got an infinite value)")
    return array[~np.isnan(array)]


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"the number of classes must be a whole number, got {k!r}")
    if not MIN_CLASSES <= k <= MAX_CLASSES:
        raise ValueError(
            f"the number of classes must be from {MIN_CLASSES} to {MAX_CLASSES}, got {k}"
        )
    return int(k)


def _tidy(edges: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Edges spanning exactly min..max of the values, increasing strictly except that
    ``edges[1]`` may equal the minimum (class 1 = the minimum alone)."""
    if valid.size == 0:
        return np.array([], dtype=float)
    low, high = float(valid.min()), float(valid.max())
    if low == high:
        return np.array([low, high])
    inner = np.unique(np.asarray(edges, dtype=float)[1:-1])
    inner = inner[(inner >= low) & (inner < high)]
    return np.concatenate([[low], inner, [high]])


# -- schemes --------------------------------------------------------------------------


def quantiles(values, k: int) -> np.ndarray:
    """Edges putting about the same number of values in each of `k` classes.

    Uses linear interpolation between order statistics (numpy's default), so 1..10 in
    5 classes gives ``[1, 2.8, 4.6, 6.4, 8.2, 10]``: two values per class.
    """
    k = _check_k(k)
    valid = _valid(values)
    if valid.size == 0:
        return _tidy(valid, valid)
    return _tidy(np.quantile(valid, np.linspace(0.0, 1.0, k + 1)), valid)


def equal_interval(values, k: int) -> np.ndarray:
    """Edges cutting the range of the values into `k` classes of the same width.

    Classes holding no value are kept (equal width is the point of the scheme) except
    that fewer distinct values than classes give one class per distinct value at most.
    """
    k = _check_k(k)
    valid = _valid(values)
    if valid.size == 0:
        return _tidy(valid, valid)
    distinct = np.unique(valid).size
    if distinct < k:
        # as many classes as values, each holding one: break midway between them
        return natural_breaks(valid, distinct)
    return _tidy(np.linspace(valid.min(), valid.max(), k + 1), valid)


def natural_breaks(values, k: int) -> np.ndarray:
    """Jenks natural breaks: the `k` classes with the least total within-class variance.

    Fisher's exact dynamic programme over the sorted distinct values (weighted by how
    often each occurs, so equal values never straddle a break). Each upper edge is the
    largest value of its class. Exact up to :data:`NATURAL_EXACT_LIMIT` distinct values;
    above it the classes are found on that many values spread evenly by rank, and each
    break is placed at the widest gap between the sampled values on either side of it.
    """
    k = _check_k(k)
    valid = _valid(values)
    if valid.size == 0:
        return _tidy(valid, valid)
    distinct, counts = np.unique(valid, return_counts=True)
    if distinct.size > NATURAL_EXACT_LIMIT:
        picks = np.unique(np.linspace(0, distinct.size - 1, NATURAL_EXACT_LIMIT).round())
        sample = distinct[picks.astype(int)]
        ends = _fisher(sample, np.ones(sample.size), min(k, sample.size))
        # each break lies between the last sampled value of a class and the first of the
        # next: place it at the widest gap between the values in between
        uppers = []
        for last, first in zip(picks[ends[:-1] - 1].astype(int), picks[ends[:-1]].astype(int),
                               strict=True):
            between = distinct[last:first + 1]
            uppers.append(between[int(np.argmax(np.diff(between)))])
        return _tidy(np.concatenate([[distinct[0]], uppers, [distinct[-1]]]), valid)
    k = min(k, distinct.size)
    ends = _fisher(distinct, counts.astype(float), k)
    return _tidy(np.concatenate([[distinct[0]], distinct[ends - 1]]), valid)


def _fisher(x: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Optimal class ends for sorted `x` with weights `w`: the prefix lengths (1-based
    end positions) of the `k` classes, the last being ``len(x)``."""
    n = x.size
    s0 = np.concatenate([[0.0], np.cumsum(w)])
    s1 = np.concatenate([[0.0], np.cumsum(w * x)])
    s2 = np.concatenate([[0.0], np.cumsum(w * x * x)])

    def ssd(start, stop):
        """Weighted sum of squared deviations of x[start:stop] (arrays broadcast)."""
        total = s0[stop] - s0[start]
        dev = s2[stop] - s2[start] - (s1[stop] - s1[start]) ** 2 / total
        return np.maximum(dev, 0.0)  # rounding can make a zero slightly negative

    # cost[p]: least cost of the first p values in the classes placed so far
    cost = np.full(n + 1, np.inf)
    cost[1:] = ssd(0, np.arange(1, n + 1))
    starts = np.zeros((k, n + 1), dtype=int)  # start of the last class for (classes, p)
    for c in range(1, k):
        new = np.full(n + 1, np.inf)
        for p in range(c + 1, n + 1):
            start = np.arange(c, p)  # the last class is x[start:p]
            total = cost[start] + ssd(start, p)
            best = int(np.argmin(total))
            new[p], starts[c, p] = total[best], start[best]
        cost = new
    ends, p = [n], n
    for c in range(k - 1, 0, -1):
        p = starts[c, p]
        ends.append(p)
    return np.array(sorted(ends), dtype=int)


SCHEME_FUNCTIONS: dict[str, Callable[[object, int], np.ndarray]] = {
    "quantiles": quantiles,
    "equal": equal_interval,
    "natural": natural_breaks,
}


def breaks(values, scheme: str, k: int) -> np.ndarray:
    """Edges of `values` in `k` classes by `scheme` (a key of :data:`SCHEMES`)."""
    if scheme not in SCHEME_FUNCTIONS:
        raise ValueError(
            f"unknown classification {scheme!r}; choose one of {', '.join(SCHEME_FUNCTIONS)}"
        )
    return SCHEME_FUNCTIONS[scheme](values, k)


def assign(values, edges) -> pd.Series:
    """Class number (0-based, Int64) of each value; <NA> for NaN or values outside the
    edges. Indexed like `values` when it is a Series."""
    index = values.index if isinstance(values, pd.Series) else None
    array = pd.to_numeric(pd.Series(values, index=index), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    edges = np.asarray(edges, dtype=float)
    out = pd.Series(pd.NA, index=index if index is not None else range(len(array)),
                    dtype="Int64")
    if edges.size < 2:
        return out
    ok = ~np.isnan(array) & (array >= edges[0]) & (array <= edges[-1])
    out[ok] = np.searchsorted(edges[1:-1], array[ok], side="left")
    return out


# -- colours and legend ---------------------------------------------------------------


def palette(k: int) -> tuple[str, ...]:
    """`k` colours, light to dark, of the colour-blind-safe YlGnBu scheme."""
    if k == 0:
        return ()
    if k not in YLGNBU:
        raise ValueError(f"the palette has 1 to {max(YLGNBU)} colours, asked for {k}")
    return YLGNBU[k]


@dataclass(frozen=True)
class LegendEntry:
    """One row of a legend: a colour, a label and the range it stands for."""

    label: str
    colour: str
    lower: float | None
    upper: float | None
    count: int
    range_text: str = ""

    @property
    def description(self) -> str:
        """'label, range', e.g. 'Class 2 of 5, 10.5 to 20.1 (12 wards)'."""
        noun = "ward" if self.count == 1 else "wards"
        return f"{self.label}, {self.range_text} ({self.count:,} {noun})"


def _plain(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def legend(edges, counts=None, *, fmt: Callable[[float], str] = _plain,
           no_data: int = 0) -> list[LegendEntry]:
    """Legend entries for `edges`: one per class (light to dark) and, when `no_data` > 0,
    a final "No data" entry. `counts` holds the number of areas in each class."""
    edges = np.asarray(edges, dtype=float)
    k = max(edges.size - 1, 0)
    colours = palette(k)
    counts = list(counts) if counts is not None else [0] * k
    entries = []
    for i in range(k):
        low, high = float(edges[i]), float(edges[i + 1])
        if low == high:
            text = fmt(low)
        elif i == 0:
            text = f"{fmt(low)} to {fmt(high)}"
        else:
            text = f"above {fmt(low)} to {fmt(high)}"
        entries.append(LegendEntry(f"Class {i + 1} of {k}", colours[i], low, high,
                                   int(counts[i]), range_text=text))
    if no_data:
        entries.append(LegendEntry("No data", NO_DATA_COLOUR, None, None, int(no_data),
                                   range_text="no value for this ward"))
    return entries


@dataclass(frozen=True)
class Classification:
    """Values put into classes: the edges, each value's class and its colour."""

    scheme: str
    edges: np.ndarray
    classes: pd.Series  # Int64 class number (0-based), <NA> = no data

    @property
    def k(self) -> int:
        return max(len(self.edges) - 1, 0)

    def colours(self) -> pd.Series:
        """Fill colour of each value (no-data colour where it has no class)."""
        colours = palette(self.k)
        return self.classes.map(lambda c: NO_DATA_COLOUR if pd.isna(c) else colours[int(c)])

    def counts(self) -> list[int]:
        known = self.classes.dropna().astype(int)
        return [int((known == i).sum()) for i in range(self.k)]

    def legend(self, fmt: Callable[[float], str] = _plain) -> list[LegendEntry]:
        return legend(self.edges, self.counts(), fmt=fmt,
                      no_data=int(self.classes.isna().sum()))


def classify(values: pd.Series, scheme: str, k: int) -> Classification:
    """Classify `values` (NaN = no data) into at most `k` classes by `scheme`."""
    edges = breaks(values, scheme, k)
    return Classification(scheme, edges, assign(values, edges))
