"""The web app through Flask's test client: the overview page, offline assets, errors."""

from __future__ import annotations

import json
import re

import folium
import pytest
from conftest import TINY_STUDY_AREA, grid_boroughs, grid_wards, write_workspace
from folium.plugins import MarkerCluster
from markupsafe import escape
from page_resources import is_foreign, resource_urls

from mapper.errors import MapperError
from mapper.maps import map_parts, use_local_assets, ward_map
from mapper.maps.assets import LOCAL_ASSETS, VENDOR_DIRS, asset_url, external_links
from mapper.web import SETTINGS_HELP, create_app


def make_client(workspace, **config):
    return create_app({"TESTING": True, "WORKSPACE": str(workspace), **config}).test_client()


# -- the overview page ----------------------------------------------------------------


def test_overview_maps_every_ward_and_links_the_table(client, tiny_wards):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for ward in tiny_wards.itertuples():
        assert ward.ward_code in page  # in the map's data
    # the table alternative is a page of its own, linked above the map
    assert "ward-table" not in page
    assert '<a href="/wards">Skip the map: see all 9\n    wards as a table</a>' in page
    assert 'aria-label="Map of the 9 wards' in page


def test_wards_page_is_a_row_per_ward_by_borough(client, tiny_wards):
    response = client.get("/wards")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    table = page[page.index("<table") : page.index("</table>")]
    rows = re.findall(r'<th scope="row">(.*?)</th>\s*<td><code>(.*?)</code></td>\s*'
                      r"<td>(.*?)</td>", table, re.S)
    expected = tiny_wards.sort_values(["borough_name", "ward_name", "ward_code"])
    assert rows == [(str(escape(w.ward_name)), w.ward_code, str(escape(w.borough_name)))
                    for w in expected.itertuples()]
    assert "<caption" in table and 'href="/"' in page
    assert "/ward/" not in table  # no ward profiles before the analysis


def test_overview_names_the_study_area_and_warns_about_synthetic_data(client):
    page = client.get("/").get_data(as_text=True)
    assert f"<title>Ward map – {TINY_STUDY_AREA}" in page
    assert f">{TINY_STUDY_AREA}</h1>" in page
    assert "Synthetic demo data — not real places" in page


def test_no_synthetic_banner_for_real_data(tmp_path):
    workspace = write_workspace(tmp_path / "real", synthetic="no", study_area="Camden")
    page = make_client(workspace).get("/").get_data(as_text=True)
    assert "Synthetic demo data" not in page
    assert ">Camden</h1>" in page


def test_overview_footer_lists_the_data_sources(client):
    page = client.get("/").get_data(as_text=True)
    footer = page[page.index('<footer class="site-footer">') :]
    for text in ("tiny_wards.geojson", "tiny_boroughs.geojson", "OGL v3", "2024"):
        assert text in footer
    assert "Contains OS data © Crown copyright" in footer


def test_ward_table_escapes_names(client):
    page = client.get("/wards").get_data(as_text=True)
    assert "St Mary&#39;s &amp; Holy Trinity" in page
    assert "St Mary's & Holy Trinity</th>" not in page


def test_overview_works_without_a_boroughs_layer(tmp_path):
    from mapper.store import Workspace

    with Workspace(tmp_path / "ws").transaction() as tx:
        tx.write_layer("wards", grid_wards())
    response = make_client(tmp_path / "ws").get("/")
    assert response.status_code == 200
    assert "E05900009" in response.get_data(as_text=True)


# -- offline: every script and stylesheet comes from the app ----------------------------


def test_page_loads_nothing_from_other_hosts(client):
    page = client.get("/").get_data(as_text=True)
    urls = resource_urls(page)
    assert urls, "the page should load at least Leaflet and our stylesheet"
    assert [u for u in urls if is_foreign(u)] == []
    # with no tiles, no address of another host appears anywhere in a script or style
    assert "L.tileLayer" not in page
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost)", _scripts_and_styles(page))


def _scripts_and_styles(page: str) -> str:
    blocks = re.findall(r"<(script|style)\b[^>]*>(.*?)</\1>", page, flags=re.S)
    return "\n".join(body for _, body in blocks)


@pytest.mark.parametrize(
    ("tiles", "host", "credit"),
    [
        ("osm", "tile.openstreetmap.org", "OpenStreetMap"),
        ("light", "basemaps.cartocdn.com", "CARTO"),
    ],
)
def test_tiles_are_the_only_outside_addresses(tiny_workspace, tiles, host, credit):
    page = make_client(tiny_workspace, TILES=tiles).get("/").get_data(as_text=True)
    assert [u for u in resource_urls(page) if is_foreign(u)] == []
    assert "L.tileLayer" in page and host in page and credit in page
    # besides the tile URL template and the attribution links, no outside address
    scripts = _scripts_and_styles(page)
    outside = set(re.findall(r"https?://([^/\"'\s]+)", scripts))
    assert outside <= {host, "{s}." + host, "www.openstreetmap.org", "carto.com"}


