"""The register editing pages (/register/...) through Flask's test client, on copies of the
synthetic demo: list and search, add by postcode, move by lat/lon, validation, conflicts
between two officers, confirm, retire, CSRF, roles, the audit trail and the header link.

Expected wards are worked out independently of the app: a shapely point-in-polygon test
against the wards layer (the app uses mapper.areas)."""

from __future__ import annotations

import json
import re
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from accounts import csrf_token, post, sign_in
from demo_editing import *  # noqa: F403 - the fixtures (demo_editing.__all__)
from demo_editing import (
    POSTCODE,
    POSTCODE_WARD,
    TODAY,
    _to_grid,
    _to_lonlat,
    audit_rows,
    nearest_ids,
    ward_at,
    ward_point,
)

from mapper import overlay
from mapper.editing import current_record
from mapper.store import Workspace
from mapper.web import create_app

# -- helpers ----------------------------------------------------------------------------


class FormReader(HTMLParser):
    """The values a browser would submit from one form of a page (by its id)."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside = form_id, False
        self.fields: list[tuple[str, str]] = []
        self.action = None
        self._select = self._textarea = None
        self._option = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
            if self.inside:
                self.action = a.get("action")
            return
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._option = a.get("name"), None
        elif tag == "option" and self._select and "selected" in a:
            self._option = a.get("value", "")
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), []

    def handle_data(self, data):
        if self._textarea:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            self.fields.append((self._select, self._option or ""))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, "".join(self._text)))
            self._textarea = None


def read_form(html: str, form_id: str = "record-form") -> dict:
    """{name: value or [values]} of a form, as a browser would send it."""
    reader = FormReader(form_id)
    reader.feed(html)
    out: dict = {}
    for name, value in reader.fields:
        if name in out:
            out[name] = (out[name] if isinstance(out[name], list) else [out[name]]) + [value]
        else:
            out[name] = value
    return out


def submit(client, url: str, changes: dict, *, form_id: str = "record-form"):
    """GET the page, change some fields of its form as a person would, POST it."""
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    values = read_form(page.get_data(as_text=True), form_id) | changes
    return client.post(url, data=values)


def text(response) -> str:
    """The page's visible text, whitespace collapsed (tags dropped)."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def banner(response) -> list[str]:
    return [unescape(re.sub(r"\s+", " ", m).strip()) for m in
            re.findall(r'class="ed-banner__text">(.*?)</p>', response.get_data(as_text=True),
                       flags=re.S)]


# -- the list ---------------------------------------------------------------------------


def test_list_searches_filters_and_pages(officer, ws):
    groups = overlay.read_layer(ws, "groups")
    first = officer.get("/register/groups")
    assert first.status_code == 200
    assert f"{len(groups)} groups: 1 to 50" in text(first)
    assert first.get_data(as_text=True).count('href="/register/groups/demo-g') == 50
    second = officer.get("/register/groups?page=2")
    assert f"51 to {len(groups)}" in text(second)
    assert second.get_data(as_text=True).count('href="/register/groups/demo-g') == len(groups) - 50
    # text search: every word must appear
    found = officer.get("/register/groups?q=wrenmoor+methodist")
    assert "1 group" in text(found) and "/register/groups/demo-g001" in found.get_data(
        as_text=True)
    # ward filter: exactly the groups in that ward
    code = groups["ward_code"].value_counts().index[0]
    body = officer.get(f"/register/groups?ward={code}").get_data(as_text=True)
    listed = set(re.findall(r'href="/register/groups/(demo-g\d+)"', body))
    assert listed == set(groups.loc[groups["ward_code"] == code, "group_id"])
    # the list shows last verified, version and source
    row = groups.loc[groups["group_id"] == "demo-g001"].iloc[0]
    assert row["last_verified"] in text(found) and "synthetic demo" in text(found)
    # incidents: newest first
    incidents = officer.get("/register/incidents").get_data(as_text=True)
    newest = overlay.read_layer(ws, "incidents")["date"].max()
    assert f"on {newest}" in re.sub(r"\s+", " ", incidents).split("<tbody>")[1][:2000]
    assert officer.get("/register/shops").status_code == 404
    premises = officer.get("/register/premises")
    assert premises.status_code == 200 and "60 premises: 1 to 50" in text(premises)
    assert officer.get("/register/premises/new").status_code == 200


