"""The priority areas page through Flask's test client, on the demo workspace (built once
per module): map data, filters, re-running the analysis, exports, the decision record."""

from __future__ import annotations

import io
import json
import math
import re
import shutil

import geopandas as gpd
import pandas as pd
import pytest
from accounts import post, sign_in
from csvfiles import csv_rows
from markupsafe import escape
from page_resources import foreign_resources

from mapper import overlay
from mapper.config import Settings
from mapper.maps.assets import map_parts
from mapper.maps.points import point_rows
from mapper.maps.priority import (
    GapsLayer,
    PointLayer,
    format_value,
    indicator_label,
    indicators,
    priority_map,
)
from mapper.store import Workspace
from mapper.web import create_app

# -- the demo workspace, once ---------------------------------------------------------


@pytest.fixture(scope="module")
def demo_dir(demo_module_copy):
    return demo_module_copy


@pytest.fixture(scope="module")
def ward_summary(demo_dir):
    return Workspace(demo_dir).read_layer("ward_summary")


@pytest.fixture(scope="module")
def client(demo_dir):
    return create_app({"TESTING": True, "WORKSPACE": str(demo_dir)}).test_client()


@pytest.fixture
def own_client(demo_dir, tmp_path):
    """A client on a copy of the demo workspace, for tests that change it."""
    directory = tmp_path / "ws"
    shutil.copytree(demo_dir, directory)
    app = create_app({"TESTING": True, "WORKSPACE": str(directory)})
    return sign_in(app.test_client(), "admin"), Workspace(directory)


# -- helpers --------------------------------------------------------------------------


def embedded_collections(page: str) -> list[dict]:
    """Every GeoJSON FeatureCollection embedded with ``<layer>_add({...})`` (folium) or
    ``<layer>_add(JSON.parse("..."))`` (our compact layers: a JSON string of JSON)."""
    decoder = json.JSONDecoder()
    found = []
    for match in re.finditer(r"_add\((JSON\.parse\()?([{\"])", page):
        value, _end = decoder.raw_decode(page, match.start(2))
        if match.group(1):
            value = json.loads(value)
        if value.get("type") == "FeatureCollection":
            found.append(value)
    return found


def ward_features(page: str) -> list[dict]:
    collections = [c for c in embedded_collections(page)
                   if c["features"] and "ward_code" in c["features"][0]["properties"]]
    assert len(collections) == 1, "exactly one ward layer expected"
    return collections[0]["features"]


def get_page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


# -- the page -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?indicator=imd_score&scheme=natural&classes=7",
        "?indicator=groups_total_per_1000&scheme=equal&classes=3",
        "?indicator=incidents_per_1000&scheme=quantiles&classes=4",
        "?indicator=uncovered_share",
        "?indicator=stability&scheme=natural",
        "?indicator=income_score&sort=ward",
    ],
)
def test_page_shows_every_ward_once(client, ward_summary, query):
    page = get_page(client, "/priority" + query)
    features = ward_features(page)
    assert sorted(f["properties"]["ward_code"] for f in features) == sorted(
        ward_summary["ward_code"])
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in features)
    # the table alternative: one row per ward
    table = page[page.index('class="table table--small pr-ward-table"'):]
    table = table[:table.index("</table>")]
    assert table.count('<th scope="row">') == len(ward_summary)
    assert foreign_resources(page) == []


def test_page_names_the_indicator_and_lists_the_cans(client, ward_summary):
    page = get_page(client, "/priority?indicator=imd_score")
    assert "IMD score: Index of Multiple Deprivation" in page
    assert "Synthetic demo data — not real places" in page
    cans = ward_summary["can_id"].dropna().unique()
    assert len(cans) >= 1
    for can_id in cans:
        assert f'href="/neighbourhood/{can_id}"' in page
    # why chosen: each CAN's own reasons (mapper.analysis.reasons), capitalised
    cans = Workspace(client.application.config["WORKSPACE"]).read_layer("neighbourhoods")
    for reasons in cans["reasons"]:
        assert str(escape(reasons[:1].upper() + reasons[1:])) in page
    assert "Stability is the share of 10 re-runs" in page


