"""The priority page's ward layer loaded for the view (mapper/web/wardtiles.py): the size
rule on both sides, the tile answers (the page's properties and classes over every ward,
whatever the tile), gzip, ETag and caching, bad tiles."""

from __future__ import annotations

import json
import re

import pytest

from mapper import geojson
from mapper.maps import inview
from mapper.store import Workspace
from mapper.web import create_app

OPTIONS = re.compile(r"mapperInViewLayer\([^,]+, [^,]+,\s*(\{.*?\})\);", re.S)


def _client(directory, **config):
    app = create_app({"TESTING": True, "WORKSPACE": str(directory), "TILES": "none",
                      **config})
    return app.test_client()


def _all_tiles(client, url: str, z: int) -> list[dict]:
    """Every feature of the tiles of zoom `z` over the demo area (with repeats)."""
    features = []
    for x in range(2 ** z):
        west, _s, east, _n = inview.tile_bounds(z, x, 0)
        if east < -1.0 or west > 1.0:
            continue
        for y in range(2 ** z):
            _w, south, _e, north = inview.tile_bounds(z, x, y)
            if north < 50.5 or south > 52.5:
                continue
            answer = client.get(url.replace("{z}", str(z)).replace("{x}", str(x))
                                .replace("{y}", str(y)))
            assert answer.status_code == 200, answer.data[:200]
            features += json.loads(answer.data)["features"]
    return features


@pytest.fixture
def wards(shared_demo):
    return Workspace(shared_demo).read_layer("ward_summary")


def test_size_rule_decides_embedding(shared_demo, wards):
    embedded = _client(shared_demo).get("/priority")
    assert b"mapperInViewLayer(" not in embedded.data
    assert embedded.data.count(b"coordinates") >= len(wards)
    at_limit = _client(shared_demo, INVIEW_WARDS=len(wards)).get("/priority")
    assert b"mapperInViewLayer(" not in at_limit.data
    above = _client(shared_demo, INVIEW_WARDS=len(wards) - 1).get("/priority")
    assert b"mapperInViewLayer(" in above.data
    assert len(above.data) < len(embedded.data)
    # no shape in the page: the wards, the CANs' and the boroughs' outlines come with
    # the view
    assert above.data.count(b"coordinates") == 0
    for kind in ("boroughs", "cans"):
        assert f"/priority/outlines/{kind}/{{z}}/{{x}}/{{y}}.json?".encode() in above.data
    vertices = _client(shared_demo, INVIEW_VERTICES=10).get("/priority")
    assert b"mapperInViewLayer(" in vertices.data


def test_tiles_carry_the_pages_classes_over_every_ward(shared_demo, wards):
    client = _client(shared_demo, INVIEW_WARDS=1)
    page = client.get("/priority?indicator=imd_score&classes=4").data.decode()
    options = json.loads(OPTIONS.search(page).group(1))
    assert options["bands"] == [[b.min_zoom, b.tile_zoom] for b in inview.BANDS]
    assert "indicator=imd_score" in options["url"] and "classes=4" in options["url"]
    for band in inview.BANDS[:2]:
        features = _all_tiles(client, options["url"], band.tile_zoom)
        by_code = {f["properties"]["ward_code"]: f for f in features}
        assert sorted(by_code) == sorted(wards["ward_code"])  # every ward, in some tile
        # the class of each ward is the one over all wards (4 classes of imd_score)
        from mapper.maps.priority import classify_wards, ward_styles

        classification = classify_wards(wards, "imd_score", "quantiles", 4)
        numbers = dict(zip(wards["ward_code"], ward_styles(classification)[1], strict=True))
        shades = {f["properties"]["shade"] for f in features}
        assert shades <= {f"{i} of 4" for i in range(1, 5)} | {"No data"}
        assert {c: f["properties"]["_style"] for c, f in by_code.items()} == numbers


