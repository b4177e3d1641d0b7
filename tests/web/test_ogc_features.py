"""OGC API Features (/ogc) on the analysed demo workspace, walked as a GIS client would:
landing page -> conformance -> collections -> items -> ``next`` links until exhausted;
bbox answers checked against a brute-force count; contacts only where /api shows them;
OWSLib's OGC API Features client (as QGIS and GDAL do) over a live server."""

from __future__ import annotations

import json
import re
import shutil
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import shapely
from accounts import sign_in
from expected import personal_keys

from mapper import overlay
from mapper.registers import PERSONAL_COLUMNS
from mapper.store import Workspace
from mapper.web import create_app
from mapper.web.features import CONFORMANCE, LIMIT_DEFAULT, LIMIT_MAX

COLLECTIONS = {"wards": "ward_summary", "neighbourhoods": "neighbourhoods",
               "groups": "groups", "premises": "premises", "incidents": "incidents"}
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON_CLASS = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
OAS30 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30"


@pytest.fixture(scope="module")
def demo_dir(shared_demo, tmp_path_factory):
    """A copy of the analysed demo (the tests add users to its app database)."""
    directory = tmp_path_factory.mktemp("ogc") / "demo"
    shutil.copytree(shared_demo, directory)
    return directory


@pytest.fixture(scope="module")
def app(demo_dir):
    return create_app({"TESTING": True, "WORKSPACE": str(demo_dir)})


@pytest.fixture
def client(app):
    return app.test_client()