def test_coordinates_are_rounded_to_five_decimals(client):
    """About a metre: far finer than the display simplification, and a third less text."""
    page = get_page(client, "/priority")
    ring = ward_features(page)[0]["geometry"]["coordinates"][0]
    ring = ring[0] if isinstance(ring[0][0], list) else ring
    assert len(ring) >= 4
    for x, y in ring:
        assert round(x, 5) == x and round(y, 5) == y


def test_ward_layer_names_one_style_per_shade(client, ward_summary):
    """Each ward names its style by number; the layer holds one style per shade."""
    page = get_page(client, "/priority?indicator=imd_score&scheme=quantiles&classes=4")
    features = ward_features(page)
    used = {f["properties"]["_style"] for f in features}
    assert used <= set(range(5)) and len(used) >= 2
    shade_of = {}
    for f in features:  # wards of one shade share one style, and no two shades share one
        shade_of.setdefault(f["properties"]["_style"], set()).add(f["properties"]["shade"])
    assert all(len(shades) == 1 for shades in shade_of.values())
    assert len({next(iter(s)) for s in shade_of.values()}) == len(shade_of)
    assert 'case "' not in page  # no per-feature style table


def test_ward_tooltip_carries_the_key_figures(client, ward_summary):
    features = ward_features(get_page(client, "/priority?indicator=imd_score"))
    ward = ward_summary.iloc[0]
    props = next(f["properties"] for f in features if f["properties"]["ward_code"] ==
                 ward["ward_code"])
    assert props["pop"] == format_value(ward["population"], "count")
    assert props["imd"] == format_value(ward["imd_score"], "score")
    assert props["value"] == props["imd"]
    assert re.fullmatch(r"[1-5] of 5", props["shade"])
    assert props["can"] == (ward["can_id"] if pd.notna(ward["can_id"]) else "none")


def test_borough_filter(client, ward_summary):
    code = ward_summary["borough_code"].iloc[0]
    page = get_page(client, f"/priority?borough={code}")
    features = ward_features(page)
    expected = ward_summary.loc[ward_summary["borough_code"] == code, "ward_code"]
    assert sorted(f["properties"]["ward_code"] for f in features) == sorted(expected)
    assert f'<option value="{code}" selected>' in page
    # the lazy layers are asked for the borough only
    assert f"/priority/layers/groups.json?borough={code}" in page


def test_borough_filter_on_several_boroughs(tmp_path, demo_dir):
    """The demo has one borough: split its wards into two to check the filter narrows."""
    directory = tmp_path / "ws"
    shutil.copytree(demo_dir, directory)
    workspace = Workspace(directory)
    summary = workspace.read_layer("ward_summary")
    east = summary.geometry.centroid.x > summary.geometry.centroid.x.median()
    summary.loc[east, ["borough_code", "borough_name"]] = ["E09000098", "Eastborough"]
    with workspace.transaction() as tx:
        tx.write_layer("ward_summary", summary)
    client = create_app({"TESTING": True, "WORKSPACE": str(directory)}).test_client()
    page = get_page(client, "/priority?borough=E09000098")
    codes = sorted(f["properties"]["ward_code"] for f in ward_features(page))
    assert codes == sorted(summary.loc[east, "ward_code"])
    assert 0 < len(codes) < len(summary)
    rows = csv_rows(get_page(client, "/priority/export.csv?borough=E09000098"))
    assert {r["borough_code"] for r in rows} == {"E09000098"} and len(rows) == len(codes)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("indicator=ward_name", "indicator &#39;ward_name&#39; is not a numeric ward column"),
        ("scheme=jenks", "choose one of quantiles, equal, natural"),
        ("classes=12", "from 3 to 7"),
        ("classes=abc", "from 3 to 7"),
        ("borough=E09999999", "not in the study area"),
        ("incidents_from=2024-13", "YYYY-MM"),
        ("incidents_from=2025-06&incidents_to=2025-01", "must not be after"),
        ("sort=colour", "sort &#39;colour&#39; is unknown"),
    ],
)
def test_bad_query_is_a_400_naming_the_choices(client, query, message):
    page = get_page(client, f"/priority?{query}", status=400)
    assert message in page
    assert "Traceback" not in page


def test_every_numeric_column_can_shade_the_map(client, ward_summary):
    for column in indicators(ward_summary):
        assert indicator_label(column)
    response = client.get("/priority?indicator=mean_distance_food_m&scheme=natural&classes=6")
    assert response.status_code == 200


