"""Shared by the tests that edit the registers of the synthetic demo (the editing pages
and API, the browser editor, the record status checks): helpers that work out expected
answers independently of the app, and the fixtures of the editing tests.

The fixtures (on a private copy of the session's demo, conftest.py ``demo_copy``) are this
module's ``__all__``; a test module takes them all with one star import, so that pytest
finds them and no test function's argument shadows an imported name::

    from demo_editing import *  # noqa: F403 - the fixtures (demo_editing.__all__)
    from demo_editing import POSTCODE, ward_at  # helpers, by name

``demo_dir``
    the shared, read-only demo (conftest.py ``shared_demo``).
``ws_dir`` / ``ws``
    a copy of the demo for one test (tests change it), and its Workspace.
``app`` / ``officer``
    the app on that copy, and a client signed in as the officer "olive".
``wards``
    the demo's wards layer (read once per module).
"""

from __future__ import annotations

from datetime import date

import pytest
from accounts import csrf_token, sign_in
from pyproj import Transformer
from shapely.geometry import Point

from mapper.store import Workspace
from mapper.web import create_app

__all__ = ["app", "demo_dir", "officer", "wards", "ws", "ws_dir"]

TODAY = date.today().isoformat()
_to_lonlat = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
_to_grid = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
#: a demo postcode and its ward, checked by hand in the demo's postcodes layer
POSTCODE, POSTCODE_WARD = "ZZ1 1AA", "E05990011"


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_dir(shared_demo):
    """The demo workspace (built once per run, in conftest.py); tests use copies."""
    return shared_demo


@pytest.fixture
def ws_dir(demo_copy):
    """A copy of the demo for one test (tests change it)."""
    return demo_copy


@pytest.fixture
def ws(ws_dir):
    return Workspace(ws_dir)


@pytest.fixture
def app(ws_dir):
    return create_app({"TESTING": True, "WORKSPACE": str(ws_dir)})


@pytest.fixture
def officer(app):
    return sign_in(app.test_client(), "officer", username="olive")


@pytest.fixture(scope="module")
def wards(demo_dir):
    return Workspace(demo_dir).read_layer("wards")


# -- helpers ----------------------------------------------------------------------------


def headers(client, version: int | None = None, **more) -> dict:
    """Request headers for a change through the API: the CSRF token, and If-Match."""
    out = {"X-CSRF-Token": csrf_token(client)} | more
    if version is not None:
        out["If-Match"] = f'"v{version}"'
    return out


def ward_at(wards, x: float, y: float) -> str:
    """The ward containing a point, by a plain point-in-polygon test."""
    inside = wards[wards.contains(Point(x, y))]
    assert len(inside) == 1, (x, y, list(inside["ward_code"]))
    return str(inside["ward_code"].iloc[0])


def ward_point(wards, code: str) -> tuple[float, float, float, float]:
    """(x, y, lat, lon) of a point well inside one ward."""
    point = wards.loc[wards["ward_code"] == code].geometry.iloc[0].representative_point()
    lon, lat = _to_lonlat.transform(point.x, point.y)
    return point.x, point.y, lat, lon


def nearest_ids(client, **params) -> list[tuple[str, int]]:
    """(group id, distance) of the nearest groups, as /api/nearest answers."""
    body = client.get("/api/nearest", query_string=params).get_json()
    return [(f["id"], f["properties"]["distance_m"]) for f in body["features"]]


def audit_rows(ws) -> list[dict]:
    """The workspace's audit trail of record changes, oldest first."""
    return [dict(r) for r in ws.appdb.query(
        "SELECT * FROM audit WHERE action NOT IN ('user', 'analysis') ORDER BY id")]
