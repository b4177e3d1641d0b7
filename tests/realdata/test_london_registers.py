"""Issue 15 on the real London files (../shared/data/london, see realdata.py), as a duty
officer meets them: no closed record in any nearest answer, no capability without an
origin, no contact pattern in any anonymous response, no computer placeholder on any page
or export for any role. One London build for the run (conftest.shared_london)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from accounts import sign_in
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pyproj import Transformer
from realdata import london_dir
from route_sweep import EMAIL_SEEN, PHONE_SEEN, _url, body_of, is_binary, placeholders, read_text
from shapely import prepared
from shapely.geometry import Point

from mapper import exports, overlay, registers
from mapper.analysis.nearest import NearestIndex
from mapper.geo import grid_from_lonlat
from mapper.store import Workspace
from mapper.web import create_app

pytestmark = pytest.mark.realdata

GIVE_FOOD = "london_food_banks_givefood_2024.csv"
CATEGORIES = (None, *registers.GROUP_CATEGORIES)
ROLES = ("public", "partner", "officer", "admin")
#: Tower Hamlets' Spitalfields and Banglatown ward, around E1 6AN (a partner's grant)
PARTNER_WARD = "E05009333"


@pytest.fixture(scope="module")
def london(shared_london):
    return Workspace(shared_london.directory)


@pytest.fixture(scope="module")
def app(london):
    return create_app({"TESTING": True, "WORKSPACE": str(london.directory), "TILES": "none"})


@pytest.fixture(scope="module")
def groups(london):
    return overlay.read_layer(london, "groups")


@pytest.fixture(scope="module")
def closed_by_source(groups) -> set[str]:
    """The group ids of the records whose publisher marks them closed, read from the source
    file itself (Give Food's ``closed`` column; no other London file has a closure signal
    for groups): brute force, independent of mapper/sources/status.py."""
    food = pd.read_csv(london_dir() / GIVE_FOOD, dtype=str)
    slugs = set(food.loc[food["closed"].str.strip().str.lower() == "true", "slug"])
    assert len(slugs) == 7  # as the data README counts them
    mine = groups[groups["source_file"] == GIVE_FOOD]
    ids = set(mine.loc[mine["source_id"].isin(slugs), "group_id"])
    assert len(ids) == 7
    return ids


@pytest.fixture(scope="module")
def study_area(london):
    boroughs = london.read_layer("boroughs")
    return prepared.prep(boroughs.union_all()), boroughs.total_bounds


@pytest.fixture(scope="module")
def index(groups):
    return NearestIndex(groups)


_TO_LONLAT = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def _brute_force(groups, closed: set[str], x: float, y: float, k: int, category):
    """Distances (whole metres) of the k nearest groups not closed by their source."""
    keep = ~groups["group_id"].isin(closed)
    if category is not None:
        keep &= groups["category"].str.lower() == category
    chosen = groups[keep]
    d = np.hypot(chosen.geometry.x.to_numpy() - x, chosen.geometry.y.to_numpy() - y)
    return [round(v) for v in np.sort(d)[:k]]


def _check_nearest(client, index, groups, closed, lon, lat, k, category):
    query = {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "k": k}
    if category is not None:
        query["category"] = category
    response = client.get("/api/nearest", query_string=query)
    assert response.status_code == 200, (query, response.get_data(as_text=True)[:300])
    features = response.get_json()["features"]
    x, y = grid_from_lonlat(float(query["lon"]), float(query["lat"]))
    expected = _brute_force(groups, closed, x, y, k, category)
    ids = [f["id"] for f in features]
    assert not set(ids) & closed, (query, set(ids) & closed)
    assert all(f["properties"]["status"] != "closed" for f in features), query
    got = [f["properties"]["distance_m"] for f in features]
    assert len(got) == len(expected) and np.allclose(got, expected, atol=1), (query, got,
                                                                               expected)
    answer = index.query(x, y, k=k, category=category)
    assert not set(answer["id"]) & closed, query
    assert np.allclose(answer["distance_m"].to_numpy(), expected, atol=1), query
    return ids


@settings(max_examples=250, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(fx=st.floats(0, 1), fy=st.floats(0, 1), k=st.integers(1, 50),
       category=st.sampled_from(CATEGORIES))
@example(fx=0.5, fy=0.5, k=50, category="food")
def test_no_closed_record_in_any_nearest_answer(app, index, groups, closed_by_source,
                                                study_area, fx, fy, k, category):
    """Random points inside London, every category: /api/nearest and NearestIndex never
    answer a record its publisher marks closed, and answer exactly the brute-force nearest
    of the others (so nothing open is dropped either)."""
    area, (x0, y0, x1, y1) = study_area
    x, y = x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)
    assume(area.contains(Point(x, y)))
    lon, lat = _TO_LONLAT.transform(x, y)
    _check_nearest(app.test_client(), index, groups, closed_by_source, lon, lat, k, category)


def test_at_each_closed_food_bank_the_nearest_food_is_open(app, index, groups,
                                                           closed_by_source):
    """Standing on each closed food bank: it is never answered, not on the API, the
    incident page or the call sheet; the nearest open one is, first."""
    client = app.test_client()
    for group_id in sorted(closed_by_source):
        point = groups.loc[groups["group_id"] == group_id].geometry.iloc[0]
        lon, lat = _TO_LONLAT.transform(point.x, point.y)
        ids = _check_nearest(client, index, groups, closed_by_source, lon, lat, 10, "food")
        assert len(ids) == 10
        for page in ("/incident", "/incident/callsheet"):
            text = client.get(page, query_string={"lat": f"{lat:.6f}", "lon": f"{lon:.6f}",
                                                  "category": "food", "k": 10}).get_data(
                as_text=True)
            assert f'data-group-id="{ids[0]}"' in text, (group_id, page)
            for closed in closed_by_source:
                assert f'data-group-id="{closed}"' not in text, (group_id, page, closed)


def test_closed_records_are_listed_marked_and_filtered(app, closed_by_source):
    """Registers still show closed records, marked, with a filter."""
    client = sign_in(app.test_client(), "officer")
    listed = client.get("/api/groups", query_string={"status": "closed",
                                                      "geometry": "false"}).get_json()
    assert {f["id"] for f in listed["features"]} == closed_by_source
    assert {f["properties"]["status_source"] for f in listed["features"]} == {
        "Give Food marks it closed (column 'closed')"}
    page = client.get("/register/groups", query_string={"status": "closed"}).get_data(
        as_text=True)
    assert "7 groups" in page
    for group_id in closed_by_source:
        assert group_id in page
    assert page.count('class="ed-tag ed-tag--red">Closed<') == 7


# -- capabilities ---------------------------------------------------------------------


def _all_features(client, url: str) -> list[dict]:
    features, following = [], url
    while following:
        body = client.get(following).get_json()
        features += body["features"]
        following = body.get("next")
    return features


def _origins_named(offer, origin) -> bool:
    """Every capability of `offer` has its own origin in `origin`."""
    capabilities = [c.strip() for c in str(offer).split(";") if c.strip()]
    return bool(capabilities) and all(
        f"{c}: from " in str(origin) or str(origin).startswith("confirmed by ")
        for c in capabilities)


def test_no_capability_without_an_origin(app, groups):
    """In the register, every API answer and every page an officer reads: a capability is
    always shown with where it came from; no warm space or mutual-aid group offers
    anything (their files say nothing about it)."""
    offered = groups[groups["emergency_offer"].notna()]
    assert len(offered) == 97 and set(offered["source_file"]) == {GIVE_FOOD}
    assert all(_origins_named(o, s) for o, s in zip(offered["emergency_offer"],
                                                     offered["offer_source"], strict=True))
    assert set(offered["offer_source"].str.extract(r"\((network '[^']+')\)")[0]) == {
        "network 'Trussell Trust'", "network 'Independent'", "network 'IFAN'"}
    for role in ("public", "officer"):
        client = sign_in(app.test_client(), role)
        features = _all_features(client, "/api/groups?geometry=false")
        assert len(features) == len(groups)
        with_offer = [f["properties"] for f in features if f["properties"]["emergency_offer"]]
        assert len(with_offer) == 97
        assert all(_origins_named(p["emergency_offer"], p["offer_source"]) for p in with_offer)
        nearest = client.get("/api/nearest?postcode=E1 2PA&category=food&k=50").get_json()
        assert all(_origins_named(f["properties"]["emergency_offer"],
                                  f["properties"]["offer_source"])
                   for f in nearest["features"])
        for url in ("/incident?postcode=E1 2PA&category=food&k=20",
                    "/incident/callsheet?postcode=E1 2PA&category=food&k=20"):
            text = client.get(url).get_data(as_text=True)
            assert text.count("food: from Give Food (network ") == 20, (role, url)
    bow = groups.loc[groups["group_id"] == "givefood:bow"].iloc[0]
    client = sign_in(app.test_client(), "officer")
    text = client.get(f"/ward/{bow['ward_code']}").get_data(as_text=True)
    assert "food: from Give Food (network &#39;Independent&#39;)" in text


# -- every route, every role ----------------------------------------------------------


def _samples(london, groups) -> dict[str, str]:
    bow = groups.loc[groups["group_id"] == "givefood:bow"].iloc[0]
    return {
        "premises_id": str(overlay.read_layer(london, "premises")["premises_id"].iloc[0]),
        "incident_id": str(overlay.read_layer(london, "incidents")["incident_id"].iloc[0]),
        "can_id": str(london.read_layer("neighbourhoods")["can_id"].iloc[0]),
        "ward_code": PARTNER_WARD, "fmt_name": "csv", "layer": "groups",
        "register": "groups", "record_id": "givefood:bow", "group_id": "givefood:bow",
        "package": "", "filename": "", "token": "no-such-token", "username": "nobody",
        "borough_code": str(bow["borough_code"]),
    }


#: JSON lists whose geometry (numbers only, where neither a contact nor a placeholder can
#: hide) is left out to keep the sweep fast: /api/incidents is 40 MB with it
WITHOUT_GEOMETRY = ("/api/groups", "/api/premises", "/api/incidents", "/api/wards",
                    "/api/neighbourhoods")
#: map data that does not depend on who asks (mapper/web/priority.py never reads the
#: user): swept for the public only
ROLE_BLIND = ("/priority/layers/", "/priority/export.")


def _london_urls(app, london, groups, role: str = "public") -> list[str]:
    """Every GET route of the app (new ones included automatically), with London's
    samples, and the duty officer's searches of issue 15."""
    samples = _samples(london, groups)
    skip = {"static", "vendor.vendor_file", "auth.signout"}
    if role != "public":
        skip |= {"api.docs", "api.openapi"}  # the same for everyone; they document null
    urls = {_url(rule, samples) for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and rule.endpoint not in skip
            and not {"token", "username"} & set(rule.arguments)}
    urls = {f"{u}?geometry=false" if u in WITHOUT_GEOMETRY else u for u in urls}
    warm = groups[groups["source_file"] == "london_warm_spaces_2026-08.csv"]
    samples_of = {
        "/register/groups/": [*groups.loc[groups["contact_notes"].notna(), "group_id"][:3],
                              "givefood:square-mile", warm["group_id"].iloc[0]],
    }
    urls |= {prefix + record for prefix, ids in samples_of.items() for record in ids}
    for postcode in ("E1 6AN", "E1 2PA"):
        for extra in ("&k=50", "&k=50&category=food", "&k=50&category=community centre"):
            urls |= {f"/incident?postcode={postcode}{extra}",
                     f"/incident/callsheet?postcode={postcode}{extra}",
                     f"/api/nearest?postcode={postcode}{extra}"}
    ward, can = PARTNER_WARD, samples["can_id"]
    urls |= {f"/register/premises/{samples['premises_id']}",
             f"/register/incidents/{samples['incident_id']}",
             f"/neighbourhood/{can}/assets.csv", f"/neighbourhood/{can}/assets.geojson"}
    urls |= {f"/ward/{ward}", f"/ward/{ward}/assets.csv", f"/ward/{ward}/assets.geojson",
             *(f"/register/{r}" for r in ("groups", "premises", "incidents")),
             "/register/groups?status=closed", "/api/groups?status=closed&geometry=false",
             *(f"/priority/layers/{layer}.json"
               for layer in ("groups", "premises", "incidents", "gaps"))}
    if role != "public":
        urls = {u for u in urls if not u.startswith(ROLE_BLIND)}
    return sorted(urls)