def test_sorting_the_ward_table_without_javascript(client, ward_summary):
    page = get_page(client, "/priority?indicator=population&sort=population")
    table = page[page.index('class="table table--small pr-ward-table"'):]
    rows = re.findall(r'<th scope="row">.*?<span class="pr-code">(E\d+)</span>', table)
    expected = ward_summary.sort_values(["population", "ward_name"])["ward_code"].tolist()
    assert rows == expected
    assert 'aria-sort="ascending"' in table
    page = get_page(client, "/priority?sort=-ward")
    table = page[page.index('class="table table--small pr-ward-table"'):]
    names = re.findall(r'<th scope="row">(.*?) <span', table)
    assert names == sorted(names, reverse=True)


# -- offline and light ----------------------------------------------------------------


def test_no_external_script_or_link(client):
    page = get_page(client, "/priority")
    assert foreign_resources(page) == []
    for cdn in ("cdnjs", "jsdelivr", "code.jquery.com", "unpkg", "netdna"):
        assert cdn not in page
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost)[^\"' ]+\.(js|css)\b", page)
    assert "/vendor/leaflet-markercluster/leaflet.markercluster.js" in page


def test_heavy_layers_are_not_embedded(client, demo_dir):
    """Groups, premises, incidents and gaps load when switched on, not with the page."""
    page = get_page(client, "/priority")
    groups = overlay.read_layer(Workspace(demo_dir), "groups")
    assert str(groups["name"].iloc[0]) not in page
    for layer in ("groups", "premises", "incidents", "gaps"):
        assert f"/priority/layers/{layer}.json" in page


def test_layer_json(client, demo_dir):
    workspace = Workspace(demo_dir)
    groups = client.get("/priority/layers/groups.json").get_json()
    assert groups["count"] == len(point_rows(overlay.read_layer(workspace, "groups"), "groups")) > 0
    lat, lon, name, category = groups["rows"][0]
    assert 51 < lat < 52 and -1 < lon < 1 and name and category
    incidents = overlay.read_layer(workspace, "incidents")
    month = sorted(incidents["month"].unique())[-1]
    one = client.get(f"/priority/layers/incidents.json?incidents_from={month}"
                     f"&incidents_to={month}").get_json()
    assert one["count"] == int((incidents["month"] == month).sum())
    assert all(row[3] == month for row in one["rows"])
    gaps = client.get("/priority/layers/gaps.json")
    assert gaps.mimetype == "application/geo+json"
    assert gaps.get_json()["type"] == "FeatureCollection"
    assert gaps.get_json()["attribution"]
    assert client.get("/priority/layers/contacts.json").status_code == 404
    # no personal data ever
    text = json.dumps(groups)
    for email in overlay.read_layer(workspace, "groups")["email"].dropna().head(5):
        assert email not in text


def test_point_layers_of_a_box_are_those_a_brute_force_finds(client, demo_dir):
    """``bbox=`` (what a large map's markers ask for): the rows whose points are in the
    box, as a test of every point finds them; bad boxes, and a box on the gaps, are 400s
    saying what was expected."""
    from mapper.geo import to_display

    for layer in ("groups", "incidents"):
        frame = overlay.read_layer(Workspace(demo_dir), layer)
        shown = to_display(frame.geometry)
        west, south, east, north = shown.total_bounds
        box = (west, south, (west + east) / 2, (south + north) / 2)  # the south-west quarter
        inside = ((shown.x >= box[0]) & (shown.x <= box[2]) & (shown.y >= box[1])
                  & (shown.y <= box[3]))
        answer = client.get(f"/priority/layers/{layer}.json?bbox="
                            + ",".join(f"{v:.6f}" for v in box)).get_json()
        assert 0 < answer["total"] == int(inside.sum()) < len(frame), layer
        assert all(box[1] - 1e-4 <= lat <= box[3] + 1e-4 and box[0] - 1e-4 <= lon <= box[2] + 1e-4
                   for lat, lon, *_ in answer["rows"]), layer
    for bad in ("1,2,3", "0.1,51.6,-0.2,51.4", "530000,180000,540000,190000"):
        refused = client.get(f"/priority/layers/groups.json?bbox={bad}")
        assert refused.status_code == 400 and "expected" in refused.get_data(as_text=True), bad
    gaps = client.get("/priority/layers/gaps.json?bbox=-0.2,51.4,0.1,51.6")
    assert gaps.status_code == 400 and "point layers" in gaps.get_data(as_text=True)