def get(client, url: str, status: int = 200, **kwargs) -> dict:
    """GET `url` (absolute links are followed as paths), check status and parse."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    response = client.get(path, **kwargs)
    assert response.status_code == status, (url, response.get_data(as_text=True)[:400])
    assert response.mimetype in ("application/json", "application/geo+json"), response.mimetype
    return json.loads(response.get_data(as_text=True))


def link(body: dict, rel: str) -> str | None:
    found = [x["href"] for x in body["links"] if x["rel"] == rel]
    assert len(found) <= 1, (rel, found)
    return found[0] if found else None


def walk(client, url: str) -> tuple[list[dict], list[dict]]:
    """Every feature of an items URL, following ``next``; and every page's body."""
    features, pages = [], []
    while url:
        body = get(client, url)
        assert body["type"] == "FeatureCollection"
        assert body["numberReturned"] == len(body["features"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timeStamp"])
        assert link(body, "self") and link(body, "collection")
        features += body["features"]
        pages.append(body)
        url = link(body, "next")
    return features, pages


def test_a_client_walks_from_the_landing_page_to_every_feature(client, demo_dir):
    landing = get(client, "/ogc")
    assert get(client, "/ogc/") == landing  # with or without the slash
    assert landing["title"] and link(landing, "self").endswith("/ogc/")
    assert set(CONFORMANCE) == set(get(client, link(landing, "conformance"))["conformsTo"])
    assert {CORE, GEOJSON_CLASS, OAS30} <= set(CONFORMANCE)
    listed = get(client, link(landing, "data"))
    assert [c["id"] for c in listed["collections"]] == list(COLLECTIONS)
    workspace = Workspace(demo_dir)
    for described in listed["collections"]:
        name = described["id"]
        assert described["itemType"] == "feature" and described["title"]
        assert get(client, link(described, "self")) == described
        west, south, east, north = described["extent"]["spatial"]["bbox"][0]
        assert -1 < west < east < 1 and 50 < south < north < 53, described["extent"]
        items = link(described, "items")
        features, pages = walk(client, items + "?limit=7")
        expected = len(overlay.read_layer(workspace, COLLECTIONS[name]))
        assert pages[0]["numberMatched"] == expected > 0, name
        assert sum(p["numberReturned"] for p in pages) == expected, name
        assert len(pages) == -(-expected // 7), name
        assert all(p["numberMatched"] == expected for p in pages)
        ids = [f["id"] for f in features]
        assert len(set(ids)) == len(ids) == expected, name  # nothing twice, nothing left out
        assert link(pages[0], "prev") is None
        if len(pages) > 1:
            back = get(client, link(pages[1], "prev"))
            assert [f["id"] for f in back["features"]] == ids[:7]
        assert not personal_keys(features), name
        # one feature by its id is the same feature, with its own links
        one = get(client, f"{items}/{ids[-1]}")
        assert one["id"] == ids[-1] and one["properties"] == features[-1]["properties"]
        assert link(one, "collection") and link(one, "self").endswith(f"/items/{ids[-1]}")
    default = get(client, "/ogc/collections/incidents/items")
    assert default["numberReturned"] == min(LIMIT_DEFAULT, default["numberMatched"])


@pytest.mark.parametrize("name", ["groups", "premises", "incidents", "wards"])
def test_bbox_answers_what_a_brute_force_count_finds(client, demo_dir, name):
    frame = overlay.read_layer(Workspace(demo_dir), COLLECTIONS[name]).to_crs("EPSG:4326")
    west, south, east, north = frame.total_bounds
    # the middle of the area, a quarter of each side in from every edge
    box = (west + (east - west) / 4, south + (north - south) / 4,
           east - (east - west) / 4, north - (north - south) / 4)
    inside = shapely.intersects(frame.geometry.values, shapely.box(*box))
    id_column = {"groups": "group_id", "premises": "premises_id",
                 "incidents": "incident_id", "wards": "ward_code"}[name]
    expected = set(frame.loc[inside, id_column].astype(str))
    assert 0 < len(expected) < len(frame), name  # the box does choose
    url = (f"/ogc/collections/{name}/items?limit=5&bbox="
           + ",".join(f"{v:.6f}" for v in box))
    features, pages = walk(client, url)
    assert pages[0]["numberMatched"] == len(expected), name
    assert {str(f["id"]) for f in features} == expected, name
    # the parameters ride along the next links
    assert all(parse_qs(urlsplit(link(p, "self")).query)["bbox"] for p in pages)


def test_bbox_with_heights_is_its_2d_box(client):
    flat = get(client, "/ogc/collections/groups/items?bbox=-0.1,51.49,-0.03,51.52")
    tall = get(client, "/ogc/collections/groups/items?bbox=-0.1,51.49,0,-0.03,51.52,100")
    assert flat["numberMatched"] == tall["numberMatched"] > 0


@pytest.mark.parametrize("bbox", [
    "1,2,3",  # too few
    "a,b,c,d",  # not numbers
    "-0.1,51.5,nan,51.6",
    "530000,180000,540000,190000",  # British National Grid metres, not degrees
    "0.1,51.5,-0.1,51.6",  # west east of east
    "-0.1,51.6,0.1,51.5",  # south above north
    "",
])
def test_a_bad_bbox_is_a_400_naming_the_parameter(client, bbox):
    body = get(client, f"/ogc/collections/groups/items?bbox={bbox}", 400)
    assert body["code"] == "InvalidParameterValue"
    assert body["description"].startswith(f"bbox={bbox!r}"), body


def test_limit_above_the_maximum_is_served_as_the_maximum(client):
    """OGC API Features 7.15.3: a limit above the maximum is not an error; the maximum
    is used (and says so in the links)."""
    body = get(client, f"/ogc/collections/incidents/items?limit={LIMIT_MAX * 10}")
    assert body["numberReturned"] == min(LIMIT_MAX, body["numberMatched"])
    assert parse_qs(urlsplit(link(body, "self")).query)["limit"] == [str(LIMIT_MAX)]
    small = get(client, "/ogc/collections/incidents/items?limit=2&offset=1")
    assert small["numberReturned"] == 2
    for bad in ("limit=0", "limit=-3", "limit=ten", "offset=-1", "offset=1.5"):
        body = get(client, f"/ogc/collections/incidents/items?{bad}", 400)
        assert body["description"].startswith(bad.split("=")[0] + "="), body


def test_unknown_parameters_formats_and_collections_are_clear_errors(client):
    body = get(client, "/ogc/collections/groups/items?bbx=0,51,1,52", 400)
    assert "bbx=" in body["description"] and "bbox" in body["description"]
    body = get(client, "/ogc/collections?f=html", 400)
    assert body["description"].startswith("f='html'")
    assert get(client, "/ogc/collections/groups/items?f=geojson")["features"]
    body = get(client, "/ogc/collections", 406, headers={"Accept": "text/html"})
    assert body["code"] == "NotAcceptable"
    body = get(client, "/ogc/collections/trees/items", 404)
    assert "trees" in body["description"] and "groups" in body["description"]
    body = get(client, "/ogc/collections/groups/items/no-such-group", 404)
    assert "no-such-group" in body["description"]
    assert "error" in get(client, "/ogc/no-such-path", 404)  # JSON, not an HTML page


def _contacts(features: list[dict]) -> dict:
    return {f["id"]: f["properties"]["contact"] for f in features
            if "contact" in f["properties"]}


def test_anonymous_items_hold_no_contact_details(client, demo_dir):
    groups = overlay.read_layer(Workspace(demo_dir), "groups")
    values = {str(v) for c in ("email", "phone") for v in groups[c].dropna() if str(v).strip()}
    assert values  # the demo has contact details to leak
    for name in COLLECTIONS:
        text = client.get(f"/ogc/collections/{name}/items?limit={LIMIT_MAX}").get_data(
            as_text=True)
        assert not personal_keys(json.loads(text)), name
        assert '"contact"' not in text and not [v for v in values if v in text], name


@pytest.mark.parametrize("role", ["officer", "partner"])
def test_signed_in_users_see_the_contacts_api_groups_shows_them(app, demo_dir, role):
    client = app.test_client()
    areas = ()
    if role == "partner":
        wards = overlay.read_layer(Workspace(demo_dir), "groups")["ward_code"].dropna()
        areas = (wards.iloc[0],)
    sign_in(client, role, areas=areas)
    response = client.get(f"/ogc/collections/groups/items?limit={LIMIT_MAX}")
    assert response.headers["Cache-Control"] == "no-store"  # personal data: never cached
    shown = _contacts(json.loads(response.get_data(as_text=True))["features"])
    api = client.get("/api/groups?limit=5000").get_json()
    assert shown == _contacts(api["features"]) and shown
    assert any(c.get("email") for c in shown.values())
    assert set(next(iter(shown.values()))) <= set(PERSONAL_COLUMNS)
    if role == "partner":  # only the granted ward's groups
        granted = {f["id"] for f in api["features"]
                   if f["properties"]["ward_code"] == areas[0]}
        assert set(shown) == granted
    one_id = next(iter(shown))
    one = client.get(f"/ogc/collections/groups/items/{one_id}").get_json()
    assert one["properties"]["contact"] == shown[one_id]


def test_owslib_reads_the_collections(app, live_server):
    """OWSLib's OGC API Features client, the way QGIS and GDAL use the API."""
    from owslib.ogcapi import features  # the test extras install it

    url = live_server(app) + "/ogc"
    api = features.Features(url)
    assert {CORE, GEOJSON_CLASS} <= set(api.conformance()["conformsTo"])
    assert api.feature_collections() == list(COLLECTIONS)
    groups = api.collection("groups")
    assert groups["id"] == "groups" and groups["extent"]["spatial"]["bbox"]
    page = api.collection_items("groups", limit=10)
    assert page["numberReturned"] == 10 < page["numberMatched"]
    assert all("contact" not in f["properties"] for f in page["features"])
    west, south, east, north = groups["extent"]["spatial"]["bbox"][0]
    half = api.collection_items("groups", bbox=[west, south, (west + east) / 2, north])
    assert 0 < half["numberMatched"] < page["numberMatched"]


def test_the_openapi_document_describes_the_routes_and_limits(client):
    landing = get(client, "/ogc")
    [desc] = [x for x in landing["links"] if x["rel"] == "service-desc"]
    assert desc["type"] == "application/vnd.oai.openapi+json;version=3.0"
    response = client.get(urlsplit(desc["href"]).path)
    assert response.status_code == 200 and response.content_type == desc["type"]
    document = json.loads(response.get_data(as_text=True))
    assert document["openapi"].startswith("3.0.")
    items = document["paths"]["/collections/{collectionId}/items"]["get"]
    limit = {p["name"]: p for p in items["parameters"]}["limit"]["schema"]
    assert (limit["maximum"], limit["default"]) == (LIMIT_MAX, LIMIT_DEFAULT)
    collection = {p["name"]: p for p in items["parameters"]}["collectionId"]["schema"]
    assert collection["enum"] == list(COLLECTIONS)
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(document)  # raises on an invalid document


def test_gdal_reads_the_collections(demo_dir, tmp_path):
    """GDAL's OAPIF driver (QGIS's sibling reader) reads every collection and a bbox;
    the server runs in another process, as GDAL's reads hold the interpreter."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import pyogrio

    if "OAPIF" not in pyogrio.list_drivers():
        pytest.skip("this GDAL has no OAPIF driver")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = ("import sys; from werkzeug.serving import run_simple; "
              "from mapper.web import create_app; "
              "run_simple('127.0.0.1', int(sys.argv[1]), "
              "create_app({'WORKSPACE': sys.argv[2]}), threaded=True)")
    server = subprocess.Popen([sys.executable, "-c", script, str(port), str(demo_dir)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=os.environ.copy())
    try:
        url = f"http://127.0.0.1:{port}/ogc"
        deadline = time.monotonic() + 180  # a start on a machine busy with other tests
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, f"the server exited ({server.returncode})"
                assert time.monotonic() < deadline, "the server did not listen in 180 s"
                time.sleep(0.2)
        listed = [str(n) for n, _ in pyogrio.list_layers(f"OAPIF:{url}")]
        assert listed == list(COLLECTIONS)
        workspace = Workspace(demo_dir)
        for name in ("groups", "wards"):
            frame = pyogrio.read_dataframe(f"OAPIF:{url}", layer=name)
            assert len(frame) == len(overlay.read_layer(workspace, COLLECTIONS[name])), name
            assert frame.crs.to_epsg() == 4326 and not set(PERSONAL_COLUMNS) & set(frame)
        west, south, east, north = frame.total_bounds
        box = (west, south, (west + east) / 2, north)
        part = pyogrio.read_dataframe(f"OAPIF:{url}", layer="wards", bbox=box)
        assert 0 < len(part) < len(frame)
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("when, first, last", [
    ("2025-01-01/2025-01-31", "2025-01-01", "2025-01-31"),
    ("2025-03-15", "2025-03-15", "2025-03-15"),
    ("../2024-08-01T00:00:00Z", "0001-01-01", "2024-08-01"),
    ("2026-01-01T12:00:00+01:00/..", "2026-01-01", "9999-12-31"),
])
def test_datetime_answers_what_a_brute_force_count_finds(client, demo_dir, when, first, last):
    incidents = overlay.read_layer(Workspace(demo_dir), "incidents")
    dates = incidents["date"].astype(str)
    assert dates.str.fullmatch(r"\d{4}-\d\d-\d\d").all()  # the demo dates every incident
    expected = set(incidents.loc[(dates >= first) & (dates <= last), "incident_id"])
    assert 0 < len(expected) < len(incidents), when
    url = f"/ogc/collections/incidents/items?limit=500&datetime={quote(when, safe='/:.')}"
    features, pages = walk(client, url)
    assert pages[0]["numberMatched"] == len(expected), when
    assert {f["id"] for f in features} == expected, when
    extent = get(client, "/ogc/collections/incidents")["extent"]["temporal"]["interval"][0]
    assert extent[0] == f"{dates.min()}T00:00:00Z" and extent[1] == f"{dates.max()}T23:59:59Z"


@pytest.mark.parametrize("url, starts", [
    ("/ogc/collections/incidents/items?datetime=2024-13-01", "datetime='2024-13-01'"),
    ("/ogc/collections/incidents/items?datetime=2025-02-01/2025-01-01", "datetime="),
    ("/ogc/collections/incidents/items?datetime=a/b/c", "datetime="),
    ("/ogc/collections/groups/items?datetime=2025-01-01", "datetime="),
])
def test_a_bad_datetime_is_a_400_naming_the_parameter(client, url, starts):
    body = get(client, url, 400)
    assert body["description"].startswith(starts), body


def test_every_problem_is_named_in_one_answer(client):
    body = get(client, "/ogc/collections/groups/items?bbox=1,2&limit=0&offset=x"
               "&datetime=2025-01-01&colour=red", 400)
    described = body["description"]
    for name in ("bbox=", "limit=", "offset=", "datetime=", "colour="):
        assert name in described, (name, described)
