"""Workspace data for views, read once per version of the workspace file.

Every view reads layers through :func:`layer` (and the nearest-groups index through
:func:`nearest_index`): they are cached by the workspace file's path, modification time
and size and the app database's edits counter, so a rebuilt or re-analysed workspace,
or an edit, is picked up on the next request while repeated requests cost nothing.
Cached frames are shared: views must not modify them (copy first).

The version is looked up once per request (kept in :data:`flask.g`), not on every
:func:`cached` call: a request sees one consistent version of the workspace. A view
that changes the workspace and then reads it again in the same request calls
:func:`forget_version` in between.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from functools import wraps

from flask import abort, current_app, g, has_request_context, request

from mapper.store import Workspace
from mapper.web import open_workspace

_lock = threading.Lock()
_cache: dict[tuple, object] = {}
_MAX_ENTRIES = 64
#: workspace directory -> the GeoPackage's resolved path and the app database (resolving
#: paths costs more than the rest of a version lookup)
_resolved: dict[str, tuple] = {}
#: workspace setting (as configured) -> its Workspace, once it has been opened
_workspaces: dict[str, Workspace] = {}


def _version(workspace: Workspace) -> tuple:
    """The GeoPackage's identity and the edits counter: edits made in the web app show
    (and reach the nearest-groups index) on the next request. OSError when the
    GeoPackage is gone."""
    directory = str(workspace.directory)
    known = _resolved.get(directory)
    if known is None:
        known = _resolved[directory] = (str(workspace.path.resolve()), workspace.appdb)
    path, appdb = known
    stat = workspace.path.stat()
    return (path, stat.st_mtime_ns, stat.st_size, appdb.edits_version())


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
    this = request._get_current_object()
    setting = current_app.config["WORKSPACE"]
    memo = g.get("_mapper_workspace_version")
    if memo is not None and memo[0] is this and memo[1] == setting:
        return memo[2], memo[3]
    workspace, version = _open(setting)
    g._mapper_workspace_version = (this, setting, workspace, version)
    return workspace, version


def forget_version() -> None:
    """Look the version up again on the next :func:`cached` call of this request (after
    a view changed the workspace or its edits)."""
    g.pop("_mapper_workspace_version", None)


def version_tag() -> str:
    """A short text naming the current version (for ETags and cache-busting URLs)."""
    _workspace, version = current()
    return hashlib.sha1(repr(version).encode()).hexdigest()[:16]


def cached(kind: str, build: Callable[[Workspace], object]) -> object:
    """`build(workspace)`, computed once per workspace version and `kind`."""
    workspace, version = current()
    key = (*version, kind)
    with _lock:
        if key in _cache:
            return _cache[key]
    value = build(workspace)
    with _lock:
        if len(_cache) >= _MAX_ENTRIES:
            _cache.clear()
        _cache[key] = value
    return value


def layer(name: str, *, required: bool = True):
    """A workspace layer (EPSG:27700), or None when absent and not `required` (else 404)."""

    def build(workspace: Workspace):
        if not workspace.has_layer(name):
            return None
        return workspace.read_layer(name)

    value = cached(f"layer:{name}", build)
    if value is None and required:
        workspace = open_workspace()
        present = ", ".join(workspace.layers()) or "none"
        abort(404, description=f"The workspace has no '{name}' layer (layers: {present}). "
              "Rebuild it with 'mapper build --from DIR' or 'mapper demo'.")
    return value


def meta() -> dict:
    return cached("meta", lambda ws: ws.meta())


def unavailable_measures() -> dict[str, str]:
    """Deprivation measures the analysis could not compute, and why (measure -> reason)."""
    return json.loads(meta().get("unavailable_measures") or "{}")


def provenance():
    return cached("provenance", lambda ws: ws.provenance())


def nearest_index():
    """The rtree index of the workspace's groups (see mapper.analysis.nearest)."""
    from mapper.analysis.nearest import NearestIndex

    def build(workspace: Workspace):
        groups = workspace.read_layer("groups") if workspace.has_layer("groups") else None
        return NearestIndex(groups) if groups is not None else NearestIndex()

    return cached("nearest_index", build)


def memoised(kind: str):
    """Decorator: cache a function of the workspace (no other arguments) per version."""

    def wrap(func: Callable[[Workspace], object]):
        @wraps(func)
        def inner():
            return cached(kind, func)

        return inner

    return wrap