def test_names_are_shown_as_text(officer, ws):
    from mapper.editing import save_record

    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    save_record(ws, "groups", {"name": hostile, "description": hostile}, actor="tests",
                record_id="demo-g008", expected_version=1)
    for url in ("/register/groups?q=script", "/register/groups/demo-g008",
                "/register/groups/demo-g008/retire"):
        html = officer.get(url).get_data(as_text=True)
        assert "<img src=x" not in html and '<script>alert("x")' not in html, url
        assert "&lt;script&gt;alert(" in html, url


def test_incidents_with_only_a_month_are_titled_by_the_month(officer, ws):
    """police.uk gives a month, never a date: the list says "in March 2024", not "on ?"."""
    incidents = ws.read_layer("incidents")
    first, second = incidents["incident_id"].iloc[0], incidents["incident_id"].iloc[1]
    incidents["date"] = incidents["date"].astype(object)
    incidents.loc[incidents["incident_id"] == first, ["date", "month"]] = [None, "2024-03"]
    incidents.loc[incidents["incident_id"] == second, ["date", "month"]] = [None, None]
    with ws.transaction() as tx:
        tx.write_layer("incidents", incidents)
    kind = incidents.set_index("incident_id")["type"]
    listed = text(officer.get(f"/register/incidents?q={first}"))
    assert f"{kind[first]} in March 2024" in listed and " on ?" not in listed
    assert f"{kind[second]}, date not recorded" in text(
        officer.get(f"/register/incidents?q={second}"))
    assert f"{kind[first]} in March 2024" in text(
        officer.get(f"/register/incidents/{first}/retire"))


def test_no_editing_without_a_register_layer(tiny_workspace):
    client = sign_in(create_app({"TESTING": True, "WORKSPACE": str(tiny_workspace)})
                     .test_client(), "officer")
    assert client.get("/register/groups").status_code == 404
    assert client.get("/register/groups/new").status_code == 404
    # said in words an officer can act on, not as a list of GeoPackage layers
    page = " ".join(client.get("/register/groups").get_data(as_text=True).split())
    assert ("This workspace has no register of voluntary and community groups yet: an "
            "administrator imports one") in page
    assert "layers:" not in page and "Rebuild" not in page
    assert client.get("/register/groups/g1").status_code == 404
    response = client.post("/api/groups", json={"name": "X", "category": "food"},
                           headers={"X-CSRF-Token": csrf_token(client)})
    assert response.status_code == 404 and "groups" in response.get_json()["error"]


def test_header_link_shows_to_officers_only(app, officer):
    assert '<a href="/register"' in officer.get("/").get_data(as_text=True)
    assert officer.get("/register").headers["Location"].endswith("/register/groups")
    anonymous = app.test_client()
    assert 'href="/register"' not in anonymous.get("/").get_data(as_text=True)
    partner = sign_in(app.test_client(), "partner")
    assert 'href="/register"' not in partner.get("/").get_data(as_text=True)


# -- adding and moving ------------------------------------------------------------------


def test_add_a_group_placed_by_postcode(officer, ws, wards):
    postcodes = ws.read_layer("postcodes")
    centroid = postcodes.loc[postcodes["postcode"] == POSTCODE].geometry.iloc[0]
    assert ward_at(wards, centroid.x, centroid.y) == POSTCODE_WARD  # the hand check
    nearest_ids(officer, postcode=POSTCODE)  # warm the nearest-groups cache first
    form = officer.get("/register/groups/new")
    assert form.status_code == 200 and 'id="editor-map"' in form.get_data(as_text=True)
    response = submit(officer, "/register/groups/new", {
        "name": "Riverside Food Bank", "category": "food", "postcode": POSTCODE,
        "phone": "020 7946 0999", "emergency_offer": ["", "food", "volunteers"]})
    assert response.status_code == 303, text(response)[:800]
    new_id = response.headers["Location"].rsplit("/", 1)[1]
    assert new_id.startswith("web-group-")
    page = officer.get(response.headers["Location"])
    ward_name = wards.loc[wards["ward_code"] == POSTCODE_WARD, "ward_name"].iloc[0]
    assert banner(page) == [f"Group added. Saved version 1. It is in {ward_name} ward."]
    record, version, retired = current_record(ws, "groups", new_id)
    assert (version, retired) == (1, False)
    assert record["ward_code"] == POSTCODE_WARD and record["borough_code"] == "E09000099"
    assert (record["x"], record["y"]) == (round(centroid.x, 2), round(centroid.y, 2))
    assert record["location_source"] == "postcode" and record["last_verified"] == TODAY
    assert record["emergency_offer"] == "food; volunteers" and record["source"] == "web"
    # at once: in the register, the API list and first in the nearest-groups answer
    assert new_id in [f["id"] for f in officer.get("/api/groups").get_json()["features"]]
    assert nearest_ids(officer, postcode=POSTCODE)[0] == (new_id, 0)