def _sweep(client, urls) -> dict[str, tuple[int, str, list[str]]]:
    """url -> (status, content type, bodies): a paged JSON list is followed to its end."""
    out = {}
    for url in urls:
        response = client.get(url)
        kind, body = response.content_type or "", body_of(response)
        bodies = [body]
        if response.status_code == 200 and "json" in kind:
            following = json.loads(body).get("next") if body.startswith("{") else None
            while following:
                bodies.append(client.get(following).get_data(as_text=True))
                following = json.loads(bodies[-1]).get("next")
        out[url] = (response.status_code, kind, bodies)
    return out


#: record ids of Mutual Aid Wiki (UUIDs such as 2f0e...-0109-4269-9958-...) are not phones
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


#: every register's CSV and GeoJSON export; the incidents (48,409) as CSV only (the same
#: text cells as their 38 MB GeoJSON, which adds only coordinates)
EXPORTS = (("groups", ".csv"), ("groups", ".geojson"), ("premises", ".csv"),
           ("premises", ".geojson"), ("incidents", ".csv"))


def _contact_patterns(text: str) -> list[str]:
    text = UUID.sub("", text)
    return EMAIL_SEEN.findall(text) + PHONE_SEEN.findall(text)


def test_no_contact_pattern_in_any_anonymous_response(app, london, groups, tmp_path):
    """Every route an anonymous user can GET, the duty officer's searches, and the exports
    made without --include-personal-data: no e-mail address or phone number anywhere (82
    warm-space descriptions and 9 opening-hours texts held them)."""
    responses = _sweep(app.test_client(), _london_urls(app, london, groups))
    answered = {u: r for u, r in responses.items() if r[0] == 200}
    assert len(answered) >= 40, sorted(responses)
    for must in ("/api/groups?geometry=false", "/incident/callsheet?postcode=E1 6AN&k=50",
                 f"/ward/{PARTNER_WARD}/assets.csv", "/priority/layers/groups.json"):
        assert must in answered, must
    found = {u: hits[:3] for u, r in answered.items()
             if (hits := [h for b in r[2] for h in _contact_patterns(b)])}
    assert not found, found
    for register, suffix in EXPORTS:
        path = tmp_path / f"{register}{suffix}"
        exports.export(london, register, path)
        assert _contact_patterns(path.read_text(encoding="utf-8")) == [], path
    # the same pages signed in as an officer do carry them (the sweep can see them)
    officer = sign_in(app.test_client(), "officer")
    callsheet = officer.get("/incident/callsheet?postcode=E1 2PA&category=food&k=50")
    assert len(_contact_patterns(callsheet.get_data(as_text=True))) >= 50