def test_incident_type_filter_on_the_map(client, demo_dir):
    """The map's incident points by type (incident_type=, any spelling of the vocabulary);
    the page offers the types of the data; an unknown type is a 400 naming the types."""
    incidents = overlay.read_layer(Workspace(demo_dir), "incidents")
    month = sorted(incidents["month"].unique())[-1]
    window = f"incidents_from={month}&incidents_to={month}"
    expected = int(((incidents["month"] == month)
                    & (incidents["type"] == "Anti-social behaviour")).sum())
    assert expected > 0
    for spelling in ("Anti-social behaviour", "asb"):
        body = client.get(f"/priority/layers/incidents.json?{window}"
                          f"&incident_type={spelling}").get_json()
        assert body["count"] == expected, spelling
    page = get_page(client, "/priority?incident_type=asb")
    assert '<option value="Anti-social behaviour" selected>' in page
    assert "incident_type=Anti-social+behaviour" in page or \
        "incident_type=Anti-social%20behaviour" in page
    response = client.get("/priority?incident_type=Arsonn")
    assert response.status_code == 400
    assert "Burglary" in response.get_data(as_text=True)


def test_layer_json_comes_in_pages_that_join_up(client, demo_dir, monkeypatch):
    from mapper.web import responses

    whole = client.get("/priority/layers/incidents.json").get_json()
    assert whole["next"] is None and whole["count"] == whole["total"] > 20
    rows, url = [], "/priority/layers/incidents.json?limit=7"
    while url:
        page = client.get(url).get_json()
        assert page["offset"] == len(rows) and page["count"] == len(page["rows"]) <= 7
        rows, url = rows + page["rows"], page["next"]
    assert rows == whole["rows"]
    groups = client.get("/overview/groups.json").get_json()  # the overview's layer too
    half = client.get("/overview/groups.json?limit=5").get_json()
    rest = client.get(half["next"]).get_json()
    assert half["rows"] + rest["rows"][:5] == groups["rows"][:10]
    assert half["total"] == groups["total"] == groups["count"] > 5
    monkeypatch.setattr(responses, "LAYER_ROWS_MAX", 10)  # the cap applies without a limit
    first = client.get("/priority/layers/incidents.json?borough=").get_json()
    assert first["count"] == 10 and first["next"].endswith("offset=10")
    for bad in ("limit=0", "limit=11", "offset=-1", "offset=x"):
        response = client.get(f"/priority/layers/incidents.json?{bad}")
        assert response.status_code == 400, bad
        assert bad.split("=")[0] in response.get_data(as_text=True)


def test_layer_urls_name_the_version_and_answers_are_gzipped_and_kept(client):
    """The page's layer URLs carry the workspace version (v): the answers are gzipped for
    a client that takes it, carry a version ETag (304 when unchanged) and may be kept
    for a day; a URL naming another version is answered but not kept."""
    import gzip

    page = get_page(client, "/priority")
    urls = re.findall(r'"(/priority/layers/(?:groups|premises|gaps)\.json\?v=[0-9a-f]+)"',
                      page.replace("\\u0026", "&"))
    assert len(urls) == 3, urls
    for url in urls:
        plain = client.get(url)
        assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
        assert plain.headers["Cache-Control"].startswith("public, max-age=")
        packed = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert packed.headers["Content-Encoding"] == "gzip"
        assert json.loads(gzip.decompress(packed.get_data())) == plain.get_json()
        again = client.get(url, headers={"If-None-Match": plain.headers["ETag"]})
        assert again.status_code == 304
    stale = client.get("/priority/layers/groups.json?v=old")
    assert stale.status_code == 200 and stale.headers["Cache-Control"] == "no-cache"


