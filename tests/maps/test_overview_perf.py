"""The overview page made light and quick: the map cached per workspace version (the CSP
nonce still fresh on every response), simplified ward shapes with 5 decimals as compact
JSON, the VCS groups as a layer fetched on demand (public fields only), gzip for clients
that accept it, the workspace version looked up once per request, and ``mapper serve``
on waitress."""

from __future__ import annotations

import gzip
import json
import re
import signal
import socket
import subprocess
import sys
import zlib
from http.client import HTTPConnection

import geopandas as gpd
import pytest
import shapely
from conftest import grid_boroughs, grid_wards, write_workspace

from mapper import overlay
from mapper.editing import current_record, retire_record
from mapper.geo import to_display
from mapper.maps import map_parts, ward_map
from mapper.maps.base import OVERVIEW_DECIMALS
from mapper.store import Workspace
from mapper.web import create_app, data
from mapper.web.responses import Deflated, deflated, gzip_joined

NONCE = re.compile(r"nonce-([A-Za-z0-9_-]+)")
GROUPS_URL = re.compile(r'"(/overview/groups\.json\?v=[0-9a-f]+)"')


def _client(workspace):
    return create_app({"TESTING": True, "WORKSPACE": str(workspace)}).test_client()


def _without_nonce(response) -> str:
    nonce = NONCE.search(response.headers["Content-Security-Policy"]).group(1)
    return response.get_data(as_text=True).replace(nonce, "NONCE")


# -- gzip of pieces, some deflated once ------------------------------------------------


@pytest.mark.parametrize("pieces", [
    [b"<html>", b"the map " * 5000, b"</html>"],
    [b"", b"x", b""],
    [b"only one piece"],
    [],
])
def test_gzip_joined_is_one_valid_stream_of_every_piece(pieces):
    for ready in (False, True):
        parts = [deflated(p) if ready and i % 2 else p for i, p in enumerate(pieces)]
        body = gzip_joined(parts)
        assert gzip.decompress(body) == b"".join(pieces)
        # a strict reader: one member, checksum and length checked, nothing left over
        reader = zlib.decompressobj(16 + zlib.MAX_WBITS)
        assert reader.decompress(body) == b"".join(pieces) and reader.eof
        assert reader.unused_data == b""


def test_a_deflated_piece_is_reused_as_it_is():
    piece = deflated(b"abc" * 1000)
    assert isinstance(piece, Deflated)
    assert piece.stream in gzip_joined([b"head", piece, b"tail"])


# -- the map ---------------------------------------------------------------------------


def test_overview_shapes_are_simplified_rounded_and_share_their_edges(tmp_path):
    wards = grid_wards()
    # a wiggly shared edge: 200 vertices 1 m off a straight line, between wards 1 and 2
    x0, y0 = 531_000.0, 180_000.0
    wiggle = [(x0 + (i % 2), y0 + 5.0 * i) for i in range(201)]
    left = shapely.Polygon([(x0 - 1000, y0), *wiggle, (x0 - 1000, y0 + 1000)])
    right = shapely.Polygon([(x0 + 1000, y0), (x0 + 1000, y0 + 1000), *reversed(wiggle)])
    wards.loc[0, "geometry"], wards.loc[1, "geometry"] = left, right
    parts = map_parts(ward_map(wards, grid_boroughs(wards), json_strings=True))
    blobs = re.findall(r'_add\(JSON\.parse\(("(?:[^"\\]|\\.)*")\)\);', parts.script)
    ward_layer, borough_layer = (json.loads(json.loads(b)) for b in blobs)
    shapes = {f["properties"]["ward_code"]: shapely.geometry.shape(f["geometry"])
              for f in ward_layer["features"]}
    assert len(shapes) == 9 and len(borough_layer["features"]) == 3
    for shape in shapes.values():
        for x, y in shape.exterior.coords:
            assert round(x, OVERVIEW_DECIMALS) == x and round(y, OVERVIEW_DECIMALS) == y
    # the wiggle (under the tolerance) is gone; the two wards still share the whole
    # 1 km edge, vertex for vertex: no gap (and no overlap) between them
    left, right = shapes["E05900001"], shapes["E05900002"]
    assert len(left.exterior.coords) < 12
    shared = left.intersection(right)
    top = to_display(gpd.GeoSeries(shapely.points([(x0, y0), (x0, y0 + 1000)]),
                                   crs="EPSG:27700"))
    assert shared.length == pytest.approx(top.iloc[0].distance(top.iloc[1]), rel=1e-3)
    assert shared.area == 0
    assert left.union(right).area == pytest.approx(left.area + right.area)
    # compact JSON with one fixed style: no spaces after separators, no per-ward table
    text = json.loads(blobs[0])
    assert ", " not in text and '": ' not in text
    assert 'case "0"' not in parts.script


# -- the page: cached, nonce per response, compressed -------------------------------------


def test_the_map_is_built_once_per_version_and_the_nonce_is_fresh(tiny_workspace,
                                                                   monkeypatch):
    import mapper.web.overview as overview

    built = []
    real = overview.ward_map
    monkeypatch.setattr(overview, "ward_map", lambda *a, **k: built.append(1) or real(*a, **k))
    client = _client(tiny_workspace)
    first, second = client.get("/"), client.get("/")
    assert first.status_code == second.status_code == 200
    assert len(built) == 1
    nonces = [NONCE.search(r.headers["Content-Security-Policy"]).group(1)
              for r in (first, second)]
    assert nonces[0] != nonces[1]
    for response, nonce in zip((first, second), nonces, strict=True):
        tags = re.findall(r"<script\b[^>]*>", response.get_data(as_text=True))
        assert len(tags) >= 3 and all(f'nonce="{nonce}"' in tag for tag in tags), tags
    assert _without_nonce(first) == _without_nonce(second)