def test_moving_a_group_by_a_click_position(officer, ws, wards):
    before, _, _ = current_record(ws, "groups", "demo-g001")
    target = next(c for c in wards["ward_code"] if c != before["ward_code"])
    x, y, lat, lon = ward_point(wards, target)
    assert ward_at(wards, x, y) == target
    nearest_ids(officer, lat=round(lat, 6), lon=round(lon, 6))  # warm the cache
    response = submit(officer, "/register/groups/demo-g001",
                      {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}"})
    assert response.status_code == 303, text(response)[:800]
    page = officer.get(response.headers["Location"])
    name = wards.loc[wards["ward_code"] == target, "ward_name"].iloc[0]
    assert banner(page) == [f"Saved version 2. It is in {name} ward."]
    after, version, _ = current_record(ws, "groups", "demo-g001")
    assert version == 2 and after["ward_code"] == target
    gx, gy = _to_grid.transform(round(lon, 6), round(lat, 6))
    assert abs(after["x"] - gx) < 0.02 and abs(after["y"] - gy) < 0.02
    assert after["location_source"] == "map"
    # nothing else changed (the form sent every field back as it was)
    same = [k for k in before if k not in ("x", "y", "lsoa_code", "ward_code",
                                           "borough_code", "location_source")]
    assert {k: after[k] for k in same} == {k: before[k] for k in same}
    assert nearest_ids(officer, lat=round(lat, 6), lon=round(lon, 6))[0][0] == "demo-g001"
    rows = [r for r in audit_rows(ws) if r["action"] == "update"]
    assert [json.loads(r["fields"]) for r in rows] == [["x", "y"]]
    assert rows[0]["actor"] == "olive"


def test_saving_the_form_unchanged_keeps_the_point(officer, ws):
    before, _, _ = current_record(ws, "groups", "demo-g002")
    response = submit(officer, "/register/groups/demo-g002", {"name": "Renamed"})
    assert response.status_code == 303
    after, version, _ = current_record(ws, "groups", "demo-g002")
    assert version == 2 and after["name"] == "Renamed"
    assert {k: v for k, v in after.items() if k != "name"} == {
        k: v for k, v in before.items() if k != "name"}
    assert json.loads(audit_rows(ws)[-1]["fields"]) == ["name"]


def test_premises_and_incident_forms_keep_their_types(officer, ws, wards):
    response = submit(officer, "/register/premises/demo-p001",
                      {"step_free": "no", "capacity": "75"})
    assert response.status_code == 303, text(response)[:800]
    record, _, _ = current_record(ws, "premises", "demo-p001")
    assert record["step_free"] is False and record["capacity"] == 75
    premises = overlay.read_layer(ws, "premises")
    assert not premises.loc[premises["premises_id"] == "demo-p001", "step_free"].iloc[0]
    # an imported incident (severity as a number) saves; placing it by postcode
    response = submit(officer, "/register/incidents/demo-i0001",
                      {"outcome": "Advice given", "place_postcode": POSTCODE})
    assert response.status_code == 303, text(response)[:800]
    record, version, _ = current_record(ws, "incidents", "demo-i0001")
    assert version == 2 and record["outcome"] == "Advice given"
    assert record["severity"] == 1 and record["ward_code"] == POSTCODE_WARD
    # a new incident, placed on the map
    x, y, lat, lon = ward_point(wards, "E05990003")
    response = submit(officer, "/register/incidents/new", {
        "date": "2024-05-01", "type": "Community tension", "severity": "3",
        "lat": f"{lat:.6f}", "lon": f"{lon:.6f}"})
    assert response.status_code == 303, text(response)[:800]
    new_id = response.headers["Location"].rsplit("/", 1)[1]
    record, _, _ = current_record(ws, "incidents", new_id)
    assert record["ward_code"] == ward_at(wards, x, y) == "E05990003"
    assert record["month"] == "2024-05" and record["severity"] == 3


def test_ids_with_a_slash_work(officer, ws):
    """OpenStreetMap premises ids look like osm:node/123."""
    data, _, _ = current_record(ws, "premises", "demo-p002")
    ws.appdb.put_record("premises", "osm:node/123", data | {"premises_id": "osm:node/123"},
                        actor="tests", expected_version=None, action="create")
    page = officer.get("/register/premises/osm:node/123")
    assert page.status_code == 200
    assert 'action="/register/premises/osm:node/123"' in page.get_data(as_text=True)
    response = submit(officer, "/register/premises/osm:node/123", {"name": "Slash Hall"})
    assert response.status_code == 303
    assert current_record(ws, "premises", "osm:node/123")[0]["name"] == "Slash Hall"


# -- validation ----------------------------------------------------------------------------


def test_every_problem_is_listed_at_once_and_the_values_kept(officer, ws):
    response = submit(officer, "/register/groups/demo-g003", {
        "name": "", "category": "pubs", "email": "not-an-email", "website": "ftp://x.org",
        "lat": "abc", "lon": "-0.07"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    summary = html.split('class="ed-error-summary__list"')[1].split("</ul>")[0]
    links = re.findall(r'<a href="#([^"]+)">', summary)
    assert links == ["field-name", "field-category", "field-email", "field-website", "lat"]
    for anchor in links:
        assert f'id="{anchor}"' in html  # every link has a target
    assert "There are 5 problems: nothing was saved" in text(response)
    assert "not-an-email" not in summary  # personal data is not echoed in messages
    values = read_form(html)
    assert values["email"] == "not-an-email" and values["website"] == "ftp://x.org"
    assert values["category"] == "pubs" and values["lat"] == "abc"
    assert values["description"] == current_record(ws, "groups", "demo-g003")[0][
        "description"]
    assert html.count("ed-error-message") >= 5  # each field says what is wrong
    assert "<title>Error:" in html
    assert current_record(ws, "groups", "demo-g003")[1] == 1  # nothing saved
    assert audit_rows(ws) == []


def test_a_new_record_needs_a_point(officer, ws):
    response = submit(officer, "/register/groups/new", {"name": "Nowhere", "category": "food"})
    assert response.status_code == 400
    assert "expected a point" in text(response)
    assert '<a href="#lat">' in response.get_data(as_text=True)
    response = submit(officer, "/register/groups/new", {
        "name": "Nowhere", "category": "food", "postcode": "ZZ99 9ZZ"})
    assert response.status_code == 400 and "ZZ99 9ZZ" in text(response)
    assert '<a href="#field-postcode">' in response.get_data(as_text=True)
    # the missing point is listed with the other problems, not after them
    response = submit(officer, "/register/groups/new", {"category": "food"})
    assert response.status_code == 400
    summary = response.get_data(as_text=True).split("ed-error-summary__list")[1]
    assert re.findall(r'<a href="#([^"]+)">', summary.split("</ul>")[0]) == ["field-name",
                                                                             "lat"]
    assert len(overlay.read_layer(ws, "groups")) == 80


# -- conflicts ------------------------------------------------------------------------------


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL
def test_second_save_over_a_newer_version_is_a_conflict(app, ws):
    alice = sign_in(app.test_client(), "officer", username="alice")
    bob = sign_in(app.test_client(), "officer", username="bob")
    url = "/register/groups/demo-g004"
    form_a = read_form(alice.get(url).get_data(as_text=True))
    form_b = read_form(bob.get(url).get_data(as_text=True))
    assert form_a["version"] == form_b["version"] == "1"
    first = alice.post(url, data=form_a | {"name": "Alice's name", "phone": "020 7946 0555"})
    assert first.status_code == 303
    second = bob.post(url, data=form_b | {"description": "Bob's description"})
    assert second.status_code == 409
    page = text(second)
    assert "alice changed this group while you had it open" in page
    assert "alice saved version 2 at" in page and "you opened version 1" in page
    table = second.get_data(as_text=True).split("ed-conflict__table")[1].split("</table>")[0]
    fields = re.findall(r'<th scope="row">([^<]+)</th>', table)
    assert fields == ["Name", "Phone"]  # exactly what alice changed
    assert "Alice&#39;s name" in table and "020 7946 0555" in table
    assert current_record(ws, "groups", "demo-g004")[0]["description"] != "Bob's description"
    # the form re-applies only bob's change, over alice's version
    again = read_form(second.get_data(as_text=True))
    assert again["version"] == "2" and again["name"] == "Alice's name"
    assert again["description"] == "Bob's description"
    third = bob.post(url, data=again)
    assert third.status_code == 303
    record, version, _ = current_record(ws, "groups", "demo-g004")
    assert version == 3 and record["name"] == "Alice's name"
    assert record["description"] == "Bob's description" and record["phone"] == "020 7946 0555"


# -- confirming and retiring ---------------------------------------------------------------


def test_confirming_stamps_last_verified_today(officer, ws):
    before, _, _ = current_record(ws, "groups", "demo-g005")
    assert before["last_verified"] != TODAY
    page = officer.get("/register/groups/demo-g005").get_data(as_text=True)
    form = read_form(page, "verify-form")
    assert form == {"csrf_token": csrf_token(officer), "version": "1"}
    response = officer.post("/register/groups/demo-g005/verify", data=form)
    assert response.status_code == 303
    assert banner(officer.get(response.headers["Location"])) == [
        f"Confirmed as still right: last verified {TODAY}, saved version 2."]
    after, version, _ = current_record(ws, "groups", "demo-g005")
    assert version == 2 and after["last_verified"] == TODAY
    assert {k: v for k, v in after.items() if k != "last_verified"} == {
        k: v for k, v in before.items() if k != "last_verified"}
    stale = post(officer, "/register/groups/demo-g005/verify", {"version": "1"})
    assert stale.status_code == 409 and "olive changed this group" in text(stale)
    assert "Last verified" in text(stale)
    assert post(officer, "/register/incidents/demo-i0002/verify",
                {"version": "1"}).status_code == 400  # incidents have no such date
    assert post(officer, "/register/groups/demo-g005/verify", {}).status_code == 400


def test_retiring_asks_first_then_removes_it_everywhere(officer, ws):
    groups = overlay.read_layer(ws, "groups")
    row = groups.loc[groups["group_id"] == "demo-g006"].iloc[0]
    lon, lat = _to_lonlat.transform(row.geometry.x, row.geometry.y)
    assert nearest_ids(officer, lat=round(lat, 6), lon=round(lon, 6))[0][0] == "demo-g006"
    ask = officer.get("/register/groups/demo-g006/retire")
    assert ask.status_code == 200 and "Yes, retire it" in text(ask)
    assert current_record(ws, "groups", "demo-g006")[2] is False  # asking changes nothing
    response = post(officer, "/register/groups/demo-g006/retire", {"version": "1"})
    assert response.status_code == 303
    listing = officer.get(response.headers["Location"])
    assert banner(listing)[0].startswith(f"Retired {row['name']} (demo-g006): saved version 2")
    assert "demo-g006" not in listing.get_data(as_text=True).split("</h2>", 2)[-1]
    with_retired = officer.get("/register/groups?retired=1&q=demo-g006")
    assert "Retired" in text(with_retired) and "/register/groups/demo-g006" in (
        with_retired.get_data(as_text=True))
    assert current_record(ws, "groups", "demo-g006")[1:] == (2, True)
    assert "demo-g006" not in [f["id"] for f in officer.get("/api/groups").get_json()[
        "features"]]
    assert "demo-g006" not in [i for i, _ in nearest_ids(officer, lat=round(lat, 6),
                                                         lon=round(lon, 6), k=100)]
    edit = officer.get("/register/groups/demo-g006")
    assert "This group is retired" in text(edit) and "verify-button" not in (
        edit.get_data(as_text=True))


# -- who may: CSRF and roles -----------------------------------------------------------------

ROUTES = [
    ("get", "/register/groups"),
    ("get", "/register/groups/new"),
    ("get", "/register/groups/demo-g001"),
    ("get", "/register/groups/demo-g001/retire"),
    ("post", "/register/groups/new"),
    ("post", "/register/groups/demo-g001"),
    ("post", "/register/groups/demo-g001/verify"),
    ("post", "/register/groups/demo-g001/retire"),
]
CHANGE = {"name": "Hijacked", "category": "food", "postcode": POSTCODE, "version": "1"}


def test_a_post_without_the_csrf_token_changes_nothing(officer, ws):
    for method, url in ROUTES:
        if method == "post":
            response = officer.post(url, data=CHANGE)
            assert response.status_code == 400, url
            assert "CSRF" in text(response)
    assert current_record(ws, "groups", "demo-g001")[1:] == (1, False)
    assert len(overlay.read_layer(ws, "groups")) == 80 and audit_rows(ws) == []


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_only_officers_may_edit(app, ws, method, url):
    anonymous = app.test_client()
    partner = sign_in(app.test_client(), "partner")
    if method == "get":
        response = anonymous.get(url)
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/signin"
        assert partner.get(url).status_code == 403
    else:
        assert post(anonymous, url, CHANGE).status_code == 401
        assert post(partner, url, CHANGE).status_code == 403
    assert current_record(ws, "groups", "demo-g001")[1:] == (1, False)
    assert len(overlay.read_layer(ws, "groups")) == 80 and audit_rows(ws) == []
    admin = sign_in(app.test_client(), "admin")
    if method == "get":
        assert admin.get(url).status_code == 200


# -- the audit trail ----------------------------------------------------------------------


def test_audit_names_fields_never_values(officer, ws, caplog):
    secrets = {"contact_name": "Zebedee Quill", "phone": "020 7946 0777",
               "email": "zebedee.quill@example.org", "website": "https://quill.example.org"}
    with caplog.at_level("DEBUG"):
        response = submit(officer, "/register/groups/demo-g007", secrets)
        assert response.status_code == 303
        response = submit(officer, "/register/groups/new", {
            "name": "Quill Club", "category": "youth", "postcode": POSTCODE} | secrets)
        assert response.status_code == 303
    rows = audit_rows(ws)
    assert [(r["action"], r["actor"]) for r in rows] == [("update", "olive"),
                                                         ("create", "olive")]
    assert json.loads(rows[0]["fields"]) == sorted(secrets)
    assert set(secrets) <= set(json.loads(rows[1]["fields"]))
    dump = json.dumps(rows)
    for value in secrets.values():
        assert value not in dump
        assert value not in caplog.text
    # officers do see them in the form
    html = officer.get("/register/groups/demo-g007").get_data(as_text=True)
    assert all(value in html for value in secrets.values())


def test_an_edits_areas_from_nearby_areas_equal_those_from_every_area(shared_demo):
    """_areas reads only the areas whose bounding box holds the point: brute force over
    every area gives the same codes, on random points, vertices and edges included."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from mapper.areas import assign_areas
    from mapper.editing import _areas
    from mapper.geo import CRS_ANALYSIS
    from mapper.registers import AREA_COLUMNS

    ws = Workspace(shared_demo)
    every = {k: overlay.read_layer(ws, k) for k in ("lsoas", "wards", "boroughs")}
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = every["wards"].total_bounds
    points = [(float(x), float(y)) for x, y in zip(rng.uniform(minx - 500, maxx + 500, 40),
                                                  rng.uniform(miny - 500, maxy + 500, 40),
                                                  strict=True)]
    corners = shapely.get_coordinates(every["wards"].geometry.boundary)  # on shared edges
    points += [tuple(map(float, c)) for c in corners[rng.choice(len(corners), 20)]]
    inside = 0
    for x, y in points:
        frame = gpd.GeoDataFrame(geometry=gpd.points_from_xy([x], [y]), crs=CRS_ANALYSIS)
        found = assign_areas(frame, every)
        expected = {c: (None if found[c].isna().iloc[0] else found[c].iloc[0])
                    for c in AREA_COLUMNS if c in found}
        got = _areas(ws, x, y)
        assert {c: got[c] for c in expected} == expected, (x, y)
        inside += expected["ward_code"] is not None
    assert 20 <= inside < len(points)  # points in wards, on their edges, and outside