def test_vendor_assets_are_served_with_their_types(client):
    page = client.get("/").get_data(as_text=True)
    local = [u for u in resource_urls(page) if u.startswith("/vendor/")]
    assert {"/vendor/leaflet/leaflet.js", "/vendor/leaflet/leaflet.css"} <= set(local)
    for url in local:
        response = client.get(url)
        assert response.status_code == 200, url
        expected = "text/javascript" if url.endswith(".js") else "text/css"
        assert response.mimetype == expected, url
        assert len(response.data) > 1000
        response.close()
    stylesheet = client.get("/static/app.css")
    assert stylesheet.status_code == 200 and stylesheet.mimetype == "text/css"
    stylesheet.close()


def test_every_known_asset_exists():
    for name, (package, filename) in LOCAL_ASSETS.items():
        assert (VENDOR_DIRS[package] / filename).is_file(), name


def test_leaflet_heat_serves_its_one_file_only(client):
    # the package's folder is folium's templates folder, which holds other plugins' scripts
    others = [p.name for p in VENDOR_DIRS["leaflet-heat"].iterdir()
              if p.is_file() and p.name != "leaflet_heat.min.js"]
    assert others, "the test needs another file in the folder to refuse"
    for name in others:
        with client.get(f"/vendor/leaflet-heat/{name}") as response:
            assert response.status_code == 404, name
    with client.get(asset_url("leaflet_heat")) as response:
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert b"simpleheat" in response.data


