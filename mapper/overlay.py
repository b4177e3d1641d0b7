"""The point registers as people see them: the imported layers with the web app's edits
laid over them.

The store (:mod:`mapper.store`) reads the GeoPackage as imported and knows nothing of
edits; the edits live in the app database (:mod:`mapper.appdb`, the ``records`` table).
This module, a layer above both, puts them together: :func:`read_layer` is how anything
above the store reads a layer that people may have edited (groups, premises, incidents),
so maps, the nearest-groups index, exports and the next analysis all see an edit at once,
and a re-import of a source file does not lose it. Writing edits is :mod:`mapper.editing`.

    from mapper import overlay
    groups = overlay.read_layer(workspace, "groups")       # as people see them now
    imported = workspace.read_layer("groups")               # as imported
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from mapper import registers
from mapper.appdb import StoredRecord
from mapper.areas import AREA_LAYERS, assign_areas
from mapper.geo import CRS_ANALYSIS

__all__ = ["EDITED_LAYERS", "apply_edits", "read_layer"]

#: the point registers people edit in the web app: read with those edits laid over them
EDITED_LAYERS = ("groups", "premises", "incidents")


def read_layer(workspace, name: str, *, include_retired: bool = False,
               **kwargs) -> gpd.GeoDataFrame | pd.DataFrame:
    """Read one layer of `workspace` (a :class:`mapper.store.Workspace`) as the app
    shows it; geometry layers come back in EPSG:27700.

    The point registers (:data:`EDITED_LAYERS`) come back with the edits made in the web
    app applied and a ``version`` column for optimistic concurrency; retired records are
    left out unless `include_retired` (then a ``retired`` column says which). Edited
    records get their area codes from today's boundaries. Any other layer is read as
    stored. `kwargs` go to :meth:`mapper.store.Workspace.read_layer`.
    """
    frame = workspace.read_layer(name, **kwargs)
    if name not in EDITED_LAYERS:
        return frame
    records = workspace.appdb.records(name)
    frame = apply_edits(frame, name, records, include_retired=include_retired)
    if records:
        frame = _current_areas(workspace, frame, name, {r.record_id for r in records})
    return frame


def apply_edits(frame: gpd.GeoDataFrame, register: str, edits: list[StoredRecord], *,
                include_retired: bool = False) -> gpd.GeoDataFrame:
    """The imported register with the edited records laid over it.

    Adds ``version`` (1 for records as imported) and, with `include_retired`, ``retired``.
    """
    id_col = registers.ID_COLUMN[register]
    out = frame.copy()
    out["version"] = 1
    if include_retired:
        out["retired"] = False
    if not edits:
        return out
    edited = {e.record_id for e in edits}
    out = out[~out[id_col].astype(str).isin(edited)]
    for col in registers.columns(register):  # a layer written before a column existed
        if col not in out.columns:
            out[col] = pd.Series(None, index=out.index, dtype="object")
    rows = [e for e in edits if include_retired or not e.retired]
    if not rows:
        return out.reset_index(drop=True)
    data = pd.DataFrame([{c: e.data.get(c) for c in registers.columns(register)}
                         for e in rows])
    data["version"] = [e.version for e in rows]
    if include_retired:
        data["retired"] = [e.retired for e in rows]
    geometry = gpd.points_from_xy([e.data.get("x") for e in rows],
                                  [e.data.get("y") for e in rows], crs=CRS_ANALYSIS)
    added = gpd.GeoDataFrame(data, geometry=geometry, crs=CRS_ANALYSIS)
    for col in added.columns:
        if col in out.columns and col != "geometry" and out[col].dtype != added[col].dtype:
            added[col] = added[col].astype(object)
            out[col] = out[col].astype(object)
    merged = pd.concat([out, added[out.columns]], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=CRS_ANALYSIS)


def _current_areas(workspace, frame: gpd.GeoDataFrame, register: str, edited: set[str]):
    """Edited records with their area codes found in today's boundaries (the codes
    stored with an edit are those of the boundaries at the time of the edit)."""
    rows = frame[registers.ID_COLUMN[register]].astype(str).isin(edited).to_numpy()
    layers = {layer: workspace.read_layer(layer)
              for layer, _ in AREA_LAYERS.values() if workspace.has_layer(layer)}
    if not rows.any() or not layers:
        return frame
    placed = assign_areas(frame[rows], layers)
    for column in AREA_LAYERS:
        if column in placed:
            frame[column] = frame[column].astype(object)
            frame.loc[rows, column] = placed[column].to_numpy()
    return frame