def test_gzip_only_when_accepted_and_never_with_a_query(tiny_workspace):
    client = _client(tiny_workspace)
    plain = client.get("/")
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    packed = client.get("/", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    nonce = NONCE.search(packed.headers["Content-Security-Policy"]).group(1)
    text = gzip.decompress(packed.get_data()).decode().replace(nonce, "NONCE")
    assert text == _without_nonce(plain)
    assert int(packed.headers["Content-Length"]) == len(packed.get_data())
    # input echoed next to the CSRF token is never compressed (BREACH)
    echoed = client.get("/?q=guess", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in echoed.headers and echoed.status_code == 200
    refused = client.get("/", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers


def test_edits_show_at_once_and_change_the_groups_url(demo_copy):
    client = _client(demo_copy)
    page = client.get("/").get_data(as_text=True)
    url = GROUPS_URL.search(page).group(1)
    before = client.get(url).get_json()
    workspace = Workspace(demo_copy)
    groups = overlay.read_layer(workspace, "groups")
    shown = groups[groups["duplicate_of"].isna() | (groups["duplicate_of"] == "")]
    group_id = shown["group_id"].iloc[0]
    _record, version, _retired = current_record(workspace, "groups", group_id)
    retire_record(workspace, "groups", group_id, version, actor="tests")

    page = client.get("/").get_data(as_text=True)
    new_url = GROUPS_URL.search(page).group(1)
    assert new_url != url
    after = client.get(new_url).get_json()
    assert after["count"] == before["count"] - 1
    assert f"VCS groups ({after['count']:,})" in page


def test_groups_layer_has_public_fields_only_and_a_version_etag(demo_copy):
    client = _client(demo_copy)
    page = client.get("/").get_data(as_text=True)
    url = GROUPS_URL.search(page).group(1)
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    groups = overlay.read_layer(Workspace(demo_copy), "groups")
    assert doc["count"] == len(doc["rows"]) > 0
    for lat, lon, name, category in doc["rows"]:
        assert 51 < lat < 52 and -1 < lon < 1
        assert round(lat, OVERVIEW_DECIMALS) == lat and round(lon, OVERVIEW_DECIMALS) == lon
        assert isinstance(name, str) and isinstance(category, str)
    text = response.get_data(as_text=True)
    for column in ("phone", "email", "contact_name"):
        values = groups[column].dropna().astype(str)
        assert not any(v and v in text for v in values), column
    assert "@" not in text
    assert response.headers["Cache-Control"].startswith("public, max-age=")
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(packed.get_data())) == doc
    assert packed.headers["ETag"] != response.headers["ETag"]
    stale = client.get("/overview/groups.json?v=old")
    assert stale.status_code == 200 and stale.headers["Cache-Control"] == "no-cache"


def test_no_groups_layer_means_no_groups_on_the_map(tiny_workspace):
    client = _client(tiny_workspace)
    page = client.get("/").get_data(as_text=True)
    assert "VCS groups" not in page and "markercluster" not in page
    assert client.get("/overview/groups.json").status_code == 404


def test_overview_works_without_any_wards_layer_as_a_404(tmp_path):
    from conftest import grid_boroughs as boroughs

    with Workspace(tmp_path / "ws").transaction() as tx:
        tx.write_layer("boroughs", boroughs())
    response = _client(tmp_path / "ws").get("/")
    assert response.status_code == 404
    assert "no &#39;wards&#39; layer" in response.get_data(as_text=True)


# -- the workspace version, once per request --------------------------------------------


def test_the_version_is_looked_up_once_per_request(demo_copy, monkeypatch):
    calls = []
    real = data._version
    monkeypatch.setattr(data, "_version", lambda ws: calls.append(1) or real(ws))
    client = _client(demo_copy)
    for path in ("/api/nearest?lat=51.5&lon=-0.1&k=3", "/", "/api/wards"):
        calls.clear()
        assert client.get(path).status_code == 200, path
        assert len(calls) == 1, (path, len(calls))


def test_requests_sharing_an_app_context_each_see_the_latest_version(tiny_workspace):
    app = create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace)})
    with app.app_context():
        client = app.test_client()
        first = client.get("/")
        write_workspace(tiny_workspace, study_area="Renamed (synthetic)")
        second = client.get("/")
    assert ">Renamed (synthetic)</h1>" in second.get_data(as_text=True)
    assert ">Renamed (synthetic)</h1>" not in first.get_data(as_text=True)


# -- mapper serve on waitress ------------------------------------------------------------


@pytest.mark.slow
def test_serve_runs_on_waitress_keeps_connections_and_stops_on_ctrl_c(tiny_workspace):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mapper.cli", "--workspace", str(tiny_workspace), "serve",
         "--port", str(port), "--threads", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"at http://127.0.0.1:{port}/ (2 threads; Ctrl+C to stop)" in line, line
        conn = HTTPConnection("127.0.0.1", port, timeout=30)
        for path in ("/health", "/", "/health"):  # one connection, kept alive
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200, (path, body[:200])
            assert response.getheader("Server") == "neighbourhood-mapper"
            assert response.getheader("Connection", "").lower() != "close"
        conn.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