@pytest.mark.parametrize("role", ROLES)
def test_no_placeholder_on_any_london_page_or_export(app, london, groups, role, tmp_path):
    """Issue 15 part 6: every page and export of the London workspace, as each role."""
    client = sign_in(app.test_client(), role, username=f"placeholders-{role}",
                     areas=[PARTNER_WARD] if role == "partner" else ())
    responses = _sweep(client, _london_urls(app, london, groups, role))
    found, seen = {}, 0
    for url, (status, kind, bodies) in responses.items():
        if status >= 300:
            assert status in (302, 400, 401, 403, 404), (url, status)
            continue
        seen += 1
        if url.startswith("/api/docs") or url.startswith("/api/openapi"):
            continue  # they document JSON's null
        if is_binary(kind):
            continue  # a GeoPackage or an image: read by the contact sweep, not here
        bad = placeholders([t for body in bodies for t in read_text(body, kind)])
        if bad:
            found[url] = bad
    assert seen >= {"public": 40, "partner": 35}.get(role, 45), seen
    assert not found, "\n".join(f"{u}: {b}" for u, b in found.items())
    if role == "officer":  # command-line exports are the same whoever runs them
        for register, suffix in EXPORTS:
            path = tmp_path / f"{register}{suffix}"
            exports.export(london, register, path, include_personal_data=True)
            kind = "text/csv" if suffix == ".csv" else "application/json"
            assert placeholders(read_text(path.read_text(encoding="utf-8"), kind)) == [], path


