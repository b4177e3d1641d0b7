"""Workspace data for views, read once per version of the workspace file.

Every view reads layers through :func:`layer` (and the nearest-groups index through
:func:`nearest_index`): they are cached by the workspace file's path, modification time
and size and the app database's edits counter, so a rebuilt or re-analysed workspace,
or an edit, is picked up on the next request while repeated requests cost nothing.
Cached frames are shared: views must not modify them (copy first).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps

from flask import abort

from mapper.store import Workspace
from mapper.web import open_workspace

_lock = threading.Lock()
_cache: dict[tuple, object] = {}
_MAX_ENTRIES = 64


def _version(workspace: Workspace) -> tuple:
    """The GeoPackage's identity and the edits counter: edits made in the web app show
    (and reach the nearest-groups index) on the next request."""
    stat = workspace.path.stat()
    return (str(workspace.path.resolve()), stat.st_mtime_ns, stat.st_size,
            workspace.appdb.edits_version())


def cached(kind: str, build: Callable[[Workspace], object]) -> object:
    """`build(workspace)`, computed once per workspace version and `kind`."""
    workspace = open_workspace()
    key = (*_version(workspace), kind)
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