def test_map_builder_embeds_layers_without_flask(ward_summary, demo_dir):
    """The map module alone (no app): embedded points and gaps, no CDN left."""
    workspace = Workspace(demo_dir)
    m = priority_map(
        ward_summary, indicator="imd_score", scheme="natural", classes=5,
        boroughs=workspace.read_layer("boroughs"),
        cans=workspace.read_layer("neighbourhoods"),
        gaps=GapsLayer(frame=workspace.read_layer("coverage_gaps"), radius_m=800),
        points=[PointLayer("groups", rows=point_rows(overlay.read_layer(workspace, "groups"),
                                                    "groups"), show=True)],
    )
    parts = map_parts(m)
    assert "https://" not in parts.header
    assert "L.markerClusterGroup" in parts.script
    assert str(overlay.read_layer(workspace, "groups")["name"].iloc[0])[:10] in parts.script


def test_map_builder_checks_its_input(ward_summary):
    with pytest.raises(ValueError, match="unknown indicator 'ward_name'"):
        priority_map(ward_summary, indicator="ward_name")
    with pytest.raises(ValueError, match="EPSG:27700"):
        priority_map(ward_summary.to_crs(4326))
    with pytest.raises(ValueError, match="no wards"):
        priority_map(ward_summary.iloc[:0])
    with pytest.raises(ValueError, match="give either rows or url"):
        PointLayer("groups")


def test_wards_without_data_are_drawn_as_no_data(ward_summary):
    wards = ward_summary.copy()
    wards.loc[wards.index[:3], "imd_score"] = float("nan")
    parts = map_parts(priority_map(wards, indicator="imd_score"))
    features = ward_features(parts.script)
    assert len(features) == len(wards)
    assert sum(f["properties"]["shade"] == "No data" for f in features) == 3
    assert "No data" in parts.script and "dashArray" in parts.script


# -- re-running the analysis ----------------------------------------------------------


def test_recompute_with_new_weights(own_client):
    client, workspace = own_client
    before = workspace.read_layer("ward_summary").set_index("ward_code")
    response = post(client, "/priority/recompute", data={
        "weight_need": "0", "weight_supply": "0", "weight_incidents": "1",
        "can_top_share": "0.3", "can_supply_below_median": "false",
        "can_min_population": "1,000", "indicator": "imd_score", "classes": "4",
    })
    assert response.status_code == 303
    location = response.headers["Location"]
    assert "/priority?" in location and "indicator=imd_score" in location
    assert "classes=4" in location and "recomputed=1" in location
    settings = Settings.from_json(workspace.meta()["analysis_settings"])
    assert settings.weights() == {"need": 0.0, "supply": 0.0, "incidents": 1.0}
    assert settings.can_top_share == 0.3 and settings.can_supply_below_median is False
    assert settings.can_min_population == 1000
    assert settings.stability_draws == 10  # settings not on the form are kept
    after = workspace.read_layer("ward_summary").set_index("ward_code")
    assert not after["unmet_need"].round(9).equals(before["unmet_need"].round(9))
    # with only incidents weighted, the index follows the smoothed incidents per 1,000
    # (the rate the index uses) exactly
    ranks = after["unmet_need"].rank()
    assert ranks.equals(after["incidents_per_1000_eb"].rank())
    page = get_page(client, location.replace("http://localhost", ""))
    assert "The analysis was re-run with your settings" in page
    record = get_page(client, "/priority/decision-record")
    assert re.search(r"weight_incidents</code></th>\s*<td>1 <strong", record)