# -- records placed far from their own postcode; links the publisher masked ----------------

WARM_SPACES = "london_warm_spaces_2026-08.csv"
MUTUAL_AID = "london_mutual_aid_groups_2020.csv"
DRAPER_NOTE = "placed 2.7 km from its postcode SE1 6TL: check the location"


def _far_from_postcode() -> set[int]:
    """The rows (as numbered in the file, from 2) of the warm spaces whose published point
    lies more than 1,000 m from the Code-Point Open centroid of the postcode their address
    ends with: brute force from the two files, independent of mapper/sources/points.py."""
    source = london_dir()
    spaces = pd.read_csv(source / WARM_SPACES, dtype=str)
    codes = pd.read_csv(source / "london_postcodes_codepoint_open_2025.csv", dtype=str,
                        usecols=["Postcode", "Eastings", "Northings"])
    where = {p.replace(" ", ""): (float(e), float(n))
             for p, e, n in codes.itertuples(index=False)}
    to_grid = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    rows = set()
    for n, (address, lon, lat) in enumerate(spaces[["address", "lon", "lat"]].itertuples(
            index=False), start=2):
        end = re.search(r"([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})[ ,.]*(?:UK|United Kingdom|"
                        r"England|GB)?[ ,.]*$", str(address), re.IGNORECASE)
        if not end or (end[1] + end[2]).upper() not in where:
            continue
        x, y = to_grid.transform(float(lon), float(lat))
        ex, ny = where[(end[1] + end[2]).upper()]
        if np.hypot(x - ex, y - ny) > 1_000:
            rows.add(n)
    return rows