def test_leaflet_images_are_served(client):
    # leaflet.css refers to images/layers.png etc. by relative URL
    response = client.get("/vendor/leaflet/images/layers.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    response.close()


@pytest.mark.parametrize(
    "url",
    [
        "/vendor/leaflet/../../../../etc/passwd",
        "/vendor/leaflet/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/vendor/leaflet//etc/passwd",
        "/vendor/nosuchlib/leaflet.js",
        "/vendor/leaflet/nosuchfile.js",
    ],
)
def test_vendor_refuses_anything_else(client, url):
    # (werkzeug first redirects "//" to "/", which stays inside the package)
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 404
    assert "root:" not in response.get_data(as_text=True)


def test_unknown_vendor_package_lists_the_known_ones(client):
    page = client.get("/vendor/nosuchlib/x.js").get_data(as_text=True)
    assert "leaflet" in page and "jquery" in page


def test_use_local_assets_replaces_plugin_cdn_links():
    m = folium.Map(tiles=None)
    MarkerCluster().add_to(m)
    use_local_assets(m, base_url="/prefix/vendor")
    parts = map_parts(m)
    assert external_links(parts) == []
    assert asset_url("markerclusterjs", base_url="/prefix/vendor") in parts.header
    assert "bootstrap" not in parts.header and "awesome" not in parts.header
    # the class-level defaults of folium are untouched
    assert folium.Map.default_js[0][1].startswith("https://")


def test_jquery_is_loaded_only_for_maps_whose_scripts_use_it():
    plain = folium.Map(tiles=None)
    folium.GeoJson({"type": "FeatureCollection", "features": []}).add_to(plain)
    use_local_assets(plain)
    header = map_parts(plain).header
    assert asset_url("leaflet") in header and "jquery" not in header
    assert "$(" not in map_parts(plain).script

    with_popup = folium.Map(tiles=None)
    folium.Marker([51.5, -0.1], popup=folium.Popup("<b>hello</b>")).add_to(with_popup)
    use_local_assets(with_popup)
    parts = map_parts(with_popup)
    assert "$(" in parts.script  # folium builds popup content with jQuery ...
    assert asset_url("jquery") in parts.header  # ... so it is loaded, before the script
    assert parts.header.index(asset_url("leaflet")) < parts.header.index(asset_url("jquery"))


def test_use_local_assets_refuses_unknown_cdn_resources():
    m = folium.Map(tiles=None)
    cluster = MarkerCluster().add_to(m)
    cluster.default_js = [("someplugin", "https://cdn.example.org/plugin.js")]
    with pytest.raises(ValueError, match="no local copy"):
        use_local_assets(m)


def test_map_parts_drop_the_zoom_blocking_viewport_tag():
    parts = map_parts(ward_map(grid_wards(), grid_boroughs()))
    assert "user-scalable" not in parts.header
    assert parts.name in parts.html and f"var {parts.name} = L.map(" in parts.script


# -- the map builder ------------------------------------------------------------------


def _geojson_payloads(script: str) -> list[dict]:
    return [json.loads(p) for p in re.findall(r"_add\((\{.*?\})\);", script)]


def test_ward_map_draws_every_ward_with_rounded_coordinates():
    wards = grid_wards()
    parts = map_parts(ward_map(wards, grid_boroughs(), tiles="none"))
    ward_layer, borough_layer = _geojson_payloads(parts.script)
    codes = [f["properties"]["ward_code"] for f in ward_layer["features"]]
    assert sorted(codes) == sorted(wards["ward_code"])
    properties = set(ward_layer["features"][0]["properties"])
    assert properties == {"ward_code", "ward_name", "borough_name"}
    assert len(borough_layer["features"]) == 3
    for feature in ward_layer["features"]:
        for x, y in feature["geometry"]["coordinates"][0]:
            assert -0.2 < x < 0.0 and 51.4 < y < 51.6  # London, lon/lat order
            assert round(x, 6) == x and round(y, 6) == y
    assert "preferCanvas" in parts.script and "animate: false" in parts.script
    assert '"interactive": false' in parts.script  # borough outlines let hovers through


def test_ward_map_escapes_names_for_tooltips():
    # folium's tooltips insert property values as HTML
    wards = grid_wards()
    wards.loc[0, "ward_name"] = "<img src=x onerror=alert(1)>"
    parts = map_parts(ward_map(wards, None))
    ward_layer = _geojson_payloads(parts.script)[0]
    names = [f["properties"]["ward_name"] for f in ward_layer["features"]]
    assert "&lt;img src=x onerror=alert(1)&gt;" in names
    assert "St Mary&#x27;s &amp; Holy Trinity" in names
    assert "<img" not in parts.script and "\\u003cimg" not in parts.script


def test_ward_map_refuses_other_crs():
    with pytest.raises(ValueError, match="EPSG:27700.*got EPSG:4326"):
        ward_map(grid_wards().to_crs(4326), None)


def test_ward_map_lists_tile_choices():
    with pytest.raises(ValueError, match="none, osm, light; got 'satellite'"):
        ward_map(grid_wards(), None, tiles="satellite")


# -- errors ---------------------------------------------------------------------------


def test_missing_workspace_is_a_helpful_404(tmp_path):
    response = make_client(tmp_path / "nowhere").get("/")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "mapper demo" in page and "mapper build --from DIR" in page
    assert "Traceback" not in page
    assert "<title>" in page  # our error page, not a bare message


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/x")
    assert response.status_code == 404
    assert response.is_json
    assert set(response.get_json()) == {"error"}


def test_unknown_page_is_an_html_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Go to the ward map" in response.get_data(as_text=True)


def test_unexpected_errors_show_no_traceback(tiny_workspace):
    app = create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace)})

    def boom():
        raise RuntimeError("secret internals at /home/someone/file.py")

    def domain():
        raise MapperError("groups.csv row 3: latitude 151.2 is outside -90..90")

    app.add_url_rule("/boom", "boom", boom)
    app.add_url_rule("/api/boom", "api_boom", boom)
    app.add_url_rule("/domain", "domain", domain)
    client = app.test_client()

    page = client.get("/boom")
    assert page.status_code == 500
    assert "secret internals" not in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)

    api = client.get("/api/boom")
    assert api.status_code == 500 and "error" in api.get_json()
    assert "secret" not in api.get_json()["error"]

    domain_error = client.get("/domain")
    assert domain_error.status_code == 400
    assert "latitude 151.2 is outside -90..90" in domain_error.get_data(as_text=True)


def test_wrong_method_keeps_the_allow_header(client):
    response = client.post("/health")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.mimetype == "text/html"


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


# -- settings -------------------------------------------------------------------------


def test_bad_tiles_setting_lists_the_choices(tiny_workspace):
    with pytest.raises(MapperError, match="none, osm, light; got 'bing'"):
        create_app({"WORKSPACE": str(tiny_workspace), "TILES": "bing"})


def test_every_setting_is_documented(app):
    import mapper.web

    for key in ("WORKSPACE", "TILES"):
        assert key in app.config
        assert SETTINGS_HELP[key]
        assert key in (mapper.web.__doc__ or "")


def test_workspace_defaults_to_the_environment(monkeypatch, tiny_workspace):
    monkeypatch.setenv("MAPPER_WORKSPACE", str(tiny_workspace))
    app = create_app({"TESTING": True})
    assert app.config["WORKSPACE"] == str(tiny_workspace)
    assert app.config["TILES"] == "none"
    assert app.test_client().get("/").status_code == 200


def test_heatmap_names_its_local_copy():
    from mapper.maps.priority import LazyHeat

    assert LazyHeat.default_js == [("leaflet_heat", asset_url("leaflet_heat"))]
    assert not any(url.startswith(("http:", "https:", "//")) for _, url in LazyHeat.default_js)