@pytest.mark.parametrize(
    ("form", "messages"),
    [
        ({"weight_need": "lots"}, ["The weight of need must be a number (you typed"]),
        ({"weight_need": "-1"}, ["must be 0 or more"]),
        ({"can_top_share": "1.5", "coverage_radius_m": "0"},
         ["must be above 0 and at most 1", "must be above 0"]),
        ({"weight_need": "0", "weight_supply": "0", "weight_incidents": "0"},
         ["At least one weight must be above 0"]),
        ({"can_split": "random"}, ["must be one of trim, balanced"]),
        ({"can_min_population": "9000", "can_max_population": "100"},
         ["The largest CAN must be 0 or at least the smallest CAN"]),
    ],
)
def test_invalid_settings_are_a_400_with_the_message(own_client, form, messages):
    client, workspace = own_client
    before = workspace.meta()["analysis_settings"]
    response = post(client, "/priority/recompute", data=form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "There is a problem" in page and "<title>Error: " in page
    for message in messages:
        assert message in page
    # the problem links to its field, which shows the value typed
    name = next(iter(form))
    assert f'href="#setting-{name}"' in page or 'href="#settings"' in page
    assert f'value="{form[name]}"' in page or f'<option value="{form[name]}"' not in page
    assert workspace.meta()["analysis_settings"] == before  # nothing re-run


def test_recompute_needs_an_admin_and_a_csrf_token(demo_dir, tmp_path):
    directory = tmp_path / "ws"
    shutil.copytree(demo_dir, directory)
    app = create_app({"TESTING": True, "WORKSPACE": str(directory)})
    before = Workspace(directory).meta()["analysis_settings"]
    form = {"weight_need": "0", "weight_supply": "0", "weight_incidents": "1"}
    anonymous = app.test_client()
    assert post(anonymous, "/priority/recompute", form).status_code == 401
    officer = sign_in(app.test_client(), "officer")
    assert post(officer, "/priority/recompute", form).status_code == 403
    admin = sign_in(app.test_client(), "admin")
    response = admin.post("/priority/recompute", data=form)  # no CSRF token
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert Workspace(directory).meta()["analysis_settings"] == before
    # the form is offered only to administrators
    assert 'action="/priority/recompute"' not in get_page(officer, "/priority")
    assert 'action="/priority/recompute"' in get_page(admin, "/priority")


# -- exports --------------------------------------------------------------------------


def test_csv_export(client, ward_summary):
    response = client.get("/priority/export.csv?indicator=imd_score&scheme=natural")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = csv_rows(response.data)
    assert len(rows) == len(ward_summary)
    first = rows[0]
    for column in ("ward_code", "ward_name", "imd_score", "map_class", "map_class_range",
                   "unmet_need", "can_id", "can_name", "stability", "licence", "attribution"):
        assert column in first
    assert "Synthetic demo data" in first["attribution"]
    in_cans = [r for r in rows if r["can_id"]]
    assert in_cans and all(r["can_name"] for r in in_cans)
    assert "nan" not in response.get_data(as_text=True).lower().split(",")


def test_geojson_export(client, ward_summary):
    response = client.get("/priority/export.geojson?indicator=uncovered_share")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "NaN" not in text and "Infinity" not in text
    document = json.loads(text)
    assert document["type"] == "FeatureCollection"
    assert len(document["features"]) == len(ward_summary)
    for member in ("attribution", "licences", "provenance", "analysis_settings",
                   "classification", "study_area"):
        assert document[member], member
    assert document["indicator"] == "uncovered_share"
    assert {p["layer"] for p in document["provenance"]} >= {"wards", "deprivation"}
    frame = gpd.read_file(io.StringIO(text))
    assert len(frame) == len(ward_summary) and frame.crs.to_epsg() == 4326
    assert frame.is_valid.all()
    assert math.isclose(frame.total_bounds[1], 51.5, abs_tol=0.5)


# -- the decision record --------------------------------------------------------------


def test_decision_record(client, demo_dir, ward_summary):
    page = get_page(client, "/priority/decision-record")
    settings = Settings.from_json(Workspace(demo_dir).meta()["analysis_settings"])
    for name in ("weight_need", "weight_supply", "weight_incidents", "can_top_share",
                 "can_min_population", "can_max_population", "coverage_radius_m"):
        assert f"<code>{name}</code>" in page
    assert "0.5" in page and "0.3" in page and "0.2" in page
    assert f"{settings.coverage_radius_m:g}" in page
    provenance = Workspace(demo_dir).provenance()
    for source_file in provenance["source_file"]:
        assert source_file in page
    for can_id in ward_summary["can_id"].dropna().unique():
        assert can_id in page
    assert "Record produced" in page and "Demoborough" in page
    stylesheet = client.get("/static/priority.css")
    assert "@media print" in stylesheet.get_data(as_text=True)
    stylesheet.close()  # a file response: close it, or the file stays open
    assert foreign_resources(page) == []


def test_decision_record_lists_every_ward_of_every_can_with_a_map(client, ward_summary):
    page = get_page(client, "/priority/decision-record")
    table = page[page.index('class="table table--small pr-record__wards"'):]
    table = table[:table.index("</table>")]
    in_cans = ward_summary.dropna(subset=["can_id"])
    assert len(in_cans) >= 2
    assert table.count("<tr>") == len(in_cans) + 1  # the heading row and one per ward
    for ward in in_cans.itertuples():
        row = re.search(rf"<td>([^<]*)</td><td><code>{ward.ward_code}</code></td>", table)
        assert row and row.group(1) == str(escape(ward.ward_name))
    for can_id in in_cans["can_id"].unique():
        assert f'<th scope="rowgroup" rowspan="{(in_cans["can_id"] == can_id).sum()}">' \
            f"{can_id}<br>" in table
    # the map: inline SVG, one shape per ward of the area, one label per CAN
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert svg.count("<path ") == len(ward_summary)
    assert svg.count("<text ") == in_cans["can_id"].nunique()
    # analysed by the fixture (actor "cli", via "mapper analyse"): the public see how, not who
    assert "Run by</dt><dd>sign in to see who (mapper analyse)" in page
    assert "No earlier selection recorded" in page


def test_decision_record_says_who_reran_it_and_what_changed(own_client, demo_dir):
    client, workspace = own_client
    before = workspace.read_layer("ward_summary").set_index("ward_code")["can_id"]
    response = post(client, "/priority/recompute", data={
        "weight_need": "0", "weight_supply": "0", "weight_incidents": "1",
        "can_top_share": "0.3", "can_supply_below_median": "false",
        "can_min_population": "1,000"})
    assert response.status_code == 303
    after = workspace.read_layer("ward_summary").set_index("ward_code")["can_id"]
    names = workspace.read_layer("ward_summary").set_index("ward_code")["ward_name"]
    record = get_page(client, "/priority/decision-record")
    assert "Run by</dt><dd>test-admin (Priority areas page, recompute (web))" in record
    assert "The previous selection was made on" in record
    assert "(run by cli (mapper analyse))" in record
    wards_in = sorted(set(after.dropna().index) - set(before.dropna().index))
    wards_out = sorted(set(before.dropna().index) - set(after.dropna().index))
    assert wards_in or wards_out  # only incidents weighted: the selection moved
    listed = re.sub(r"\s+", " ", record[record.index("What changed since"):])
    expected_in = ", ".join(f"{names[c]} ({c})" for c in wards_in) or "none"
    assert f"Wards now in a CAN that were in none: {escape(expected_in)}." in listed
    expected_out = ", ".join(f"{names[c]} ({c})" for c in wards_out) or "none"
    assert f"Wards no longer in any CAN: {escape(expected_out)}." in listed
    # the public see how it was run, not who
    public = create_app({"TESTING": True,
                         "WORKSPACE": client.application.config["WORKSPACE"]}).test_client()
    assert "Run by</dt><dd>sign in to see who (Priority areas page, recompute (web))" in \
        get_page(public, "/priority/decision-record")


def test_point_rows_run_north_to_south_without_duplicates_or_personal_data():
    from shapely.geometry import Point

    from mapper.maps.points import point_rows

    points = gpd.GeoDataFrame(
        {"name": ["South", "North west", "Twin", "North east", "Middle"],
         "category": ["food", "faith", "food", "youth", "food"],
         "duplicate_of": [None, None, "g1", None, ""],
         "phone": ["07700900123"] * 5},
        geometry=[Point(530000, 170000), Point(520000, 190000), Point(520000, 190000),
                  Point(540000, 190000), Point(530000, 180000)],
        crs="EPSG:27700")
    rows = point_rows(points, "groups")
    assert [r[2] for r in rows] == ["North west", "North east", "Middle", "South"]
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), reverse=True)
    assert all(len(r) == 4 and "07700900123" not in r for r in rows)


def test_wards_whose_figures_need_care_say_why(client, ward_summary):
    from markupsafe import escape

    flagged = ward_summary[ward_summary["unreliable"].astype(bool)]
    assert 1 <= len(flagged) < len(ward_summary)
    page = get_page(client, "/priority")
    assert "Read with care" in page
    assert f"the figures of {len(flagged)} wards need it" in page
    # the demo's Lindenfield (a planted incident spike) is far above the other wards:
    # its incident part of the index is capped, and the table says so
    reason = ward_summary.set_index("ward_code").loc["E05990009", "unreliable_reason"]
    assert "Incidents per 1,000 residents" in reason and "counted as 3 in the index" in reason
    assert f"<summary>Why</summary>{escape(reason)}</details>" in page
    rows = page.count("<summary>Why</summary>")
    assert rows == len(flagged)
