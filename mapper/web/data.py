"""Workspace data for views, read once per version of the workspace.

Every view reads layers through :func:`layer` (and the nearest-groups index through
:func:`nearest_index`): they are cached by the workspace file's path, modification time
and size (its *store version*) and the app database's edits counter (its *edits
version*), so a rebuilt or re-analysed workspace, or an edit, is picked up on the next
request while repeated requests cost nothing. Cached values are shared: views must not
modify them (copy first).

How caches follow the versions (:func:`cached`):

* **Only what an edit touches is made again.** A cache remembers whether making it read
  the edits (a register read with its edits, the app database, or another cache that
  did); one that did not (wards, boundaries, the analysis, meta) is kept across edits
  and made again only when the GeoPackage changes. The registers as imported are kept
  per store version and an edit only lays the edits over them again (:func:`layer`);
  caches made with :func:`with_overlay` (the nearest-groups index, the API's group
  features) change just the records edited since, and the index is copied and changed
  only when an edit moved a point or changed what its searches filter on.
* **One rebuild per version, readers never wait for it.** A cache is made again by one
  thread at a time (single flight): a reader that finds it out of date is served the
  previous version while another thread rebuilds it, and otherwise rebuilds it itself
  (its own request waits). Inside a rebuild nothing is served stale (a rebuild waits
  for the rebuild it needs), so a version is never made from an older one's parts.
  Several server processes (``--workers``) each keep their own caches.
* **Bounded.** Each kind of cache holds its newest version only; kinds with variants
  (a date window, a base map) keep the :data:`VARIANTS_PER_KIND` most recently used
  variants each (a kind may ask to keep more: the CAN pages keep one per CAN), so many
  distinct windows evict only older windows of that kind, never the nearest-groups index
  or a layer.

The version is looked up once per request (kept in :data:`flask.g`), not on every
:func:`cached` call: a request sees one consistent version of the workspace. A view
that changes the workspace and then reads it again in the same request calls
:func:`forget_version` in between.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TypeVar, cast

import pandas as pd
from flask import abort, current_app, g, has_request_context, request
from werkzeug.exceptions import HTTPException, NotFound

from mapper.overlay import EDITED_LAYERS
from mapper.store import Workspace

#: provenance columns shown in the data sources footer, with their headings
SOURCE_COLUMNS = {
    "layer": "Layer",
    "source_file": "Source file",
    "vintage": "Release",
    "coverage": "Covers",
    "licence": "Licence",
    "attribution": "Attribution",
}

#: variants kept per kind of cache (date windows, base maps...), least recently used
#: dropped first
VARIANTS_PER_KIND = 16

_lock = threading.Lock()
#: kind -> variant -> the newest entry made
_entries: dict[str, OrderedDict[object, _Entry]] = {}
#: (GeoPackage path, kind, variant) -> set when the rebuild in flight ends
_flights: dict[tuple, threading.Event] = {}
#: per thread: the rebuilds in progress (innermost last), each noting whether it read edits
_local = threading.local()
#: how many times each kind was made or updated (tests and the benchmark read it)
builds: dict[str, int] = {}
#: workspace directory -> the GeoPackage's resolved path and the app database (resolving
#: paths costs more than the rest of a version lookup)
_resolved: dict[str, tuple] = {}
#: workspace setting (as configured) -> its Workspace, once it has been opened
_workspaces: dict[str, Workspace] = {}


# -- the workspace ---------------------------------------------------------


class NoWorkspace(NotFound):
    """404: the configured workspace does not exist yet."""

    name = "No data to show yet"


def open_workspace() -> Workspace:
    """The configured workspace; 404 with what to do when there is none."""
    workspace = Workspace(current_app.config["WORKSPACE"])
    if not workspace.exists():
        raise NoWorkspace(
            description=(
                f"There is no workspace at {workspace.directory}. Run 'mapper demo' to "
                "create the synthetic demo area, or 'mapper build --from DIR' to build one "
                "from your data files, then reload this page."
            ),
        )
    return workspace


def _version(workspace: Workspace) -> tuple:
    """The GeoPackage's identity and the edits counter: edits made in the web app show
    (and reach the nearest-groups index) on the next request. OSError when the
    GeoPackage is gone."""
    directory = str(workspace.directory)
    known = _resolved.get(directory)
    if known is None:
        known = _resolved[directory] = (str(workspace.path.resolve()), workspace.appdb)
    path, appdb = known
    # (path, the store's two last identity fields: the GeoPackage's modification time and
    # size, or when PostgreSQL's layers were committed and that version's nonce; edits)
    return (path, *workspace.version()[-2:], appdb.edits_version())


def _open(setting: str) -> tuple[Workspace, tuple]:
    """The workspace of `setting` and its version: one stat of the GeoPackage when it has
    been opened before (a missing one is :func:`open_workspace`'s 404)."""
    workspace = _workspaces.get(setting)
    if workspace is not None:
        try:
            return workspace, _version(workspace)
        except OSError:
            pass  # removed since: open_workspace says what to do
    workspace = open_workspace()
    _workspaces[setting] = workspace
    return workspace, _version(workspace)


def current() -> tuple[Workspace, tuple]:
    """The configured workspace and its version, looked up once per request.

    The answer is kept in ``g`` with the request it belongs to, so requests that share
    one app context (a test's ``with app.app_context():``) still each look it up.
    """
    if not has_request_context():
        workspace = open_workspace()
        return workspace, _version(workspace)
    # flask types `request` as the Request; it is the LocalProxy that knows the object
    this = request._get_current_object()  # type: ignore[attr-defined]
    setting = current_app.config["WORKSPACE"]
    memo = g.get("_mapper_workspace_version")
    if memo is not None and memo[0] is this and memo[1] == setting:
        return memo[2], memo[3]
    workspace, version = _open(setting)
    g._mapper_workspace_version = (this, setting, workspace, version)
    return workspace, version


def seen_version() -> tuple | None:
    """The workspace version this request has looked up, or None when it read no data."""
    memo = g.get("_mapper_workspace_version") if has_request_context() else None
    return None if memo is None else memo[3]


def forget_version() -> None:
    """Look the version up again on the next :func:`cached` call of this request (after
    a view changed the workspace or its edits)."""
    g.pop("_mapper_workspace_version", None)


def version_tag() -> str:
    """A short text naming the current version (for ETags and cache-busting URLs)."""
    _workspace, version = current()
    return hashlib.sha1(repr(version).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Entry:
    store: tuple  # the GeoPackage's path, modification time and size
    edits: int | None  # the edits version made at; None: made without reading edits
    value: object

    def serves(self, store: tuple, edits: int) -> bool:
        """Made at the version of a request at (store, edits) (a restore can take the
        edits counter back: only the same counter is the same version)."""
        return self.store == store and (self.edits is None or self.edits == edits)

    def newer_than(self, other: _Entry) -> bool:
        if self.store[0] != other.store[0]:
            return False  # another GeoPackage's value: the one just made replaces it
        if self.store != other.store:
            return self.store[1] > other.store[1]
        return (self.edits or 0) > (other.edits or 0)


class _Tracked:
    """The workspace as a cache's build sees it: notes when the build reads edits (the
    app database; :func:`mapper.overlay.read_layer` reads the edits there)."""

    def __init__(self, workspace: Workspace):
        self._workspace = workspace

    @property
    def appdb(self):
        _reads_edits()
        return self._workspace.appdb

    def __getattr__(self, name: str):
        return getattr(self._workspace, name)


def _frames() -> list[list[bool]]:
    frames = getattr(_local, "frames", None)
    if frames is None:
        frames = _local.frames = []
    return frames


def _reads_edits() -> None:
    for frame in _frames():
        frame[0] = True


#: the type of one kind of cached value
T = TypeVar("T")


def cached(kind: str, build: Callable[[Workspace], T], *, variant: object = None,
           update: Callable[[Workspace, T], T | None] | None = None,
           keep: int = VARIANTS_PER_KIND) -> T:
    """`build(workspace)` for the current workspace version, made once per version of
    what it reads (see the module's notes).

    `variant` names one of several values of a kind (a date window); `update(workspace,
    previous)` makes the value from that of an earlier edits version of the same
    GeoPackage (None: it cannot, build it). `keep`: the variants of this kind kept (a kind
    warmed for every one of its variants, as the CAN pages, keeps them all).
    """
    workspace, version = current()
    store, edits = version[:3], version[3]
    # one flight per GeoPackage: a warm-up of another workspace in this process (tests
    # serve several) never makes this one wait for, or take, its value
    key = (store[0], kind, variant)
    entry: _Entry | None = None
    while True:
        flight = None
        with _lock:
            variants = _entries.get(kind)
            entry = variants.get(variant) if variants is not None else None
            if variants is not None and entry is not None:
                variants.move_to_end(variant)
            if entry is not None and entry.serves(store, edits):
                break
            flight = _flights.get(key)
            if flight is None:  # this thread makes the new version
                flight = _flights[key] = threading.Event()
                break
            if entry is not None and entry.store[0] == store[0] and not _frames():
                flight = None
                break  # stale (this GeoPackage's) while another thread rebuilds it
        flight.wait()
    if flight is not None:  # this thread makes the new version
        return _make(key, workspace, store, edits, entry, build, update, flight, keep)
    assert entry is not None  # the loop leaves with an entry or a flight
    if entry.edits is not None:
        _reads_edits()
    # one kind always holds what its one build makes: the caller's T
    return cast(T, entry.value)


def _make(key: tuple, workspace: Workspace, store: tuple, edits: int, previous: _Entry | None,
          build: Callable[[Workspace], T], update: Callable[[Workspace, T], T | None] | None,
          flight: threading.Event, keep: int = VARIANTS_PER_KIND) -> T:
    _path, kind, variant = key
    frame = [False]
    frames = _frames()
    frames.append(frame)
    try:
        tracked = cast(Workspace, _Tracked(workspace))  # reads through to the workspace
        value: T | None = None
        if update is not None and previous is not None and previous.store == store:
            value = update(tracked, cast(T, previous.value))
        if value is None:
            value = build(tracked)
        made = _Entry(store, edits if frame[0] else None, value)
        with _lock:
            builds[kind] = builds.get(kind, 0) + 1
            variants = _entries.setdefault(kind, OrderedDict())
            present = variants.get(variant)
            if present is None or not present.newer_than(made):
                variants[variant] = made
                variants.move_to_end(variant)
                while len(variants) > max(keep, 1):
                    variants.popitem(last=False)
    finally:
        frames.pop()
        with _lock:
            del _flights[key]
        flight.set()
    if frame[0]:
        _reads_edits()
    return value


def imported(name: str):
    """A layer as stored in the GeoPackage (registers without the web app's edits), or
    None when absent: kept until the GeoPackage changes."""
    return cached(f"imported:{name}", lambda ws: ws.read_layer(name)
                  if ws.has_layer(name) else None)


def overlay(register: str) -> dict:
    """record id -> :class:`mapper.appdb.StoredRecord`: a register's edited records."""
    return cached(f"overlay:{register}",
                  lambda ws: {r.record_id: r for r in ws.appdb.records(register)})


def layer(name: str, *, required: bool = True):
    """A workspace layer (EPSG:27700), or None when absent and not `required` (else 404).
    A register comes with the web app's edits laid over it (retired records left out)."""
    from mapper.overlay import apply_edits

    if name in EDITED_LAYERS:  # made again when this register's edits change
        def build():
            base = imported(name)
            return None if base is None else apply_edits(base, name,
                                                          list(overlay(name).values()))

        value = with_overlay(f"layer:{name}", name, build, lambda *_: None)
    else:
        value = imported(name)
    if value is None and required:
        workspace = open_workspace()
        present = ", ".join(workspace.layers()) or "none"
        abort(404, description=f"The workspace has no '{name}' layer (layers: {present}). "
              "Rebuild it with 'mapper build --from DIR' or 'mapper demo'.")
    return value


def meta() -> dict:
    """The workspace's meta table (study area, analysis settings, notes...)."""
    return cached("meta", lambda ws: ws.meta())


def example_place() -> dict[str, str]:
    """Examples for forms and messages, taken from the workspace: ``postcode`` (the one
    nearest the middle of its postcodes), its ``lat`` and ``lon`` (4 decimals) and a
    ``ward`` code; a key is absent when the workspace lacks what it needs (all of them
    without a workspace)."""
    from mapper.geo import to_display
    from mapper.postcodes import example_postcode as pick

    def build(_workspace: Workspace) -> dict[str, str]:
        out: dict[str, str] = {}
        wards = layer("wards", required=False)
        if wards is not None and len(wards):
            out["ward"] = str(wards["ward_code"].iloc[0])
        postcodes = layer("postcodes", required=False)
        if postcodes is None or not len(postcodes):
            return out
        points = postcodes[postcodes.geometry.geom_type == "Point"]
        code = pick(pd.DataFrame({"x": points.geometry.x.to_numpy(),
                                  "y": points.geometry.y.to_numpy()},
                                 index=points["postcode"].astype(str).to_numpy()))
        if code is not None:
            shown = to_display(points.geometry[points["postcode"].astype(str) == code]).iloc[0]
            out |= {"postcode": code, "lat": f"{shown.y:.4f}", "lon": f"{shown.x:.4f}"}
        return out

    try:
        return cached("example_place", build)
    except HTTPException:  # no workspace (yet): no examples
        return {}


def example_postcode() -> str | None:
    """The workspace's example postcode (see :func:`example_place`), or None."""
    return example_place().get("postcode")


def postcode_index() -> pd.DataFrame:
    """The workspace's postcodes: ``x`` and ``y`` (EPSG:27700), indexed by postcode."""
    return cached("postcode_index", _build_postcode_index)


def _build_postcode_index(_workspace) -> pd.DataFrame:
    from mapper.postcodes import postcode_table

    return postcode_table(layer("postcodes", required=False))


def study_area():
    """The study area's outline and name (:class:`mapper.analysis.nearest.StudyArea`),
    or None without boundaries: searches from far outside it are refused."""
    from mapper.analysis.nearest import StudyArea

    def build(_workspace: Workspace):
        layers = [layer(name, required=False) for name in ("boroughs", "wards")]
        return StudyArea.of(layers, meta().get("study_area", ""))

    return cached("study_area", build)


def unavailable_measures() -> dict[str, str]:
    """Deprivation measures the analysis could not compute, and why (measure -> reason)."""
    return json.loads(meta().get("unavailable_measures") or "{}")


def analysis_notes() -> list[str]:
    """What the analysis said about the data, beyond :func:`unavailable_measures`
    (mapper.analysis_run.other_notes)."""
    return json.loads(meta().get("analysis_notes") or "[]")


def provenance():
    """Where each layer came from: source file, vintage, licence, attribution."""
    return cached("provenance", lambda ws: ws.provenance())


def with_overlay(kind: str, register: str, build: Callable[[], T],
                 patch: Callable[[T, list[str], dict, dict], T | None]) -> T:
    """A cache made from `register` that edits change record by record.

    `build()` makes it from scratch; `patch(previous, changed, before, now)` makes it
    from the value of an earlier edits version, given the ids of the records whose
    edited version differs and the register's edited records then and now (None: it
    cannot, build it). A record leaving the edits (a restore) means a build.
    """

    def full(_workspace: Workspace) -> tuple[T, dict]:
        return build(), overlay(register)

    def update(_workspace: Workspace, previous: tuple[T, dict]) -> tuple[T, dict] | None:
        value, before = previous
        now = overlay(register)
        if not set(before) <= set(now):
            return None
        changed = [i for i, record in now.items() if before.get(i) != record]
        if not changed:
            return value, now
        patched = patch(value, changed, before, now)
        return None if patched is None else (patched, now)

    return cached(kind, full, update=update)[0]


def nearest_index():
    """The nearest-group index (k-d trees, see mapper.analysis.nearest) of the workspace's
    groups: made once per GeoPackage, then copied and changed for the edits that move a
    group or change its category, emergency offer, status or retirement."""
    from mapper.analysis.nearest import NearestIndex

    def build():
        groups = layer("groups", required=False)
        return NearestIndex(groups) if groups is not None else NearestIndex()

    return with_overlay("nearest_index", "groups", build, _patch_index)


def text_ids(register: str) -> bool:
    """Whether the imported `register` keeps its ids as text, as edits do (record by
    record changes find the edited rows by id)."""
    from pandas.api.types import is_string_dtype

    from mapper.registers import ID_COLUMN

    frame = imported(register)
    return frame is not None and is_string_dtype(frame[ID_COLUMN[register]])


def _placed(record) -> tuple | None:
    """What the nearest index holds of an edited record (None: nothing)."""
    from mapper.analysis._tables import closed_status

    if record is None or record.retired or closed_status(record.data.get("status")):
        return None
    d = record.data
    return _place(d.get("x"), d.get("y"), d.get("category"), d.get("emergency_offer"))


def _place(x, y, category, offer) -> tuple:
    import pandas as pd

    return tuple(None if v is None or pd.isna(v) else v for v in (x, y, category, offer))


def _imported_place(record_id: str) -> tuple | None:
    """What the index held of a group never edited before: its imported row's."""
    groups = imported("groups")
    rows = groups[groups["group_id"] == record_id]
    if not len(rows):
        return None
    row = rows.iloc[0]
    point = row.geometry
    located = point is not None and not point.is_empty
    return _place(point.x if located else None, point.y if located else None,
                  row.get("category"), row.get("emergency_offer"))


def _patch_index(index, changed: list[str], before: dict, now: dict):
    if not text_ids("groups"):
        return None
    moved = [i for i in changed if _placed(now[i]) != (
        _placed(before[i]) if i in before else _imported_place(i))]
    if not moved:
        return index  # a name, contact or description changed: the index is as it was
    index = index.copy()
    unlocated = set(index.unlocated) - set(moved)
    for record_id in moved:
        if record_id in index:
            index.delete(record_id)
        placed = _placed(now[record_id])
        if placed is None:
            continue
        x, y, category, offer = placed
        if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
            unlocated.add(record_id)
            continue
        index.insert(record_id, x, y, category=category, capabilities=offer or ())
    index.unlocated = tuple(sorted(unlocated, key=str))
    return index


def memoised(kind: str):
    """Decorator: cache a function of the workspace (no other arguments) per version."""

    def wrap(func: Callable[[Workspace], object]):
        @wraps(func)
        def inner():
            return cached(kind, func)

        return inner

    return wrap


#: on PostgreSQL, an incident layer of more rows than this is not held whole by the web
#: app: figures count the database's summary of it, and lists read what is in view
IN_VIEW_SQL_ROWS = 200_000


def large_in_database(name: str) -> bool:
    """Whether layer `name` is on PostgreSQL with more than :data:`IN_VIEW_SQL_ROWS` rows
    (counted once per store version)."""
    workspace = open_workspace()
    if workspace.url is None or not workspace.has_layer(name):
        return False
    return cached(f"rows:{name}", lambda ws: ws.row_count(name)) > IN_VIEW_SQL_ROWS


def has_incidents() -> bool:
    """Whether the workspace has an incidents layer (nothing read)."""
    return cached("has:incidents", lambda ws: ws.has_layer("incidents"))


def counted_incidents():
    """The incidents as the figures count them (None without): the register with its
    edits, or, on PostgreSQL with a layer too large to hold (:func:`large_in_database`),
    the database's summary of it (one row per source file, type, month, ward and
    district, ``n_records`` counting it; :func:`mapper.analysis_run.summarised_incidents`),
    which every count of :mod:`mapper.analysis.incidents` weighs by."""
    if not large_in_database("incidents"):
        return layer("incidents", required=False)
    from mapper.analysis_run import summarised_incidents

    return with_overlay("summary:incidents", "incidents",
                        lambda: summarised_incidents(open_workspace()), lambda *_: None)


def ward_incidents(chosen) -> pd.DataFrame:
    """Every ward's incidents and rate per 1,000 residents for `chosen` (an
    :class:`mapper.analysis.incidents.IncidentFilter`), indexed by ``ward_code``: made
    once per workspace version and filter (:func:`cached`), by the analysis layer."""
    from mapper.analysis.incidents import filtered_ward_incidents

    def build(_workspace):
        wards = layer("ward_summary")
        return filtered_ward_incidents(counted_incidents(),
                                       wards[["ward_code", "population"]], chosen)

    return cached("ward-incidents", build, variant=(chosen.start, chosen.end, chosen.kind))


def incident_types() -> list[str]:
    """The incident types of the incidents register (as stored), sorted ([] without)."""

    def build(_workspace):
        incidents = counted_incidents()
        if incidents is None or len(incidents) == 0:
            return []
        return sorted(incidents["type"].dropna().astype(str).unique())

    return cached("incident-types", build)


def incident_months() -> list[str]:
    """The months of the incidents register, oldest first ([] without incidents)."""

    def build(_workspace):
        incidents = counted_incidents()
        if incidents is None or len(incidents) == 0:
            return []
        return sorted(incidents["month"].dropna().astype(str).unique())

    return cached("incident-months", build)


def incident_filter_args(args) -> tuple[str, str, str, list[str]]:
    """A query's incident filter (``incidents_from``, ``incidents_to``,
    ``incident_type``: :data:`mapper.analysis.incidents.FILTER_PARAMETERS`), checked by
    the one rule (:func:`mapper.analysis.incidents.check_incident_filter`): (first month,
    last month, the type as stored, problems). Pages answer 400 with the problems."""
    from mapper.analysis.incidents import FILTER_PARAMETERS, check_incident_filter

    start_name, end_name, type_name = FILTER_PARAMETERS
    kinds = [v for v in args.getlist(type_name) if v.strip()] \
        if hasattr(args, "getlist") else [args.get(type_name, "") or ""]
    start, end, found, problems = check_incident_filter(
        args.get(start_name), args.get(end_name), kinds, incident_types())
    if len(found) > 1:
        problems.append(f"{type_name}: give one incident type (the map pages count one type "
                        "or all of them)")
    return start, end, found[0] if found else "", problems


def filtered_ward_summary(chosen) -> pd.DataFrame:
    """``ward_summary`` with every incident figure for `chosen` (an
    :class:`mapper.analysis.incidents.IncidentFilter`):
    :func:`mapper.analysis.incidents.filtered_summary`, made once per workspace version
    and filter."""
    from mapper.analysis.incidents import filtered_summary

    def build(_workspace):
        return filtered_summary(layer("ward_summary"), counted_incidents(), chosen)

    return cached("filtered-ward-summary", build,
                  variant=(chosen.start, chosen.end, chosen.kind))


def analysis_incident_window() -> tuple[str, str]:
    """The stored analysis's incident window: the last ``incident_months`` months of the
    data (every month when 0); ("", "") without incidents."""
    from mapper.config import Settings

    months = incident_months()
    if not months:
        return "", ""
    end = months[-1]
    span = Settings.from_json(meta().get("analysis_settings")).incident_months
    if not span:
        return months[0], end
    start = (pd.Period(end, "M") - (span - 1)).strftime("%Y-%m")
    return max(start, months[0]), end


def chosen_incident_filter(args):
    """The incident filter a page's query asks for (:func:`incident_filter_args`; 400
    naming every problem), an open side being the analysis's window
    (:func:`analysis_incident_window`): an
    :class:`mapper.analysis.incidents.IncidentFilter`, or None when the query sets none
    or there are no incidents (the figures are then the analysis's)."""
    from mapper.analysis.incidents import IncidentFilter

    start, end, kind, problems = incident_filter_args(args)
    if problems:
        abort(400, description="This page cannot be shown: " + "; ".join(problems) + ".")
    if not (start or end or kind) or not has_incidents():
        return None
    return IncidentFilter(*filled_window(start, end), kind)


def filled_window(start: str, end: str) -> tuple[str, str]:
    """The months a filter counts: an open side is the analysis's window's
    (:func:`analysis_incident_window`), and never crosses the side given (from a month
    after the data: that month alone)."""
    first, last = analysis_incident_window()
    start = start or (min(first, end) if end and first else first)
    end = end or (max(last, start) if start and last else last)
    return start, end
