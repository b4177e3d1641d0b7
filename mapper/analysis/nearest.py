"""The groups nearest a point: k-d trees of group locations that stay live as records change.

A :class:`NearestIndex` holds one point per record (a group, or any register keyed by an
id) with its category and the capabilities it offers in an emergency. Queries ask for the
``k`` nearest records to a point, optionally only of some categories, only those offering
every listed capability, and only within a radius. Distances are straight lines in
British National Grid metres (EPSG:27700). :meth:`NearestIndex.query` answers one point
as a DataFrame (:meth:`NearestIndex.query_ids` as arrays); :meth:`NearestIndex.query_many`
answers many points at once (arrays), with the trees' vectorised queries.

How the index stays live
------------------------
Records live in numpy arrays, one slot each. Search trees (scipy ``cKDTree``) are built
lazily from those arrays, on first use: one of every record and one per category, each
over the slots present when the trees were last dropped. Edits never touch a tree:

* an inserted record takes the next slot, past those the trees cover: a short *pending*
  tail that every query scans brute force;
* a deleted record is only marked dead; candidates from the trees are filtered by the mark.

When the pending tail passes ``max(256, 2 * sqrt(n))`` records, or the deletions since the
trees were built pass ``max(256, n / 4)``, the trees are dropped (and the arrays compacted
when most slots are dead), to be built again when next asked. Every edit shows in the very
next query.

How a query is answered
-----------------------
The trees propose candidates; every candidate is then measured again by the true Euclidean
distance ``sqrt(dx * dx + dy * dy)`` and the answer is ordered and cut on that measure
alone, never on the tree's.

* Which trees: without a category filter, the tree of every record; with one category, that
  category's tree; with several, each one's tree, or the tree of every record filtered by
  category when they are most of the records (or more than four).
* k nearest: a tree's ``k'`` nearest, ``k'`` growing until the candidates hold ``k``
  records that pass the filters (alive, category, capabilities) *and* the ``k``-th of
  them is strictly nearer than the farthest candidate (so no record at the same distance
  can have been left out), or the tree is exhausted. The next request is sized from the
  share of candidates that passed, so a filter that matches most records costs a few
  extra candidates, not a scan of the index. The answer is the ``k`` nearest of every
  tree's and the pending tail's candidates.
* With a radius: the trees are asked only up to the radius padded by a hair (so float
  rounding cannot drop a record on the circle), then the distance test
  ``distance_m <= radius_m``: a record exactly on the circle counts as inside; one just
  outside does not.

Equal distances are ordered by the record id's string form, so answers never depend on
the order records were loaded, inserted or deleted; records tied with the ``k``-th are all
kept until that order is applied, then cut.

Thread-safety: every query and edit holds the index's lock (the web server answers
requests in threads, and trees are built and dropped as records change).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from mapper.analysis._tables import check_frame, check_radius, in_service, point_xy

#: groups listed when a query does not say how many (the CLI, the API and the incident page)
K_DEFAULT = 10
#: most groups one query may list: the one limit of the CLI, the API and the incident page
K_MAX = 100
#: columns of every query result, in order
RESULT_COLUMNS = ["id", "distance_m", "x", "y", "category"]
#: relative slack (of the coordinates' size) absorbing float rounding in the tree's distances
TOLERANCE = 1e-9
#: smallest capacity of the slot arrays
MIN_CANDIDATES = 16
#: points per k-d tree leaf
LEAF_SIZE = 16
#: inserted records (and deletions) the index absorbs before it drops its trees; the
#: pending tail may grow to ``max(MIN_PENDING, 2 * sqrt(n))``, deletions to
#: ``max(MIN_PENDING, DEAD_SHARE * n)``
MIN_PENDING = 256
DEAD_SHARE = 0.25
#: points of a query_many call answered together (bounds the memory of a batch)
CHUNK = 1024
#: most candidate distances held at once while a hard query grows its request
_BUDGET = 1 << 22
#: capabilities checked as bits of an int64 (the rest one by one)
_CAP_BITS = 63
#: key of the tree of every record (category codes are >= 0)
_ALL = -1

#: per-slot arrays of the index: record id, coordinates, category as given, a number for
#: the category as compared (stripped, lower case; -1 for none), capabilities (frozenset,
#: and as bits of the first 63 capability names seen), and whether the record is live
_FIELDS = {
    "_rid": object,
    "_x": float,
    "_y": float,
    "_category": object,
    "_code": np.int64,
    "_caps": object,
    "_capbits": np.int64,
    "_alive": bool,
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


# -- argument checks ---------------------------------------------------------------------


def _check_point(x: object, y: object) -> tuple[float, float]:
    try:
        fx, fy = float(x), float(y)
    except (TypeError, ValueError):
        fx = fy = math.nan
    if not (math.isfinite(fx) and math.isfinite(fy)):
        raise ValueError(f"x and y must be finite numbers of metres; got ({x!r}, {y!r})")
    return fx, fy


def _check_points(xs: object, ys: object) -> tuple[np.ndarray, np.ndarray]:
    try:
        qx, qy = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValueError(f"xs and ys must be sequences of numbers of metres ({error})") from None
    if qx.ndim != 1 or qy.shape != qx.shape:
        raise ValueError(
            f"xs and ys must be one-dimensional and of equal length; got shapes {qx.shape} "
            f"and {qy.shape}"
        )
    if np.isfinite(qx).all() and np.isfinite(qy).all():
        return qx, qy
    bad = np.flatnonzero(~(np.isfinite(qx) & np.isfinite(qy)))
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"x and y must be finite numbers of metres; got ({qx[i]!r}, {qy[i]!r}) at "
            f"position {i} ({len(bad)} such points)"
        )
    return qx, qy


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


#: trees up to this many records answer the one-request path by a scan of their
#: coordinates: quicker than a k-d tree request for them (about 9 µs against 12 µs at
#: 350 records; even at 1,000)
PLAIN_SCAN_MAX = 1000


@dataclass
class _Tree:
    """A k-d tree of some slots (None when there are none), by tree position: slot, x, y."""

    kd: cKDTree | None
    slots: np.ndarray
    x: np.ndarray  # the slots' coordinates, in tree order
    y: np.ndarray


@dataclass
class _Plan:
    """A query's filters resolved against the index's categories and capabilities."""

    empty: bool = False  # nothing can match
    trees: tuple[int, ...] = (_ALL,)  # keys of the trees to ask
    table: np.ndarray | None = None  # allowed category codes (indexed by code + 1)
    check_trees: bool = False  # the trees hold other categories too: check the table
    bits: int = 0  # required capabilities, as bits
    rest: frozenset = frozenset()  # required capabilities beyond the bits
    share: float = 1.0  # the expected share of the trees' records of wanted categories


class NearestIndex:
    """Point records answering nearest and within-radius queries, kept live under edits.

    Parameters
    ----------
    groups
        Points in EPSG:27700 with an id column, and optionally ``category`` and
        ``emergency_offer`` ("; "-separated capabilities) and ``status`` (closed rows
        are left out: :func:`mapper.analysis._tables.in_service`). Rows without a location
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
    Records change one at a time: :meth:`insert`, :meth:`delete`; moving a record is a
    delete then an insert. The k-d trees are built on first use and after enough edits
    (see the module's notes); queries meanwhile stay exact.

    Thread-safe: every query and edit holds the index's lock (the web server answers
    requests in threads).
    """

    def __init__(self, groups: gpd.GeoDataFrame | None = None, *, id_column: str = "group_id"):
        self._lock = threading.RLock()
        self._slots: dict[Hashable, int] = {}
        self._codes: dict[str, int] = {}  # category key -> number in _code
        self._counts: list[int] = []  # live records per category number
        self._capnames: dict[str, int] = {}  # capability -> bit (when below _CAP_BITS)
        self._used = 0
        for name, dtype in _FIELDS.items():
            setattr(self, name, np.empty(0, dtype=dtype))
        self.unlocated: tuple = ()
        self._trees: dict[int, _Tree] = {}
        self._plans: dict[tuple, _Plan] = {}  # see _plan; cleared when the vocabularies grow
        self._built = 0  # the trees cover the slots below; the rest are pending
        self._dead_since = 0  # deletions of covered slots since the trees were dropped
        if groups is not None:
            self._load(groups, id_column)
        self._built = self._used

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._slots

    def copy(self) -> NearestIndex:
        """An independent index holding the same records: edits to either leave the other
        as it was (a new version of the data is made from a copy while the old one is
        still being queried). The trees already built are shared (never changed once
        built); the arrays are copied."""
        with self._lock:
            other = object.__new__(NearestIndex)
            other.__dict__.update(self.__dict__)
            other._lock = threading.RLock()
            for name in _FIELDS:
                setattr(other, name, getattr(self, name).copy())
            other._slots, other._codes = dict(self._slots), dict(self._codes)
            other._capnames, other._counts = dict(self._capnames), list(self._counts)
            other._trees, other._plans = dict(self._trees), dict(self._plans)
            return other

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
        with self._lock:
            if record_id in self._slots:
                raise ValueError(
                    f"record {record_id!r} is already in the index; delete it first to move it"
                )
            fx, fy = _check_point(x, y)
            slot = int(self._append([record_id], [fx], [fy], [category], [capabilities])[0])
            self._slots[record_id] = slot
            if self._used - self._built > max(MIN_PENDING, 2 * math.sqrt(len(self._slots))):
                self._drop_trees()

    def delete(self, record_id: Hashable) -> None:
        """Remove one record; KeyError when the id is not in the index."""
        with self._lock:
            slot = self._slots.pop(record_id, None)
            if slot is None:
                raise KeyError(f"record {record_id!r} is not in the index ({len(self)} records)")
            self._alive[slot] = False
            code = int(self._code[slot])
            if code >= 0:
                self._counts[code] -= 1
            if slot < self._built:
                self._dead_since += 1
                if self._dead_since > max(MIN_PENDING, DEAD_SHARE * len(self._slots)):
                    self._drop_trees()

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
        with self._lock:
            slots, dist = self._query_slots(x, y, k, category, capabilities, radius_m)
            columns = {
                "id": self._rid[slots],
                "distance_m": dist,
                "x": self._x[slots],
                "y": self._y[slots],
                "category": self._category[slots],
            }
        return pd.DataFrame(columns, index=pd.RangeIndex(len(slots)), copy=False)

    def query_ids(
        self,
        x: float,
        y: float,
        *,
        k: int | None = 10,
        category: str | Iterable[str] | None = None,
        capabilities: str | Iterable[str] = (),
        radius_m: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`query` answering in two arrays, for callers that need no frame.

        Returns ``(ids, distances)``: an object array of record ids and a float array of
        their distances in metres, equal to the ``id`` and ``distance_m`` columns of
        :meth:`query` (the web API's path: building a DataFrame costs more than the search).
        """
        with self._lock:
            slots, dist = self._query_slots(x, y, k, category, capabilities, radius_m)
            return self._rid[slots], dist

    def _query_slots(self, x, y, k, category, capabilities, radius_m):
        """(slots, distances) answering one point; the caller holds the lock."""
        fx, fy = _check_point(x, y)
        k, radius = _check_k(k), _check_radius(radius_m)
        plan = self._plan(category, capabilities)
        if plan.empty:
            return np.empty(0, dtype=np.int64), np.empty(0)
        if k is None:
            return self._every_match(fx, fy, radius, plan)
        return self._k_nearest_one(fx, fy, k, radius, plan)

    def query_many(
        self,
        xs: Iterable[float],
        ys: Iterable[float],
        *,
        k: int | None = 10,
        category: str | Iterable[str] | None = None,
        capabilities: str | Iterable[str] = (),
        radius_m: float | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`query` at many points at once, answering in arrays.

        Parameters
        ----------
        xs, ys
            The query points' coordinates in metres (equal lengths, finite).
        k, category, capabilities, radius_m
            As for :meth:`query`, the same for every point.

        Returns
        -------
        list of (ids, distances)
            One pair per point, in the order given: an object array of record ids and a
            float array of their distances in metres, nearest first, ties ordered by the
            id's string form. ``ids`` and ``distances`` equal the ``id`` and
            ``distance_m`` columns :meth:`query` would give for that point.
        """
        qx, qy = _check_points(xs, ys)
        k, radius = _check_k(k), _check_radius(radius_m)
        with self._lock:
            plan = self._plan(category, capabilities)
            if plan.empty:
                return [(self._rid[:0], np.empty(0))] * len(qx)
            if k is None:
                found = [
                    self._every_match(a, b, radius, plan)
                    for a, b in zip(qx.tolist(), qy.tolist(), strict=True)
                ]
                return [(self._rid[slots], dist) for slots, dist in found]
            found = []
            for start in range(0, len(qx), CHUNK):
                part = slice(start, start + CHUNK)
                found += self._k_nearest(qx[part], qy[part], k, radius, plan)
            return found

    # -- loading and storing

    def _load(self, groups: gpd.GeoDataFrame, id_column: str) -> None:
        check_frame(groups, "groups")
        if id_column not in groups.columns:
            raise ValueError(
                f"groups has no {id_column!r} column; columns are: {', '.join(map(str, groups))}"
            )
        groups = groups[in_service(groups).to_numpy()]  # closed groups are never offered
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

    def _append(self, ids, x, y, categories, offers) -> np.ndarray:
        """Store live records in the next free slots (arrays grow by doubling); return them."""
        start, count = self._used, len(ids)
        if start + count > len(self._x):
            capacity = max(start + count, 2 * len(self._x), MIN_CANDIDATES)
            self._resize(capacity, np.arange(start))
        slots = np.arange(start, start + count, dtype=np.int64)
        categories = _memo(lambda c: None if _is_missing(c) else c, categories)
        capabilities = _memo(parse_capabilities, offers)
        codes = _memo(self._category_code, categories)
        columns = {
            "_rid": ids,
            "_x": x,
            "_y": y,
            "_category": categories,
            "_code": codes,
            "_caps": capabilities,
            "_capbits": _memo(self._capability_bits, capabilities),
            "_alive": True,
        }
        for name, values in columns.items():
            target = getattr(self, name)
            if target.dtype == object:  # one by one: ids may be tuples, which numpy would unpack
                for slot, value in zip(slots.tolist(), values, strict=True):
                    target[slot] = value
            else:
                target[start : start + count] = values
        for code, number in zip(
            *np.unique(np.asarray(codes, dtype=np.int64), return_counts=True), strict=True
        ):
            if code >= 0:
                self._counts[code] += int(number)
        self._used += count
        return slots

    def _resize(self, capacity: int, keep: np.ndarray) -> None:
        """Arrays of `capacity` slots holding the slots `keep`, moved to the front."""
        for name in _FIELDS:
            old = getattr(self, name)
            new = np.empty(capacity, dtype=old.dtype)
            new[: len(keep)] = old[keep]
            setattr(self, name, new)

    def _category_code(self, category: object) -> int:
        key = _category_key(category)
        if key is None:
            return -1
        if key not in self._codes:
            self._codes[key] = len(self._codes)
            self._counts.append(0)
            self._plans = {}
        return self._codes[key]

    def _capability_bits(self, capabilities: frozenset[str]) -> int:
        bits = 0
        for name in capabilities:
            if name not in self._capnames:
                self._capnames[name] = len(self._capnames)
                self._plans = {}
            bit = self._capnames[name]
            if bit < _CAP_BITS:
                bits |= 1 << bit
        return bits

    # -- the trees

    def _drop_trees(self) -> None:
        """Forget the trees (built again when next asked), covering every slot from now."""
        self._trees = {}
        self._plans = {}  # their shares of records are out of date
        dead = self._used - len(self._slots)
        if dead > max(MIN_PENDING, self._used // 2):  # mostly dead slots: compact
            live = np.flatnonzero(self._alive[: self._used])
            self._resize(max(2 * len(live), MIN_CANDIDATES), live)
            self._used = len(live)
            self._slots = dict(zip(self._rid[: len(live)].tolist(), range(len(live)), strict=True))
        self._built = self._used
        self._dead_since = 0

    def _tree(self, key: int) -> _Tree:
        """The tree of every record (`key` _ALL) or of one category, built when first asked.

        A tree holds the records live when it was built; while no covered slot has been
        deleted since the trees were dropped (``_dead_since == 0``), all of them are live.
        """
        tree = self._trees.get(key)
        if tree is None:
            live = self._alive[: self._built]
            if key != _ALL:
                live = live & (self._code[: self._built] == key)
            slots = np.flatnonzero(live)
            points = np.column_stack([self._x[slots], self._y[slots]])
            kd = None
            if len(slots):
                kd = cKDTree(
                    points,
                    leafsize=LEAF_SIZE,
                    balanced_tree=False,
                    compact_nodes=False,
                    copy_data=False,  # the tree keeps `points`, whose columns serve as x, y
                )
            tree = self._trees[key] = _Tree(kd, slots, points[:, 0], points[:, 1])
        return tree

    # -- answering

    def _plan(self, category, capabilities) -> _Plan:
        """The filters as category numbers and capability bits, and the trees to ask;
        remembered when the categories and capabilities are given as text (a string or a
        collection of strings)."""
        key = None
        if type(category) in (list, tuple, frozenset, set) and all(
            type(c) is str for c in category
        ):
            category = tuple(sorted(category))
        if (category is None or type(category) in (str, tuple)) and (
            type(capabilities) is str or (type(capabilities) in (list, tuple) and all(
                type(c) is str for c in capabilities))
        ):
            key = (category, capabilities if type(capabilities) is str else tuple(capabilities))
            plan = self._plans.get(key)
            if plan is not None:
                return plan
        plan = self._make_plan(category, capabilities)
        if key is not None:
            if len(self._plans) >= 256:
                self._plans.clear()
            self._plans[key] = plan
        return plan

    def _make_plan(self, category, capabilities) -> _Plan:
        bits, rest = 0, set()
        for name in parse_capabilities(capabilities):
            bit = self._capnames.get(name)
            if bit is None:  # no record has ever offered it
                return _Plan(empty=True)
            if bit < _CAP_BITS:
                bits |= 1 << bit
            else:
                rest.add(name)
        wanted = _wanted_categories(category)
        if wanted is None:
            return _Plan(bits=bits, rest=frozenset(rest))
        codes = sorted({self._codes[c] for c in wanted if c in self._codes})
        if not codes:
            return _Plan(empty=True)
        table = np.zeros(len(self._codes) + 1, dtype=bool)
        table[np.array(codes) + 1] = True
        share = sum(self._counts[c] for c in codes) / max(1, len(self._slots))
        if len(codes) == 1 or (len(codes) <= 4 and share < 0.5):
            return _Plan(trees=tuple(codes), table=table, bits=bits, rest=frozenset(rest))
        return _Plan(
            table=table, check_trees=True, bits=bits, rest=frozenset(rest), share=max(share, 1e-3)
        )

    def _keep(
        self, slots: np.ndarray, plan: _Plan, *, alive: bool = True, category: bool = True
    ) -> np.ndarray | None:
        """Which of `slots` (any shape) pass the plan's filters; None when all do.

        `alive`: check the records are live; `category`: check the plan's categories.
        """
        mask = self._alive[slots] if alive else None
        if category and plan.table is not None:
            wanted = plan.table[self._code[slots] + 1]
            mask = wanted if mask is None else mask & wanted
        if plan.bits:
            offers = (self._capbits[slots] & plan.bits) == plan.bits
            mask = offers if mask is None else mask & offers
        if plan.rest:
            mask = np.ones(slots.shape, dtype=bool) if mask is None else mask
            flat = mask.reshape(-1)
            at = np.flatnonzero(flat)
            offered = self._caps[slots.reshape(-1)[at]]
            flat[at] = np.fromiter((plan.rest <= c for c in offered), bool, len(at))
        return mask

    def _keep_from_tree(self, slots: np.ndarray, plan: _Plan) -> np.ndarray | None:
        """:meth:`_keep` for candidates of a tree (see :meth:`_tree` for when all are live)."""
        return self._keep(slots, plan, alive=self._dead_since > 0, category=plan.check_trees)

    def _pending(self, plan: _Plan) -> np.ndarray:
        """The live pending slots (not in the trees) passing the plan's filters."""
        slots = np.arange(self._built, self._used, dtype=np.int64)
        return slots[self._keep(slots, plan)] if self._used > self._built else slots

    def _first_request(self, k: int, plan: _Plan) -> int:
        """How many candidates to ask a tree for first: k + 1 when every one should pass."""
        live = 1.0 - self._dead_since / max(1, len(self._slots) + self._dead_since)
        rate = max(live * plan.share, 1e-3)
        if rate >= 1 and not (plan.bits or plan.rest):
            return k + 1
        return math.ceil(1.25 * (k + 1) / rate) + 2

    def _k_nearest_one(
        self, x: float, y: float, k: int, radius: float | None, plan: _Plan
    ) -> tuple[np.ndarray, np.ndarray]:
        """(slots, distances) of the k nearest matches of one point, ordered."""
        if (radius is None and len(plan.trees) == 1 and not plan.check_trees
                and not plan.bits and not plan.rest and self._dead_since == 0
                and self._used == self._built):
            plain = self._k_nearest_plain(x, y, k, plan.trees[0])
            if plain is not None:
                return plain
        size = max(1.0, abs(x), abs(y))
        bound = np.inf if radius is None else radius + TOLERANCE * max(size, radius)
        first = self._first_request(k, plan)
        found_slots, found_dist = [], []
        for key in plan.trees:
            tree = self._tree(key)
            n = len(tree.slots)
            wanted = min(n, first)
            while wanted:
                tree_dist, at = tree.kd.query((x, y), k=wanted, distance_upper_bound=bound)
                tree_dist, at = np.atleast_1d(tree_dist), np.atleast_1d(at)
                if radius is not None:
                    inside = at < n
                    tree_dist, at = tree_dist[inside], at[inside]
                slots = tree.slots[at]
                dx = tree.x[at] - x
                dy = tree.y[at] - y
                dist = np.sqrt(dx * dx + dy * dy)
                ok = self._keep_from_tree(slots, plan)
                if radius is not None:
                    ok = dist <= radius if ok is None else ok & (dist <= radius)
                if ok is not None:
                    slots, dist = slots[ok], dist[ok]
                if wanted >= n or len(at) < wanted or _settled(tree_dist[-1], dist, k, size):
                    found_slots.append(slots)
                    found_dist.append(dist)
                    break
                wanted = min(n, _next_request(wanted, k, len(dist)))
        pending = self._pending(plan)
        if len(pending):
            dx = self._x[pending] - x
            dy = self._y[pending] - y
            dist = np.sqrt(dx * dx + dy * dy)
            inside = slice(None) if radius is None else dist <= radius
            found_slots.append(pending[inside])
            found_dist.append(dist[inside])
        if len(found_slots) == 1:
            slots, dist = found_slots[0], found_dist[0]
        elif found_slots:
            slots, dist = np.concatenate(found_slots), np.concatenate(found_dist)
        else:
            return np.empty(0, dtype=np.int64), np.empty(0)
        if len(dist) > k:
            # keep everything tied with the k-th distance, then order by (distance, id)
            kth = np.partition(dist, k - 1)[k - 1]
            near = dist <= kth
            slots, dist = slots[near], dist[near]
        order = np.argsort(dist, kind="stable")
        slots, dist = slots[order], dist[order]
        if len(dist) > 1 and (dist[1:] == dist[:-1]).any():
            return self._by_distance_and_id(slots, dist, k)
        return slots[:k], dist[:k]

    def _k_nearest_plain(
        self, x: float, y: float, k: int, key: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The common web query in one tree request: every record of tree `key` matches
        (no deletions, no pending records, no capability or radius filter). Its k + 1
        nearest settle the answer when, by the true distance, the k-th is strictly nearer
        than the tree's farthest candidate and no two of them are tied; otherwise None,
        and the general path decides (ties are ordered by id there).

        A tree of at most :data:`PLAIN_SCAN_MAX` records is scanned instead: every
        distance, the k + 1 smallest picked (no request overhead; and numpy keeps the
        interpreter lock for arrays this small, where scipy's query lets it go, so under
        a threaded server the request would queue behind another thread's)."""
        tree = self._tree(key)
        n = len(tree.slots)
        if n <= k:
            return None
        if n <= PLAIN_SCAN_MAX:
            # every distance: the k + 1 smallest settle the answer (no tree to trust)
            dx = tree.x - x
            dy = tree.y - y
            every = np.sqrt(dx * dx + dy * dy)
            at = np.argpartition(every, k)[: k + 1]
            dist = every[at]
            farthest = None
        else:
            tree_dist, at = tree.kd.query((x, y), k=k + 1)
            dx = tree.x[at] - x
            dy = tree.y[at] - y
            dist = np.sqrt(dx * dx + dy * dy)
            farthest = float(tree_dist[-1])
        order = np.argsort(dist, kind="stable")
        dist = dist[order]
        if farthest is not None:
            size = max(1.0, abs(x), abs(y))
            if not dist[k - 1] < farthest - TOLERANCE * max(size, farthest):
                return None
        if (dist[1:] == dist[:-1]).any():
            return None
        return tree.slots[at[order[:k]]], dist[:k]

    def _k_nearest(
        self, qx: np.ndarray, qy: np.ndarray, k: int, radius: float | None, plan: _Plan
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """(ids, distances) of the k nearest matches of each point, ordered."""
        parts = [self._from_tree(self._tree(key), qx, qy, k, radius, plan) for key in plan.trees]
        pending = self._pending(plan)
        if len(pending):
            dist = _distances(self._x[pending], self._y[pending], qx, qy)
            if radius is not None:
                dist[dist > radius] = np.inf
            parts.append(_cut(np.broadcast_to(pending, dist.shape), dist, k))
        parts = [p for p in parts if p[0].shape[1]]
        if not parts:
            nothing = (self._rid[:0], np.empty(0))
            return [nothing] * len(qx)
        slots = np.hstack([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
        dist = np.hstack([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
        return self._select(slots, dist, k)

    def _from_tree(
        self, tree: _Tree, qx: np.ndarray, qy: np.ndarray, k: int, radius: float | None, plan: _Plan
    ) -> tuple[np.ndarray, np.ndarray]:
        """Candidates from one tree, (points, width) slots and distances (inf: no match),
        holding for each point every match of the tree at or within its k-th match."""
        m, n = len(qx), len(tree.slots)
        if n == 0:
            return np.empty((m, 0), dtype=np.int64), np.empty((m, 0))
        bound = np.inf
        if radius is not None:
            size = max(1.0, float(np.abs(qx).max()), float(np.abs(qy).max()), radius)
            bound = radius + TOLERANCE * size
        wanted = min(n, self._first_request(k, plan))
        points = np.column_stack([qx, qy])
        rows = np.arange(m)
        done: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        while len(rows):
            step = max(1, _BUDGET // wanted)
            unsettled, fewest = [], k
            for first in range(0, len(rows), step):
                part = rows[first : first + step]
                here = points if len(part) == m else points[part]
                slots, dist, settled, matched = self._ask(
                    tree, here, wanted, bound, k, radius, plan
                )
                if settled is None:
                    done.append((part, *_cut(slots, dist, k, 4 * k)))
                    continue
                if settled.any():
                    done.append((part[settled], *_cut(slots[settled], dist[settled], k, 4 * k)))
                unsettled.append(part[~settled])
                fewest = min(fewest, int(matched[~settled].min()))
            rows = np.concatenate(unsettled) if unsettled else rows[:0]
            wanted = min(n, _next_request(wanted, k, fewest))
        if len(done) == 1:
            return done[0][1], done[0][2]
        width = max(d[1].shape[1] for d in done)
        slots = np.zeros((m, width), dtype=np.int64)
        dist = np.full((m, width), np.inf)
        for part, s, d in done:
            slots[part, : s.shape[1]] = s
            dist[part, : d.shape[1]] = d
        return slots, dist

    def _ask(self, tree, points, wanted, bound, k, radius, plan):
        """One request of `wanted` candidates per point: slots, exact distances (inf: no
        match), which points are settled (None: all) and how many matches each has."""
        n = len(tree.slots)
        tree_dist, at = tree.kd.query(points, k=wanted, distance_upper_bound=bound)
        if tree_dist.ndim == 1:
            tree_dist, at = tree_dist[:, None], at[:, None]
        found = None
        if radius is not None:
            found = at < n
            at = np.where(found, at, 0)
        slots = tree.slots[at]
        dist = _distances(tree.x[at], tree.y[at], points[:, 0], points[:, 1])
        ok = self._keep_from_tree(slots, plan)
        if radius is not None:
            inside = found & (dist <= radius)
            ok = inside if ok is None else ok & inside
        if ok is not None:
            dist[~ok] = np.inf
        if wanted >= n:
            return slots, dist, None, None
        far = tree_dist[:, -1]
        # the slack of _settled, from the largest coordinate or distance of the batch (a
        # wider slack than a point's own only asks for more candidates)
        reach = bound if radius is not None else float(far.max())
        slack = TOLERANCE * max(1.0, float(np.abs(points).max()), reach)
        kth = np.partition(dist, k - 1, axis=1)[:, k - 1] if wanted >= k else np.inf
        settled = kth < far - slack
        if radius is not None:
            settled |= np.isinf(far)  # fewer than asked within the radius: all of them
        if settled.all():
            return slots, dist, None, None
        matched = np.full(len(points), wanted) if ok is None else ok.sum(axis=1)
        return slots, dist, settled, matched

    def _select(
        self, slots: np.ndarray, dist: np.ndarray, k: int
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per row, the ids and distances of the k nearest candidates by (distance, id
        string); an inf distance marks no match."""
        slots, dist = _cut(slots, dist, k, 4 * k)
        if not dist.shape[1]:  # no matches at all
            return [(self._rid[:0], np.empty(0))] * len(dist)
        order = np.argsort(dist, axis=1, kind="stable")[:, : k + 1]
        rows = np.arange(len(dist))[:, None]
        nearest, near = slots[rows, order], dist[rows, order]
        top = min(k, near.shape[1])
        ids = self._rid[nearest[:, :top]]
        out = list(zip(ids, near[:, :top], strict=True))
        for row in np.flatnonzero(~np.isfinite(near[:, top - 1])).tolist():  # fewer than k
            count = int(np.isfinite(near[row, :top]).sum())
            out[row] = (ids[row, :count], near[row, :count])
        # equal distances within the first k + 1: order by id among every candidate
        tied = ((near[:, 1:] == near[:, :-1]) & np.isfinite(near[:, 1:])).any(axis=1)
        for row in np.flatnonzero(tied).tolist():
            found, found_dist = self._by_distance_and_id(slots[row], dist[row], k)
            out[row] = (self._rid[found], found_dist)
        return out

    def _by_distance_and_id(
        self, slots: np.ndarray, dist: np.ndarray, k: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The matches (finite distances) ordered by (distance, id string), cut to k."""
        slots, dist = slots[np.isfinite(dist)], dist[np.isfinite(dist)]
        keys = list(zip(dist.tolist(), [str(i) for i in self._rid[slots]], strict=True))
        order = sorted(range(len(slots)), key=keys.__getitem__)[:k]
        order = np.array(order, dtype=np.int64)
        return slots[order], dist[order]

    def _every_match(
        self, x: float, y: float, radius: float | None, plan: _Plan
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every match (within the radius, if any) of one point, ordered."""
        if radius is None:
            slots = np.flatnonzero(self._alive[: self._used])
            slots = slots[self._keep(slots, plan)]
        else:
            bound = radius + TOLERANCE * max(1.0, abs(x), abs(y), radius)
            parts = [self._pending(plan)]
            for key in plan.trees:
                tree = self._tree(key)
                if tree.kd is not None:
                    near = tree.slots[tree.kd.query_ball_point([x, y], bound)]
                    ok = self._keep_from_tree(near, plan)
                    parts.append(near if ok is None else near[ok])
            slots = np.concatenate(parts)
        dist = _distances(self._x[slots], self._y[slots], np.array([x]), np.array([y]))[0]
        if radius is not None:
            slots, dist = slots[dist <= radius], dist[dist <= radius]
        order = np.argsort(dist, kind="stable")
        slots, dist = slots[order], dist[order]
        if len(dist) > 1 and (dist[1:] == dist[:-1]).any():
            return self._by_distance_and_id(slots, dist, None)
        return slots, dist


def _memo(func: Callable[[object], object], values: Iterable) -> list:
    """``[func(v) for v in values]``, calling `func` once per distinct value (and type)."""
    seen: dict = {}
    out = []
    for value in values:
        try:
            key = (type(value), value)
            got = seen[key] if key in seen else seen.setdefault(key, func(value))
        except TypeError:  # unhashable
            got = func(value)
        out.append(got)
    return out


def _distances(x: np.ndarray, y: np.ndarray, qx: np.ndarray, qy: np.ndarray) -> np.ndarray:
    """``sqrt(dx * dx + dy * dy)`` from each query point (rows) to each record (columns);
    `x`, `y` either one row of records for every point or a row per point."""
    dx = x - qx[:, None]
    dy = y - qy[:, None]
    dx *= dx
    dy *= dy
    dx += dy
    return np.sqrt(dx, out=dx)


def _cut(
    slots: np.ndarray, dist: np.ndarray, k: int, wide: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, only the candidates at or within the row's k-th smallest distance (all its
    finite ones when it has fewer than k): narrower arrays, padded with inf. Arrays no
    wider than `wide` (default k) are returned as they are."""
    width = dist.shape[1]
    if width <= (k if wide is None else wide) or not len(dist):
        return slots, dist
    kth = np.partition(dist, k - 1, axis=1)[:, k - 1 : k]
    keep = (dist <= kth) & np.isfinite(dist)
    need = int(keep.sum(axis=1).max())
    if need >= width:
        return slots, dist
    order = np.argsort(~keep, axis=1, kind="stable")[:, :need]
    rows = np.arange(len(dist))[:, None]
    slots = slots[rows, order]
    dist = np.where(keep[rows, order], dist[rows, order], np.inf)
    return slots, dist


def _settled(farthest: float, matched: np.ndarray, k: int, size: float) -> bool:
    """True when the k-th match is strictly nearer than every record not yet fetched.

    Every record the tree has not returned is at least as far as the farthest candidate;
    the slack absorbs last-digit differences between the tree's distances and ours.
    """
    if len(matched) < k:
        return False
    kth = np.partition(matched, k - 1)[k - 1]
    return bool(kth < farthest - TOLERANCE * max(size, farthest))


def _next_request(asked: int, k: int, matched: int) -> int:
    """How many candidates to ask for next: enough for k matches at the rate seen so far."""
    if matched == 0:
        return 4 * asked
    return max(2 * asked, math.ceil(1.25 * asked * k / matched))


# -- the study area: searches from far outside it are refused --------------------------

#: a search from farther than this (metres) beyond the study area's edge is refused: the
#: workspace only holds groups in and near the study area, so the "nearest" would be far
MAX_OUTSIDE_M = 5_000.0
#: side (metres) of the square cells :meth:`StudyArea.refuse` answers most points from: a
#: point in a cell the study area touches is at most the cell's diagonal (3.5 km, within
#: :data:`MAX_OUTSIDE_M` with room to spare) from the area
CELL_M = MAX_OUTSIDE_M / 2
#: at most this many cells (a bigger area's bounds get no cells: every point is checked
#: against the outline)
MAX_CELLS = 400_000


@dataclass(frozen=True)
class StudyArea:
    """The study area's outline (EPSG:27700) and name, for :meth:`refuse`."""

    shape: object  # a prepared shapely geometry
    name: str
    #: cells of :data:`CELL_M` metres, numbered ``column * rows + row`` from the corner
    #: ``origin``, that the study area touches (see :meth:`refuse`)
    touched: frozenset = frozenset()
    origin: tuple[float, float] = (0.0, 0.0)
    columns: int = 0
    rows: int = 0

    @classmethod
    def of(cls, layers: Iterable[gpd.GeoDataFrame | None], name: str) -> StudyArea | None:
        """The union of the first layer present (boroughs before wards), or None."""
        import shapely

        for frame in layers:
            if frame is not None and len(frame):
                check_frame(frame, "study area")
                shape = shapely.union_all(frame.geometry.array)
                shapely.prepare(shape)
                return cls(shape, name or "the study area", **_cells(shape))
        return None

    def refuse(self, x: float, y: float, where: str) -> str | None:
        """None when (x, y) lies within :data:`MAX_OUTSIDE_M` of the study area, else why
        a search from there is refused (for people: `where` names the place).

        A point in a cell the area touches is answered without asking the outline (every
        point of such a cell is within the cell's diagonal of the area); others are
        measured against it."""
        import shapely

        fx, fy = float(x), float(y)
        column = (fx - self.origin[0]) // CELL_M
        row = (fy - self.origin[1]) // CELL_M
        if 0 <= column < self.columns and 0 <= row < self.rows and (
            int(column) * self.rows + int(row) in self.touched
        ):
            return None
        point = shapely.Point(fx, fy)
        if self.shape.contains(point):
            return None
        distance = float(shapely.distance(self.shape, point))
        if distance <= MAX_OUTSIDE_M:
            return None
        return (f"{where[:1].upper()}{where[1:]} is {distance / 1000:,.0f} km outside the "
                f"study area ({self.name}). "
                f"This workspace holds groups in and near {self.name} only, so it answers "
                f"searches up to {MAX_OUTSIDE_M / 1000:g} km beyond its edge.")


def _cells(shape) -> dict:
    """:class:`StudyArea`'s cells of `shape` (prepared): the ones it touches, found for
    every cell of its bounds at once; none when the shape is empty or its bounds would
    need more than :data:`MAX_CELLS`."""
    import shapely

    if shape.is_empty:
        return {}
    minx, miny, maxx, maxy = shape.bounds
    columns = max(1, math.ceil((maxx - minx) / CELL_M))
    rows = max(1, math.ceil((maxy - miny) / CELL_M))
    if not (math.isfinite(minx) and math.isfinite(miny)) or columns * rows > MAX_CELLS:
        return {}
    column, row = np.divmod(np.arange(columns * rows), rows)
    left, bottom = minx + column * CELL_M, miny + row * CELL_M
    boxes = shapely.box(left, bottom, left + CELL_M, bottom + CELL_M)
    touched = np.flatnonzero(shapely.intersects(shape, boxes))
    return {"touched": frozenset(touched.tolist()), "origin": (float(minx), float(miny)),
            "columns": columns, "rows": rows}
