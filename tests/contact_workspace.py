"""The hand-built contact-list workspace, shared by the contact-list tests and the browser's:
the tiny 3x3 grid (conftest.write_workspace) with eight groups placed at known distances
from the middle of ward 5 (postcode ZZ9 9ZZ), one neighbourhood, and every contact field.

The fixture ``ws_dir`` is this module's ``__all__``: take it with one star import
(``from contact_workspace import *  # noqa: F403``), the rest by name."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from conftest import grid_wards, write_workspace
from shapely.geometry import Point, box

from mapper import registers
from mapper.geo import CRS_ANALYSIS
from mapper.store import Workspace

__all__ = ["ws_dir"]

CENTRE = (531_500.0, 181_500.0)
POSTCODE = "ZZ9 9ZZ"

#: id, name, ward, x, y, status, role, consent, confirmed, contact name, phone, email,
#: website, address
GROUPS = [
    ("g1", "Alpha Food Bank", "E05900005", 532_000.0, 181_500.0, "open",
     "tension-monitoring contact; emergency contact", "yes", "2026-10-01",
     "Ann Smith, treasurer; lead", "020 7946 0001", "alpha@example.org",
     "https://alpha.example.org/a-very-long-path/that-makes-the-line-longer-than-75-octets",
     "Unit 1, Mill Yard; Back Lane\nSouthside"),
    # 500.01 m from the centre: just outside a 500 m list
    ("g2", "Beta Youth", "E05900006", 532_000.01, 181_500.0, "open", "general contact",
     "no", None, None, "020 7946 0002", None, None, None),
    # 300 m east and 400 m north: exactly 500 m
    ("g3", "Gamma Mosque", "E05900005", 531_800.0, 181_900.0, "unknown", "general contact",
     "no", None, None, None, "gamma@example.org", None, "3 Mosque Road"),
    ("g4", "Delta Closed Centre", "E05900005", 531_500.0, 181_600.0, "closed",
     "emergency contact", "yes", "2026-01-01", None, "020 7946 0004", None, None, None),
    ("g5", "epsilon Residents", "E05900005", 531_400.0, 181_500.0, "temporarily closed",
     None, None, None, None, None, None, None, None),
    ("g6", "Zeta Advice", "E05900001", 530_500.0, 180_500.0, "open", "emergency contact",
     "yes", "2025-01-02", None, "+44 20 7946 0006", None, None, None),
    ("g7", "@SUM(1+1) Church", "E05900003", 532_500.0, 180_500.0, "open", None, "no", None,
     "=HYPERLINK(\"http://x\")", None, None, None, None),
    ("g8", "Theta Club", "E05900009", 532_500.0, 182_500.0, "open",
     "tension-monitoring contact", "yes", "2026-11-30", None, "020 7946 0008", None, None,
     None),
]
PHONES = [g[10] for g in GROUPS if g[10]]
EMAILS = [g[11] for g in GROUPS if g[11]]


def groups_frame() -> gpd.GeoDataFrame:
    wards = grid_wards().set_index("ward_code")
    rows = []
    for (gid, name, ward, _x, _y, status, role, consent, confirmed, person, phone, email,
         website, address) in GROUPS:
        rows.append({"group_id": gid, "name": name, "category": "other", "status": status,
                     "contact_role": role, "emergency_consent": consent,
                     "consent_confirmed": confirmed, "contact_name": person, "phone": phone,
                     "email": email, "website": website, "address": address,
                     "postcode": "ZZ1 1ZZ" if gid == "g1" else None,
                     "last_verified": "2026-06-01", "ward_code": ward,
                     "borough_code": wards.loc[ward, "borough_code"], "source": "tests",
                     "source_file": "groups.csv"})
    frame = pd.DataFrame(rows)
    return registers.conform(frame, "groups", [Point(g[3], g[4]) for g in GROUPS])


@pytest.fixture
def ws_dir(tmp_path):
    directory = write_workspace(tmp_path / "ws")
    postcodes = gpd.GeoDataFrame({"postcode": [POSTCODE], "ward_code": ["E05900005"]},
                                 geometry=[Point(*CENTRE)], crs=CRS_ANALYSIS)
    cans = gpd.GeoDataFrame(
        {"can_id": ["CAN-01"], "name": ["Middle and North East"], "rank": [1],
         "ward_codes": ["E05900005; E05900009"]},
        geometry=[box(531_000, 181_000, 533_000, 183_000)], crs=CRS_ANALYSIS)
    with Workspace(directory).transaction() as tx:
        tx.write_layer("groups", groups_frame())
        tx.write_layer("postcodes", postcodes)
        tx.write_layer("neighbourhoods", cans)
    return directory
