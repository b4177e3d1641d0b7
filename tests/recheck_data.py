"""A hand-built workspace for the "due for re-checking" tests (test_recheck*.py).

The 3x3 grid of conftest.py, one Community Action Neighbourhood (CAN-01: wards
E05900001 and E05900002), and groups and premises whose ``last_verified`` dates are
chosen around the 12-month boundary as seen on :data:`TODAY` (14 Sep 2026):

=============  =========  ===========  ==================  ============================
id             ward       last checked status              due on 14 Sep 2026?
=============  =========  ===========  ==================  ============================
g-never        E05900001  (none)       open                yes: never checked
g-boundary     E05900001  2025-09-14   open                no: exactly 12 months
g-dayafter     E05900002  2025-09-13   open                yes: 12 months and a day
g-old          E05900002  2025-07-03   open                yes: 14 months
g-closed       E05900001  (none)       closed              no: closed
g-temp         E05900001  2024-01-01   temporarily closed  yes: 32 months (in service)
g-out          E05900005  2020-05-01   open                yes: outside any CAN
g-fresh        E05900005  2026-09-01   open                no: 13 days
p-never        E05900002  (none)       open                yes: never checked
p-leap         E05900009  2024-02-29   (none)              yes: 30 months
p-closed       E05900009  (none)       closed              no: closed
=============  =========  ===========  ==================  ============================
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
from conftest import GRID_CELL_M, GRID_ORIGIN, grid_wards, write_workspace
from shapely.geometry import Point

from mapper.registers import REGISTER_COLUMNS
from mapper.store import Provenance, Workspace

TODAY = date(2026, 9, 14)
CAN_ID, CAN_NAME = "CAN-01", "Southfield Riverside"
CAN_WARDS = ("E05900001", "E05900002")

GROUPS = [
    # id, name, ward, last_verified, status, phone, email
    ("g-never", "Ash Lane Food Bank", 1, None, "open", "020 7946 0101", "ash@example.org"),
    ("g-boundary", "Boundary Youth Club", 1, "2025-09-14", "open", None, None),
    ("g-dayafter", "Dayafter Lunch Club", 2, "2025-09-13", "open", None, None),
    ("g-old", "Oak Tree Mutual Aid", 2, "2025-07-03", "open", "020 7946 0202", None),
    ("g-closed", "Closed Corner Pantry", 1, None, "closed", None, None),
    ("g-temp", "Temple Warm Space", 1, "2024-01-01", "temporarily closed", None, None),
    ("g-out", "Outer Ring Befrienders", 5, "2020-05-01", "open", "020 7946 0303",
     "out@example.org"),
    ("g-fresh", "Fresh Start Group", 5, "2026-09-01", "open", None, None),
]
PREMISES = [
    # id, name, ward, last_verified, status
    ("p-never", "Birch Hall", 2, None, "open"),
    ("p-leap", "Leap Year Library", 9, "2024-02-29", None),
    ("p-closed", "Old Chapel", 9, None, "closed"),
]
#: the records due on TODAY in CAN-01, in the order the list shows them (never checked
#: first, by name; then oldest check first)
CAN_DUE = ["g-never", "p-never", "g-temp", "g-old", "g-dayafter"]


def centre(ward_number: int) -> Point:
    row, column = divmod(ward_number - 1, 3)
    x0, y0 = GRID_ORIGIN
    return Point(x0 + (column + 0.5) * GRID_CELL_M, y0 + (row + 0.5) * GRID_CELL_M)


def _register(name: str, rows: list[dict]) -> gpd.GeoDataFrame:
    columns = REGISTER_COLUMNS[name]
    frame = gpd.GeoDataFrame(
        [{**{c: None for c in columns}, **row} for row in rows], geometry="geometry",
        crs="EPSG:27700")
    return frame[[*columns, "ward_code", "borough_code", "source", "geometry"]]


def write_recheck_workspace(directory, *, in_no_ward: bool = False) -> Path:
    """The workspace above; `in_no_ward` adds g-nowhere, never checked, placed outside
    every ward (no ward_code)."""
    directory = write_workspace(directory)
    wards = grid_wards()
    borough_of = dict(zip(wards["ward_code"], wards["borough_code"], strict=True))
    groups = _register("groups", [
        {"group_id": gid, "name": name, "category": "food", "ward_code": f"E0590000{w}",
         "borough_code": borough_of[f"E0590000{w}"], "last_verified": checked,
         "status": status, "phone": phone, "email": email, "source": "hand-built",
         "geometry": centre(w)}
        for gid, name, w, checked, status, phone, email in GROUPS])
    if in_no_ward:
        nowhere = groups.iloc[[0]].copy()
        nowhere[["group_id", "name", "ward_code", "borough_code"]] = [
            "g-nowhere", "Nowhere Network", None, None]
        nowhere["geometry"] = [Point(GRID_ORIGIN[0] - 500, GRID_ORIGIN[1] - 500)]
        groups = gpd.GeoDataFrame(pd.concat([groups, nowhere], ignore_index=True),
                                  geometry="geometry", crs="EPSG:27700")
    premises = _register("premises", [
        {"premises_id": pid, "name": name, "type": "community centre",
         "ward_code": f"E0590000{w}", "borough_code": borough_of[f"E0590000{w}"],
         "last_verified": checked, "status": status, "source": "hand-built",
         "geometry": centre(w)}
        for pid, name, w, checked, status in PREMISES])
    summary = wards.assign(can_id=[CAN_ID if c in CAN_WARDS else None
                                   for c in wards["ward_code"]])
    can = wards[wards["ward_code"].isin(CAN_WARDS)].dissolve()
    neighbourhoods = gpd.GeoDataFrame(
        {"can_id": [CAN_ID], "name": [CAN_NAME], "rank": [1],
         "ward_codes": ["; ".join(CAN_WARDS)]}, geometry=[can.geometry.iloc[0]],
        crs="EPSG:27700")
    with Workspace(directory).transaction() as tx:
        for layer, frame in (("groups", groups), ("premises", premises),
                             ("ward_summary", summary), ("neighbourhoods", neighbourhoods)):
            tx.write_layer(layer, frame, Provenance(layer=layer, kind=layer,
                                                    source_file=f"hand-built {layer}",
                                                    rows_read=len(frame),
                                                    rows_imported=len(frame)))
    return directory
