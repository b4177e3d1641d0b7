"""The groups nearest a point: an R-tree of group locations that stays live as records change.

A :class:`NearestIndex` holds one point per record (a group, or any register keyed by an
id) with its category and the capabilities it offers in an emergency. Queries ask for the
``k`` nearest records to a point, optionally only of some categories, only those offering
every listed capability, and only within a radius. Distances are straight lines in
British National Grid metres (EPSG:27700).

How a query is answered
-----------------------
The R-tree (``rtree``, libspatialindex) proposes candidates; every candidate is then
measured again by the true Euclidean distance ``sqrt(dx * dx + dy * dy)`` and the answer is
ordered and cut on that measure alone, never on the tree's bounding-box distance.

* Without a radius: ``nearest_v`` (rtree's ``nearest`` answering in a numpy array) with a
  growing ``num_results`` until the candidates hold ``k`` records that pass the filters
  *and* the ``k``-th of them is strictly nearer than the farthest candidate (so no record
  at the same distance can have been left out), or the index is exhausted. The next
  request is sized from the share of candidates that passed the filters, so a filter that
  matches most records costs a few extra candidates, not a scan of the index.
* With a radius: ``intersection_v`` of the square around the circle (padded by a hair so
  float rounding cannot drop a record on the circle), then the distance test
  ``distance_m <= radius_m``: a record exactly on the circle counts as inside; one in a
  corner of the square but outside the circle does not.

Equal distances are ordered by the record id's string form, so answers never depend on
the order records were loaded, inserted or deleted.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Hashable, Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
from rtree import index as rtree_index

from mapper.analysis._tables import check_frame, check_radius, point_xy
from mapper.errors import MapperError

#: columns of every query result, in order
RESULT_COLUMNS = ["id", "distance_m", "x", "y", "category"]
#: relative slack (of the coordinates' size) absorbing float rounding in the tree's distances
TOLERANCE = 1e-9
#: fewest candidates asked of the tree in the first round of a nearest query
MIN_CANDIDATES = 16
#: entries per R-tree node. libspatialindex's default of 100 makes a delete cost ~5 ms at
#: 10^5 records (whole nodes are rewritten); 16 makes it ~0.2 ms and queries faster too.
NODE_CAPACITY = 16

_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
#: per-slot arrays of the index: record id, coordinates, category as given, a number for
#: the category as compared (stripped, lower case; -1 for none), capabilities (frozenset)
_FIELDS = {
    "_rid": object,
    "_x": float,
    "_y": float,
    "_category": object,
    "_code": np.int64,
    "_caps": object,
}


# -- small parsers -----------------------------------------------------------------------


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def parse_capabilities(offer: str | Iterable[str] | None) -> frozenset[str]:
    """The capabilities named in an ``emergency_offer`` value.

    Parameters
    ----------
    offer
        ``"rest centre; Interpreters;"`` (split on ";"), an iterable of names, or missing.

    Returns
    -------
    frozenset of str
        Names stripped and lower-cased, blanks dropped: ``{"rest centre", "interpreters"}``;
        empty for a missing value.
    """
    if isinstance(offer, str):
        parts: Iterable = offer.split(";")
    elif _is_missing(offer):
        return frozenset()
    else:
        parts = offer
    return frozenset(p.strip().lower() for p in map(str, parts) if p.strip())


def _category_key(value: object) -> str | None:
    return None if _is_missing(value) else str(value).strip().lower()


def _wanted_categories(category: str | Iterable[str] | None) -> frozenset[str] | None:
    """None (any category) or the set of category keys asked for; an empty set matches none."""
    if category is None:
        return None
    if isinstance(category, str):
        category = [category]
    return frozenset(_category_key(c) for c in category)


def normalise_postcode(text: object) -> str | None:
    """``"sw1a1aa"``, ``" SW1A  1AA "`` -> ``"SW1A 1AA"``; anything not postcode-shaped -> None.

    The same rule as ``mapper.sources.postcodes.normalise_postcode``, restated here because
    analysis may not import sources.
    """
    compact = re.sub(r"\s+", "", str(text)).upper()
    match = _POSTCODE.match(compact)
    return f"{match[1]} {match[2]}" if match else None


# -- argument checks ---------------------------------------------------------------------


def _check_point(x: object, y: object) -> tuple[float, float]:
    try:
        fx, fy = float(x), float(y)
    except (TypeError, ValueError):
        fx = fy = math.nan
    if not (math.isfinite(fx) and math.isfinite(fy)):
        raise ValueError(f"x and y must be finite numbers of metres; got ({x!r}, {y!r})")
    return fx, fy


def _check_k(k: object) -> int | None:
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a whole number of at least 1, or None for all; got {k!r}")
    return int(k)


def _check_radius(radius_m: object) -> float | None:
    return None if radius_m is None else check_radius(radius_m)


def _check_ids(ids: pd.Series, id_column: str) -> None:
    missing = ids.isna()
    if missing.any():
        raise ValueError(f"groups column {id_column!r} is blank in {int(missing.sum())} rows")
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        shown = ", ".join(repr(v) for v in repeated[:5])
        raise ValueError(f"groups column {id_column!r} repeats ids: {shown}")


# -- the index ---------------------------------------------------------------------------


class NearestIndex:
    """An R-tree of point records answering nearest and within-radius queries.

    Parameters
    ----------
    groups
        Points in EPSG:27700 with an id column, and optionally ``category`` and
        ``emergency_offer`` ("; "-separated capabilities). Rows without a location
        (missing or empty geometry) are not indexed; their ids are kept in
        :attr:`unlocated` for the caller to report.
    id_column
        The column holding each record's id (unique, never blank).

    Attributes
    ----------
    unlocated : tuple
        Ids of the rows of `groups` that had no location.

    Notes
    -----
    The tree is bulk-loaded (sort-tile-recursive) from numpy arrays, or from the stream
    constructor when the bundled libspatialindex is older than 2.1. Records then change
    one at a time: :meth:`insert`, :meth:`delete`; moving a record is a delete then an
    insert.

    Thread-safe: libspatialindex is not, even for reads (the web server answers requests
    in threads), so every use of the tree holds the index's lock.
    """

    def __init__(self, groups: gpd.GeoDataFrame | None = None, *, id_column: str = "group_id"):
        self._slots: dict[Hashable, int] = {}
        self._codes: dict[str, int] = {}  # category key -> number in _code
        self._used = 0
        for name, dtype in _FIELDS.items():
            setattr(self, name, np.empty(0, dtype=dtype))
        self.unlocated: tuple = ()
        slots = np.empty(0, dtype=np.int64)
        if groups is not None:
            slots = self._load(groups, id_column)
        self._index = _bulk_index(slots, self._x[slots], self._y[slots])
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._slots

    # -- changing records

    def insert(
        self,
        record_id: Hashable,
        x: float,
        y: float,
        *,
        category: str | None = None,
        capabilities: str | Iterable[str] = (),
    ) -> None:
        """Add one record; `capabilities` as names or an ``emergency_offer`` string.

        Raises ValueError when the id is already in the index (delete it first to move it).
        """
        if _is_missing(record_id):
            raise ValueError(f"record id must not be blank; got {record_id!r}")
        if record_id in self._slots:
            raise ValueError(
                f"record {record_id!r} is already in the index; delete it first to move it"
            )
        fx, fy = _check_point(x, y)
        with self._lock:
            slot = int(self._append([record_id], [fx], [fy], [category], [capabilities])[0])
            self._slots[record_id] = slot
            self._index.insert(slot, (fx, fy, fx, fy))

    def delete(self, record_id: Hashable) -> None:
        """Remove one record; KeyError when the id is not in the index."""
        with self._lock:
            slot = self._slots.pop(record_id, None)
            if slot is None:
                raise KeyError(f"record {record_id!r} is not in the index ({len(self)} records)")
            x, y = float(self._x[slot]), float(self._y[slot])
            self._index.delete(slot, (x, y, x, y))

    # -- queries

    def query(
        self,
        x: float,
        y: float,
        *,
        k: int | None = 10,
        category: str | Iterable[str] | None = None,
        capabilities: str | Iterable[str] = (),
        radius_m: float | None = None,
    ) -> pd.DataFrame:
        """The records nearest ``(x, y)`` (EPSG:27700 metres), nearest first.

        Parameters
        ----------
        x, y
            The query point in metres.
        k
            At most this many rows; None for every match (use with `radius_m`).
        category
            None for any category; a category or a set of them (compared stripped and
            case-blind). An empty set matches nothing.
        capabilities
            Capabilities a record must *all* offer (names, or a "; "-separated string).
        radius_m
            Only records at ``distance_m <= radius_m`` (a record on the circle is inside).

        Returns
        -------
        pandas.DataFrame
            Columns ``id, distance_m, x, y, category``, ordered by distance then by the
            id's string form, with a fresh RangeIndex.
        """
        fx, fy = _check_point(x, y)
        k, radius = _check_k(k), _check_radius(radius_m)
        with self._lock:
            keep = self._filter(category, capabilities)
            if radius is not None:
                slots, dist = self._within(fx, fy, radius, keep)
            elif k is None:
                slots, dist = self._everything(fx, fy, keep)
            else:
                slots, dist = self._nearest(fx, fy, k, keep)
            return self._result(slots, dist, k)

    def query_postcode(
        self, postcode: str, postcodes: pd.DataFrame, **query_kw: object
    ) -> pd.DataFrame:
        """:meth:`query` at a postcode's centroid; see :func:`postcode_point` for `postcodes`.

        Raises MapperError when the postcode is malformed or not in `postcodes`.
        """
        x, y = postcode_point(postcode, postcodes)
        return self.query(x, y, **query_kw)  # type: ignore[arg-type]

    # -- internals

    def _load(self, groups: gpd.GeoDataFrame, id_column: str) -> np.ndarray:
        check_frame(groups, "groups")
        if id_column not in groups.columns:
            raise ValueError(
                f"groups has no {id_column!r} column; columns are: {', '.join(map(str, groups))}"
            )
        ids = groups[id_column]
        _check_ids(ids, id_column)
        x, y = point_xy(groups, "groups")
        located = np.isfinite(x) & np.isfinite(y)
        self.unlocated = tuple(ids[~located])
        blank = pd.Series(None, index=groups.index, dtype=object)
        category = groups["category"] if "category" in groups else blank
        offers = groups["emergency_offer"] if "emergency_offer" in groups else blank
        slots = self._append(
            ids[located].tolist(),
            x[located],
            y[located],
            category[located].tolist(),
            offers[located].tolist(),
        )
        self._slots = dict(zip(ids[located].tolist(), slots.tolist(), strict=True))
        return slots

    def _append(self, ids, x, y, categories, offers) -> np.ndarray:
        """Store records in the next free slots (arrays grow by doubling); return the slots."""
        start, count = self._used, len(ids)
        if start + count > len(self._x):
            capacity = max(start + count, 2 * len(self._x), MIN_CANDIDATES)
            for name in _FIELDS:
                old = getattr(self, name)
                new = np.empty(capacity, dtype=old.dtype)
                new[:start] = old[:start]
                setattr(self, name, new)
        slots = np.arange(start, start + count, dtype=np.int64)
        categories = [None if _is_missing(c) else c for c in categories]
        columns = {
            "_rid": ids,
            "_x": x,
            "_y": y,
            "_category": categories,
            "_code": [self._category_code(c) for c in categories],
            "_caps": [parse_capabilities(o) for o in offers],
        }
        for name, values in columns.items():
            target = getattr(self, name)
            if target.dtype == object:  # one by one: ids may be tuples, which numpy would unpack
                for slot, value in zip(slots.tolist(), values, strict=True):
                    target[slot] = value
            else:
                target[start : start + count] = values
        self._used += count
        return slots

    def _filter(self, category, capabilities) -> Callable[[np.ndarray], np.ndarray] | None:
        """A mask maker for candidate slots, or None when nothing is filtered."""
        wanted = _wanted_categories(category)
        codes = None if wanted is None else [self._codes.get(c, -2) for c in wanted]
        required = parse_capabilities(capabilities)
        if codes is None and not required:
            return None

        def keep(slots: np.ndarray) -> np.ndarray:
            mask = (
                np.ones(len(slots), dtype=bool)
                if codes is None
                else np.isin(self._code[slots], codes)
            )
            if required:
                offered = self._caps[slots[mask]]
                mask[mask] = np.fromiter((required <= c for c in offered), bool, len(offered))
            return mask

        return keep

    def _category_code(self, category: object) -> int:
        key = _category_key(category)
        return -1 if key is None else self._codes.setdefault(key, len(self._codes))

    def _distance(self, slots: np.ndarray, x: float, y: float) -> np.ndarray:
        dx = self._x[slots] - x
        dy = self._y[slots] - y
        return np.sqrt(dx * dx + dy * dy)

    def _nearest(self, x, y, k, keep) -> tuple[np.ndarray, np.ndarray]:
        total = len(self)
        wanted = min(total, max(2 * k + 8, MIN_CANDIDATES))
        while wanted:
            point = np.array([[x, y]])
            slots, _ = self._index.nearest_v(point, point, num_results=wanted)
            dist = self._distance(slots, x, y)
            mask = np.ones(len(slots), dtype=bool) if keep is None else keep(slots)
            if len(slots) >= total or _settled(dist, dist[mask], k, x, y):
                return slots[mask], dist[mask]
            wanted = min(total, _next_request(wanted, k, int(mask.sum())))
        return np.empty(0, dtype=np.int64), np.empty(0)

    def _within(self, x, y, radius, keep) -> tuple[np.ndarray, np.ndarray]:
        pad = radius + TOLERANCE * max(1.0, abs(x), abs(y), radius)
        box = (x - pad, y - pad, x + pad, y + pad)
        slots, _ = self._index.intersection_v(np.array([box[:2]]), np.array([box[2:]]))
        dist = self._distance(slots, x, y)
        inside = dist <= radius
        slots, dist = slots[inside], dist[inside]
        if keep is not None:
            mask = keep(slots)
            slots, dist = slots[mask], dist[mask]
        return slots, dist

    def _everything(self, x, y, keep) -> tuple[np.ndarray, np.ndarray]:
        slots = np.fromiter(self._slots.values(), dtype=np.int64, count=len(self))
        if keep is not None:
            slots = slots[keep(slots)]
        return slots, self._distance(slots, x, y)

    def _result(self, slots: np.ndarray, dist: np.ndarray, k: int | None) -> pd.DataFrame:
        if k is not None and len(dist) > k:
            # keep everything tied with the k-th distance, then order by (distance, id)
            kth = np.partition(dist, k - 1)[k - 1]
            near = dist <= kth
            slots, dist = slots[near], dist[near]
        names = np.array([str(i) for i in self._rid[slots]], dtype=str)
        order = np.lexsort((names, dist))[:k]
        slots = slots[order]
        columns = {
            "id": self._rid[slots],
            "distance_m": dist[order],
            "x": self._x[slots],
            "y": self._y[slots],
            "category": self._category[slots],
        }
        return pd.DataFrame(columns, index=pd.RangeIndex(len(slots)), copy=False)


def _settled(dist: np.ndarray, matched: np.ndarray, k: int, x: float, y: float) -> bool:
    """True when the k-th match is strictly nearer than every record not yet fetched.

    Every record the tree has not returned is at least as far as the farthest candidate;
    the slack absorbs last-digit differences between the tree's distances and ours.
    """
    if len(matched) < k:
        return False
    kth = np.partition(matched, k - 1)[k - 1]
    farthest = dist.max()
    return bool(kth < farthest - TOLERANCE * max(1.0, abs(x), abs(y), farthest))


def _next_request(asked: int, k: int, matched: int) -> int:
    """How many candidates to ask for next: enough for k matches at the rate seen so far."""
    if matched == 0:
        return 4 * asked
    return max(2 * asked, math.ceil(1.25 * asked * k / matched))


def _bulk_index(slots: np.ndarray, x: np.ndarray, y: np.ndarray) -> rtree_index.Index:
    """A bulk-loaded (sort-tile-recursive) R-tree of points; empty when there are none."""
    properties = rtree_index.Property()
    properties.leaf_capacity = properties.index_capacity = NODE_CAPACITY
    # R*-tree insertion looks at this many entries; it must be below the node capacity
    properties.near_minimum_overlap_factor = NODE_CAPACITY // 2
    if len(slots) == 0:
        return rtree_index.Index(properties=properties)
    points = np.ascontiguousarray(np.column_stack([x, y]), dtype=float)
    try:
        return rtree_index.Index((slots.astype(np.int64), points, points), properties=properties)
    except NotImplementedError:  # libspatialindex < 2.1 has no array loader: stream instead
        stream = zip(slots.tolist(), x.tolist(), y.tolist(), strict=True)
        items = ((s, (a, b, a, b), None) for s, a, b in stream)
        return rtree_index.Index(items, properties=properties)


# -- postcodes and a one-call convenience ------------------------------------------------


def postcode_point(postcode: str, postcodes: pd.DataFrame) -> tuple[float, float]:
    """The EPSG:27700 point of a postcode, from the workspace's postcode centroids.

    Parameters
    ----------
    postcode
        As typed: any case, any spacing (``"sw1a1aa"``).
    postcodes
        Indexed by normalised postcode (``"SW1A 1AA"``), or with a ``postcode`` column,
        holding ``x`` and ``y`` columns in metres, or else point geometry in EPSG:27700.

    Raises
    ------
    MapperError
        When the postcode is not postcode-shaped, is not in `postcodes`, or has no point.
    """
    key = normalise_postcode(postcode)
    if key is None:
        raise MapperError(
            f"postcode {postcode!r} is not in the workspace's postcode centroids: it is not "
            "shaped like a UK postcode (for example SW1A 1AA)"
        )
    rows = _postcode_rows(key, postcodes)
    if rows.empty:
        raise MapperError(f"postcode {key!r} is not in the workspace's postcode centroids")
    if {"x", "y"} <= set(rows.columns):
        x, y = rows["x"].iloc[0], rows["y"].iloc[0]
    elif isinstance(rows, gpd.GeoDataFrame):
        check_frame(rows, "postcodes")
        xs, ys = point_xy(rows.iloc[:1], "postcodes")
        x, y = xs[0], ys[0]
    else:
        raise ValueError(
            "postcodes must have x and y columns or point geometry; got columns "
            + ", ".join(map(str, postcodes.columns))
        )
    if _is_missing(x) or _is_missing(y):
        raise MapperError(f"postcode {key!r} has no grid reference in the postcode centroids")
    return float(x), float(y)


def _postcode_rows(key: str, postcodes: pd.DataFrame) -> pd.DataFrame:
    if key in postcodes.index:
        return postcodes.loc[[key]]
    if "postcode" in postcodes.columns:
        return postcodes[postcodes["postcode"] == key]
    return postcodes.iloc[:0]


def nearest_groups(
    groups: gpd.GeoDataFrame, x: float, y: float, *, id_column: str = "group_id", **query_kw
) -> pd.DataFrame:
    """One-off :meth:`NearestIndex.query` on `groups`; build a NearestIndex to query often."""
    return NearestIndex(groups, id_column=id_column).query(x, y, **query_kw)