def test_records_far_from_their_postcode_are_flagged_where_officers_see_them(app, groups):
    """Draper Hall (SE1 6TL), placed by its publisher in the City, is flagged on the
    incident page, the call sheet, /api/nearest and the contact list; the flagged warm
    spaces are exactly those the files put over 1 km from their postcode."""
    spaces = groups[groups["source_file"] == WARM_SPACES]
    flagged = spaces[spaces["location_note"].notna()]
    assert set(flagged["source_row"].astype(int)) == _far_from_postcode() & set(
        spaces["source_row"].astype(int))
    assert len(flagged) == 20
    assert set(groups.loc[groups["location_note"].notna(), "source_file"]) == {WARM_SPACES}
    # the warm spaces' blank postcode column is filled from their addresses
    assert spaces["postcode"].notna().sum() == 916
    draper = groups.loc[groups["name"] == "Draper Hall"].iloc[0]
    assert draper["postcode"] == "SE1 6TL" and draper["location_note"] == DRAPER_NOTE
    for role in ("public", "officer"):
        client = sign_in(app.test_client(), role)
        nearest = client.get("/api/nearest?postcode=E1 6AN&k=10").get_json()
        [found] = [f["properties"] for f in nearest["features"]
                   if f["properties"]["name"] == "Draper Hall"]
        assert found["location_note"] == DRAPER_NOTE
        for url in ("/incident?postcode=E1 6AN&k=10", "/incident/callsheet?postcode=E1 6AN&k=10"):
            text = client.get(url).get_data(as_text=True)
            assert f"Location: {DRAPER_NOTE}" in text, (role, url)
            assert "SE1 6TL, SE1 6TL" not in text  # the postcode is not written twice
    client = sign_in(app.test_client(), "officer")
    scope = f"ward={draper['ward_code']}"
    assert f"Location: {DRAPER_NOTE}" in client.get(f"/contacts?{scope}").get_data(as_text=True)
    assert DRAPER_NOTE in client.get(f"/contacts.csv?{scope}").get_data(as_text=True)


def test_masked_invite_links_are_not_links(app, groups):
    """The 144 mutual-aid rows whose link is 'https://chat.whatsapp.com/[invite-code-removed]'
    keep no website: not in the register, the API, the call sheet or the contact exports."""
    published = pd.read_csv(london_dir() / MUTUAL_AID, dtype=str)
    assert (published["link_facebook"] == "https://chat.whatsapp.com/[invite-code-removed]"
            ).sum() == 144
    assert not groups["website"].astype("string").str.contains("removed", na=False).any()
    client = sign_in(app.test_client(), "officer")
    aid = groups[groups["source_file"] == MUTUAL_AID]
    ward = aid["ward_code"].value_counts().index[0]
    for url in (f"/contacts?ward={ward}", f"/contacts.csv?ward={ward}",
                f"/contacts.vcf?ward={ward}"):
        assert "invite-code-removed" not in client.get(url).get_data(as_text=True), url
