"""Register records as the web app shows them: the shared helpers of the register
pages (:mod:`mapper.web.editor`), the JSON editing API (:mod:`mapper.web.edit_api`) and
the re-checking lists (:mod:`mapper.web.recheck`). Not a blueprint.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from flask import abort

from mapper import editing
from mapper.errors import MapperError
from mapper.geo import CRS_ANALYSIS, points_from_xy, to_display
from mapper.web.auth import current_user

#: (one, many) of each register, for headings and buttons
NOUNS = {"groups": ("group", "groups"), "premises": ("premises", "premises"),
         "incidents": ("incident", "incidents")}


def shown(value) -> str:
    """A stored value as a form shows it."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float | np.floating) and np.isnan(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def lonlat(x, y) -> tuple[float, float] | None:
    """WGS84 (lon, lat) of an EPSG:27700 point, rounded to 6 decimals (None if unplaced)."""
    if x is None or y is None:
        return None
    point = to_display(points_from_xy([float(x)], [float(y)], crs=CRS_ANALYSIS)).iloc[0]
    return round(float(point.x), 6), round(float(point.y), 6)


def version_data(workspace, register: str, record_id: str, version: int) -> dict | None:
    """The values of one earlier version of a record (None when not kept)."""
    rows = workspace.appdb.query(
        "SELECT data FROM record_history WHERE register = ? AND record_id = ? AND version = ?",
        (register, record_id, int(version)))
    return json.loads(rows[0]["data"]) if rows else None


def actor() -> str:
    """Who the audit trail names for a change made in this request."""
    return current_user().username


def find(workspace, register: str, record_id: str) -> tuple[dict, int, bool]:
    """(record, version, retired) or 404 (400 for an id no record could have)."""
    try:
        found = editing.current_record(workspace, register, record_id)
    except MapperError as error:
        abort(400, description=str(error))
    if found is None:
        abort(404, description=f"There is no {NOUNS[register][0]} with the id {record_id!r} in "
              f"the {register} register.")
    return found