def test_tile_answer_is_gzipped_cached_and_named_by_version(shared_demo):
    client = _client(shared_demo, INVIEW_WARDS=1)
    page = client.get("/priority").data.decode()
    url = json.loads(OPTIONS.search(page).group(1))["url"]
    tile = url.replace("{z}", "12").replace("{x}", "2047").replace("{y}", "1362")
    plain = client.get(tile)
    assert plain.status_code == 200 and plain.mimetype == geojson.MEDIA_TYPE
    assert plain.headers["Cache-Control"] == "public, max-age=86400"
    zipped = client.get(tile, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and len(zipped.data) < len(plain.data)
    again = client.get(tile, headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304
    unversioned = client.get(tile.split("?")[0])
    assert unversioned.headers["Cache-Control"] == "no-cache"
    # only what the tooltip and the style need
    keys = set(json.loads(plain.data)["features"][0]["properties"])
    assert keys == {"ward_code", "ward_name", "borough_name", "value", "shade", "pop", "imd",
                    "need", "groups", "incidents", "can", "_style"}


def test_bad_tiles_are_refused(shared_demo):
    client = _client(shared_demo, INVIEW_WARDS=1)
    assert client.get("/priority/wards/11/1/1.json").status_code == 404
    answer = client.get("/priority/wards/5/40/3.json")
    assert answer.status_code == 404 and b"outside the map" in answer.data
    assert client.get("/priority/wards/12/2047/1362.json?indicator=nope").status_code == 400


def test_ward_table_pages_on_a_large_map(shared_demo, wards, monkeypatch):
    from mapper.web import priority_page

    monkeypatch.setattr(priority_page, "WARD_TABLE_PAGE", 6)
    small = _client(shared_demo).get("/priority").data.decode()
    assert 'data-table-page' not in small  # the size rule's small side: every row
    client = _client(shared_demo, INVIEW_WARDS=1)
    rows = []
    url = "/priority?sort=ward"
    pages = 0
    while url:
        page = client.get(url).data.decode()
        table = page[page.index('class="table table--small pr-ward-table"'):]
        table = table[:table.index("</table>")]
        rows += re.findall(r'<span class="pr-code">(E\d+)</span>', table)
        pages += 1
        found = re.search(r'href="([^"]+)" rel="next"', page)
        url = found.group(1).replace("&amp;", "&") if found else None
        assert "wards_page" in (url or "wards_page") and "sort=ward" in (url or "sort=ward")
    assert pages == -(-len(wards) // 6)
    assert sorted(rows) == sorted(wards["ward_code"]) and len(rows) == len(set(rows))


def test_overview_map_loads_its_wards_for_the_view_above_the_rule(shared_demo, wards):
    small = _client(shared_demo).get("/")
    assert b"mapperInViewLayer(" not in small.data
    client = _client(shared_demo, INVIEW_WARDS=1)
    page = client.get("/").data.decode()
    options = json.loads(OPTIONS.search(page).group(1))
    assert options["url"].startswith("/overview/wards/{z}/{x}/{y}.json?v=")
    features = _all_tiles(client, options["url"], inview.BANDS[1].tile_zoom)
    by_code = {f["properties"]["ward_code"]: f["properties"] for f in features}
    assert sorted(by_code) == sorted(wards["ward_code"])
    assert all(set(p) == {"ward_name", "ward_code", "borough_name"} for p in by_code.values())
    assert client.get("/overview/wards/3/1/1.json").status_code == 404
    # nor the borough outlines, the names or the groups' counts per ward: fetched
    assert '"coordinates"' not in page and '"items":' not in page
    assert "kind: kind, counts:" not in page and 'countsUrl: "/overview/counts.json?v=' in page
    boroughs = Workspace(shared_demo).read_layer("boroughs")
    outlines = _all_tiles(client, "/overview/outlines/boroughs/{z}/{x}/{y}.json",
                          inview.BANDS[2].tile_zoom)
    assert {f["properties"]["borough_code"] for f in outlines} == set(boroughs["borough_code"])
    small = _client(shared_demo).get("/").data.decode()
    counts = json.loads(client.get("/overview/counts.json").data)["rows"]
    assert counts and counts == json.loads(COUNTS.search(small).group(1))
    labels = re.search(r'fetch\("(/overview/labels\.json[^"]*)"', page).group(1)
    sets = json.loads(client.get(labels.replace("\\u0026", "&")).data)["sets"]
    assert [len(s["items"]) for s in sets] == [len(boroughs), len(wards)]


def _outline_tile(client, kind: str, z: int, x: int, y: int, query: str = "") -> list[dict]:
    answer = client.get(f"/priority/outlines/{kind}/{z}/{x}/{y}.json{query}")
    assert answer.status_code == 200, answer.data[:200]
    return json.loads(answer.data)["features"]


@pytest.mark.parametrize("kind", ["boroughs", "cans"])
def test_outline_tiles_match_a_brute_force_answer(shared_demo, wards, kind):
    import shapely

    from mapper.geo import to_display
    from mapper.maps.base import simplified

    client = _client(shared_demo, INVIEW_WARDS=1)
    key = "borough_code" if kind == "boroughs" else "can_id"
    boroughs = Workspace(shared_demo).read_layer("boroughs")
    band = inview.BANDS[3]
    z = band.tile_zoom
    # the demo area's tiles at this band's zoom
    west, south, east, north = to_display(wards.geometry).total_bounds
    x0, y0 = _tile_of(west, north, z)
    x1, y1 = _tile_of(east, south, z)
    seen: dict[str, dict] = {}
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            box = shapely.box(*inview.tile_bounds(z, x, y))
            got = {f["properties"][key] for f in _outline_tile(client, kind, z, x, y)}
            # brute force: every outline's shape of this band tested against the box
            if kind == "boroughs":
                shapes = to_display(simplified(boroughs.geometry, band.tolerance_m)).values
                codes = boroughs["borough_code"].astype(str).tolist()
            else:
                ward_shapes = to_display(simplified(wards.geometry, band.tolerance_m)).values
                codes = sorted(wards["can_id"].dropna().astype(str).unique())
                shapes = [shapely.boundary(shapely.union_all(
                    ward_shapes[(wards["can_id"] == c).to_numpy()])) for c in codes]
            expected = {c for c, s in zip(codes, shapes, strict=True)
                        if shapely.distance(s, box) < 1e-4}
            sure = {c for c, s in zip(codes, shapes, strict=True)
                    if shapely.intersects(s, shapely.buffer(box, -1e-4))}
            assert sure <= got <= expected, (x, y)
            for f in _outline_tile(client, kind, z, x, y):
                seen[f["properties"][key]] = f
    if kind == "boroughs":
        assert sorted(seen) == sorted(boroughs["borough_code"].astype(str))
        assert {f["properties"]["borough_name"] for f in seen.values()} == set(
            boroughs["borough_name"])
    else:
        assert sorted(seen) == sorted(wards["can_id"].dropna().astype(str).unique())
        for can_id, feature in seen.items():
            # a line following the CAN's wards' edges, its label inside them
            assert feature["geometry"]["type"] in ("LineString", "MultiLineString")
            members = to_display(wards[wards["can_id"] == can_id].geometry)
            lat, lon = feature["properties"]["label_at"]
            assert shapely.union_all(members.values).buffer(1e-4).contains(
                shapely.Point(lon, lat))
            line = shapely.from_geojson(json.dumps(feature["geometry"]))
            assert shapely.hausdorff_distance(
                line, shapely.boundary(shapely.union_all(members.values))) < 0.01


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2 ** z
    rad = math.radians(lat)
    return (int((lon + 180) / 360 * n),
            int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n))


def test_outline_tiles_show_only_the_pages_cans_and_refuse_bad_asks(shared_demo, wards):
    from mapper.web import wardtiles

    client = _client(shared_demo, INVIEW_WARDS=1)
    everyone = set(wards["can_id"].dropna().astype(str))
    z = inview.BANDS[0].tile_zoom
    x, y = _tile_of(*wards.to_crs(4326).geometry.union_all().centroid.coords[0], z)
    every = {f["properties"]["can_id"] for f in _outline_tile(client, "cans", z, x, y)}
    assert every == everyone and len(everyone) > 1
    # a page of some wards (a borough's) shows only their CANs' outlines
    app = client.application
    some = wards[wards["can_id"] == sorted(everyone)[0]]
    with app.test_request_context("/"):
        texts = wardtiles.outline_properties("cans", some)
        codes = wardtiles.outline_bands("cans")[0]
    assert {c for c, t in zip(codes, texts, strict=True) if t is not None} == {
        sorted(everyone)[0]}
    assert client.get(f"/priority/outlines/lakes/{z}/{x}/{y}.json").status_code == 404
    assert client.get("/priority/outlines/cans/11/1/1.json").status_code == 404


COUNTS = re.compile(r"kind: kind, counts: (\[.*?\]),\n", re.S)


def test_large_map_fetches_its_names_and_counts_not_embedding_them(shared_demo, wards):
    """Above the rule the page embeds neither the area names nor the counts per ward:
    the map fetches them (the same as a small page embeds) when they first show."""
    small = _client(shared_demo).get("/priority?incidents_from=2024-09").data.decode()
    embedded = [json.loads(c) for c in COUNTS.findall(small)]
    assert len(embedded) == 3 and all(embedded)  # groups, premises, incidents
    client = _client(shared_demo, INVIEW_WARDS=1)
    page = client.get("/priority?incidents_from=2024-09").data.decode()
    assert not COUNTS.search(page) and '"items":' not in page
    urls = re.findall(r'countsUrl: "([^"]+)"', page)
    assert [u.split("?")[0] for u in urls] == [f"/priority/counts/{k}.json" for k in
                                             ("groups", "premises", "incidents")]
    assert "incidents_from=2024-09" in urls[2].replace("\\u0026", "&")
    fetched = []
    for url in urls:
        answer = client.get(url.replace("\\u0026", "&"))
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "public, max-age=86400"
        fetched.append(json.loads(answer.data)["rows"])
    assert fetched == embedded
    # the names: what the small page embeds, from the labels URL
    labels = re.search(r'fetch\("(/priority/labels\.json[^"]*)"', page).group(1)
    sets = json.loads(client.get(labels.replace("\\u0026", "&")).data)["sets"]
    small_sets = json.loads(re.search(r"\}\)\(map_\w+, (\[\{.*?\}\])\);\n", small,
                                      re.S).group(1))
    assert sets == small_sets and [len(s["items"]) for s in sets] == [
        Workspace(shared_demo).read_layer("boroughs")["borough_name"].notna().sum(),
        len(wards)]
    assert client.get("/priority/counts/lakes.json").status_code == 404
    assert client.get("/priority/counts/groups.json?borough=Nowhere").status_code == 400


def test_warm_up_makes_what_a_large_map_fetches(shared_demo, tmp_path, monkeypatch):
    """After the warm-up the first visitor's names and counts are made already: fetching
    them makes nothing (no first request waits for them)."""
    import shutil

    from mapper.maps import base, points
    from mapper.web import priority

    directory = tmp_path / "ws"
    shutil.copytree(shared_demo, directory)
    made: list[str] = []
    real_counts, real_sets = points.ward_count_rows, base.area_label_sets

    def counts(*args, **kwargs):
        made.append(f"counts:{args[1]}")
        return real_counts(*args, **kwargs)

    def sets(*args, **kwargs):
        made.append("labels")
        return real_sets(*args, **kwargs)

    monkeypatch.setattr(priority, "ward_count_rows", counts)
    monkeypatch.setattr(priority, "area_label_sets", sets)
    app = create_app({"TESTING": True, "WORKSPACE": str(directory), "TILES": "none",
                      "INVIEW_WARDS": 1}, warm=True)
    assert sorted(made) == ["counts:groups", "counts:incidents", "counts:premises",
                            "labels"]
    made.clear()
    client = app.test_client()
    page = client.get("/priority").data.decode()
    urls = re.findall(r'countsUrl: "([^"]+)"', page)
    urls.append(re.search(r'fetch\("(/priority/labels\.json[^"]*)"', page).group(1))
    for url in urls:
        assert client.get(url.replace("\\u0026", "&")).status_code == 200
    assert len(urls) == 4 and made == []
