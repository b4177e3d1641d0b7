"""The editing JSON API (POST/GET/PATCH/DELETE /api/<register>[/<id>][/verify]) through
Flask's test client, on copies of the synthetic demo: create, read with ETag, patch with
If-Match or a version member, 428/409/400/404/415 answers, verify, retire, CSRF, roles,
the audit trail and the OpenAPI description. The nearest-groups answers must show every
change at once."""

from __future__ import annotations

import json

import pytest
from accounts import sign_in
from demo_editing import *  # noqa: F403 - the fixtures (demo_editing.__all__)
from demo_editing import (
    POSTCODE,
    POSTCODE_WARD,
    TODAY,
    _to_grid,
    _to_lonlat,
    audit_rows,
    headers,
    nearest_ids,
    ward_at,
    ward_point,
)
from expected import personal_keys

from mapper import overlay
from mapper.editing import current_record


def error_of(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(
        as_text=True)[:500])
    assert response.is_json
    return response.get_json()


# -- create and read ----------------------------------------------------------------------


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL
def test_create_answers_201_with_location_and_the_record(app, officer, ws, wards):
    x, y, lat, lon = ward_point(wards, "E05990007")
    expected_ward = ward_at(wards, x, y)
    assert nearest_ids(officer, lat=round(lat, 6), lon=round(lon, 6))[0][1] > 0  # cached
    body = {"name": "Zqxville Warm Space", "category": "community centre",
            "lat": round(lat, 6), "lon": round(lon, 6), "email": "warm@example.org",
            "emergency_offer": "rest centre; volunteers"}
    response = officer.post("/api/groups", json=body, headers=headers(officer))
    assert response.status_code == 201, response.get_data(as_text=True)
    record = response.get_json()
    new_id = record["group_id"]
    assert response.headers["Location"] == f"/api/groups/{new_id}"
    assert response.headers["ETag"] == '"v1"' and record["version"] == 1
    assert record["ward_code"] == expected_ward == "E05990007"
    gx, gy = _to_grid.transform(round(lon, 6), round(lat, 6))
    assert abs(record["x"] - gx) < 0.02 and abs(record["y"] - gy) < 0.02
    assert abs(record["lat"] - lat) < 1e-5 and abs(record["lon"] - lon) < 1e-5
    assert record["last_verified"] == TODAY and record["email"] == "warm@example.org"
    assert record["retired"] is False and record["source"] == "web"
    again = officer.get(response.headers["Location"])
    assert again.get_json() == record and again.headers["ETag"] == '"v1"'
    assert again.headers["Cache-Control"] == "no-store"
    # the nearest-groups index has it at once, distance ~0
    first = nearest_ids(officer, lat=round(lat, 6), lon=round(lon, 6))[0]
    assert first == (new_id, 0)
    # and the public list has it, without its contacts
    public = app.test_client().get("/api/groups?q=zqxville").get_json()
    assert [f["id"] for f in public["features"]] == [new_id]
    assert not personal_keys(public)


def test_create_by_postcode(officer, ws):
    response = officer.post("/api/premises", json={
        "name": "Quayside Hall", "type": "hall", "postcode": POSTCODE.lower().replace(" ", ""),
        "capacity": 40, "step_free": "yes"}, headers=headers(officer))
    assert response.status_code == 201, response.get_data(as_text=True)
    record = response.get_json()
    assert record["ward_code"] == POSTCODE_WARD and record["location_source"] == "postcode"
    assert record["capacity"] == 40 and record["step_free"] is True


def test_read_the_full_record_with_its_etag(app, officer, ws):
    response = officer.get("/api/groups/demo-g001")
    assert response.status_code == 200 and response.headers["ETag"] == '"v1"'
    record = response.get_json()
    stored, _, _ = current_record(ws, "groups", "demo-g001")
    assert record["phone"] == stored["phone"] and record["email"] == stored["email"]
    assert record["version"] == 1 and record["retired"] is False
    assert record["name"] == stored["name"] and 51 < record["lat"] < 52
    cached = officer.get("/api/groups/demo-g001", headers={"If-None-Match": '"v1"'})
    assert cached.status_code == 304 and cached.data == b""
    assert "nope" in error_of(officer.get("/api/groups/nope"), 404)["error"]
    assert officer.get("/api/shops/demo-g001").status_code == 404
    assert error_of(app.test_client().get("/api/groups/demo-g001"), 401)["error"]
    partner = sign_in(app.test_client(), "partner")
    assert "officer" in error_of(partner.get("/api/groups/demo-g001"), 403)["error"]


# -- changing -----------------------------------------------------------------------------


def test_patch_with_if_match_or_a_version_member(officer, ws):
    response = officer.patch("/api/groups/demo-g010", json={"name": "Patched"},
                             headers=headers(officer, 1))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["ETag"] == '"v2"' and response.get_json()["name"] == "Patched"
    response = officer.patch("/api/groups/demo-g010", json={"faith": "Quaker", "version": 2},
                             headers=headers(officer))
    assert response.status_code == 200 and response.get_json()["version"] == 3
    record, version, _ = current_record(ws, "groups", "demo-g010")
    assert (record["name"], record["faith"], version) == ("Patched", "Quaker", 3)
    weak = officer.patch("/api/groups/demo-g010", json={"faith": "Friends"},
                         headers=headers(officer, **{"If-Match": 'W/"v3"'}))
    assert weak.status_code == 200


def test_patch_without_a_version_is_428_and_changes_nothing(officer, ws):
    message = error_of(officer.patch("/api/groups/demo-g011", json={"name": "X"},
                                     headers=headers(officer)), 428)["error"]
    assert "If-Match" in message and "version" in message
    assert current_record(ws, "groups", "demo-g011")[1] == 1 and audit_rows(ws) == []


@pytest.mark.parametrize(("extra", "body", "word"), [
    ({"If-Match": "3"}, {"name": "X"}, "If-Match"),
    ({"If-Match": "*"}, {"name": "X"}, "If-Match"),
    ({"If-Match": '"v1"'}, {"name": "X", "version": 2}, "version 2"),
    ({}, {"name": "X", "version": "1"}, "version"),
    ({}, {"name": "X", "version": True}, "version"),
])
def test_malformed_versions_are_400(officer, ws, extra, body, word):
    assert word in error_of(officer.patch("/api/groups/demo-g011", json=body,
                                          headers=headers(officer, **extra)), 400)["error"]
    assert current_record(ws, "groups", "demo-g011")[1] == 1


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL
def test_stale_patch_is_409_naming_what_changed(app, ws):
    alice = sign_in(app.test_client(), "officer", username="alice")
    bob = sign_in(app.test_client(), "officer", username="bob")
    seen_a = alice.get("/api/groups/demo-g012").headers["ETag"]
    seen_b = bob.get("/api/groups/demo-g012").headers["ETag"]
    assert seen_a == seen_b == '"v1"'
    first = alice.patch("/api/groups/demo-g012", json={"name": "A", "opening_hours": "Mo"},
                        headers=headers(alice, **{"If-Match": seen_a}))
    assert first.status_code == 200
    conflict = error_of(bob.patch("/api/groups/demo-g012", json={"description": "B"},
                                  headers=headers(bob, **{"If-Match": seen_b})), 409)
    assert conflict["changed"] == ["name", "opening_hours"]
    assert conflict["current_version"] == 2 and conflict["changed_by"] == "alice"
    assert conflict["changed_at"].startswith(TODAY[:4])
    assert "alice" in conflict["error"] and "name, opening_hours" in conflict["error"]
    record, version, _ = current_record(ws, "groups", "demo-g012")
    assert version == 2 and record["description"] != "B"
    # a second edit: the conflict names every field changed since version 1
    alice.patch("/api/groups/demo-g012", json={"languages": "Welsh"},
                headers=headers(alice, 2))
    later = error_of(bob.patch("/api/groups/demo-g012", json={"description": "B"},
                               headers=headers(bob, 1)), 409)
    assert later["changed"] == ["languages", "name", "opening_hours"]
    assert later["current_version"] == 3
    assert bob.patch("/api/groups/demo-g012", json={"description": "B"},
                     headers=headers(bob, 3)).status_code == 200


def test_every_invalid_field_is_reported_at_once(officer, ws):
    body = {"name": "", "category": "pubs", "email": "not-an-email", "phone": "call me",
            "website": "ftp://x.org", "colour": "red", "lat": 40.0, "lon": -0.1}
    answer = error_of(officer.patch("/api/groups/demo-g013", json=body,
                                    headers=headers(officer, 1)), 400)
    fields = [p["field"] for p in answer["problems"]]
    assert sorted(fields) == sorted(["colour", "name", "category", "email", "phone",
                                     "website", "lat/lon"])
    assert all(set(p) == {"field", "value", "expected"} for p in answer["problems"])
    by_field = {p["field"]: p for p in answer["problems"]}
    assert by_field["category"]["value"] == "pubs"
    assert "faith" in by_field["category"]["expected"]
    assert "Great Britain" in by_field["lat/lon"]["expected"]
    assert "not-an-email" not in json.dumps(answer) and "call me" not in json.dumps(answer)
    assert answer["error"].startswith("the groups record has 7 problems; nothing saved")
    assert current_record(ws, "groups", "demo-g013")[1] == 1 and audit_rows(ws) == []
    # a latitude that is not a number: the expected form, with no example place
    answer = error_of(officer.patch("/api/groups/demo-g013", json={"lat": "north", "lon": "1"},
                                    headers=headers(officer, 1)), 400)
    expected = {p["field"]: p["expected"] for p in answer["problems"]}["lat/lon"]
    assert expected == "decimal degrees: latitude, then longitude (west of Greenwich negative)"


@pytest.mark.parametrize(("data", "content_type", "status", "words"), [
    ('{"name": "X",}', "application/json", 400, "not valid JSON"),
    ("[1, 2]", "application/json", 400, "not a JSON array"),
    ('"name"', "application/json", 400, "not a JSON string"),
    ('{"capacity": NaN}', "application/json", 400, "NaN"),
    ("", "application/json", 400, "no body"),
    ("name=X", "application/x-www-form-urlencoded", 415, "application/json"),
    (b"\xff\xfe", "application/json", 400, "UTF-8"),
])
def test_bad_bodies_are_refused_with_a_reason(officer, ws, data, content_type, status, words):
    response = officer.patch("/api/premises/demo-p003", data=data, content_type=content_type,
                             headers=headers(officer, 1))
    assert words in error_of(response, status)["error"]
    assert current_record(ws, "premises", "demo-p003")[1] == 1


def test_unknown_records_and_registers_are_404(officer, ws):
    for method, url in (("patch", "/api/groups/no-such"), ("delete", "/api/groups/no-such"),
                        ("post", "/api/groups/no-such/verify"), ("patch", "/api/shops/1"),
                        ("post", "/api/shops")):
        response = getattr(officer, method)(url, json={"name": "X"},
                                            headers=headers(officer, 1))
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.is_json


def test_incident_fields_keep_their_types(officer, ws):
    response = officer.patch("/api/incidents/demo-i0003",
                             json={"severity": "4", "outcome": "Closed"},
                             headers=headers(officer, 1))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["severity"] == 4
    problems = error_of(officer.patch("/api/incidents/demo-i0003",
                                      json={"severity": "high", "date": "2999-01-01"},
                                      headers=headers(officer, 2)), 400)["problems"]
    assert sorted(p["field"] for p in problems) == ["date", "severity"]
    # incidents have no last_verified: no verify route
    assert officer.post("/api/incidents/demo-i0003/verify",
                        headers=headers(officer, 2)).status_code == 405


# -- verify and retire ----------------------------------------------------------------------


def test_verify_stamps_today(officer, ws):
    before, _, _ = current_record(ws, "premises", "demo-p004")
    assert before["last_verified"] != TODAY
    assert error_of(officer.post("/api/premises/demo-p004/verify", headers=headers(officer)),
                    428)
    response = officer.post("/api/premises/demo-p004/verify", headers=headers(officer, 1))
    assert response.status_code == 200 and response.headers["ETag"] == '"v2"'
    assert response.get_json()["last_verified"] == TODAY
    after, version, _ = current_record(ws, "premises", "demo-p004")
    assert version == 2 and {k: v for k, v in after.items() if k != "last_verified"} == {
        k: v for k, v in before.items() if k != "last_verified"}
    by_body = officer.post("/api/premises/demo-p004/verify", json={"version": 2},
                           headers=headers(officer))
    assert by_body.status_code == 200 and by_body.get_json()["version"] == 3
    stale = error_of(officer.post("/api/premises/demo-p004/verify",
                                  headers=headers(officer, 1)), 409)
    assert stale["changed"] == ["last_verified"] and stale["current_version"] == 3


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL
def test_delete_retires_it_everywhere(officer, ws):
    groups = overlay.read_layer(ws, "groups")
    point = groups.loc[groups["group_id"] == "demo-g014"].geometry.iloc[0]
    lon, lat = _to_lonlat.transform(point.x, point.y)
    near = {"lat": round(lat, 6), "lon": round(lon, 6), "k": 100}
    assert nearest_ids(officer, **near)[0][0] == "demo-g014"
    assert error_of(officer.delete("/api/groups/demo-g014", headers=headers(officer)), 428)
    response = officer.delete("/api/groups/demo-g014", headers=headers(officer, 1))
    assert response.status_code == 200 and response.get_json()["retired"] is True
    assert "demo-g014" not in [i for i, _ in nearest_ids(officer, **near)]
    assert "demo-g014" not in [f["id"] for f in officer.get("/api/groups").get_json()[
        "features"]]
    assert officer.get("/api/groups/demo-g014").get_json()["retired"] is True
    # a retired record cannot be confirmed
    assert officer.post("/api/groups/demo-g014/verify",
                        headers=headers(officer, 2)).status_code == 400


# -- who may ----------------------------------------------------------------------------------

WRITES = [
    ("post", "/api/groups", {"name": "Hijack", "category": "food", "postcode": POSTCODE}),
    ("patch", "/api/groups/demo-g001", {"name": "Hijack"}),
    ("post", "/api/groups/demo-g001/verify", None),
    ("delete", "/api/groups/demo-g001", None),
]


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_without_the_csrf_header_nothing_changes(officer, ws, method, url, body):
    response = getattr(officer, method)(url, json=body, headers={"If-Match": '"v1"'})
    assert "CSRF" in error_of(response, 400)["error"]
    assert current_record(ws, "groups", "demo-g001")[1:] == (1, False)
    assert len(overlay.read_layer(ws, "groups")) == 80 and audit_rows(ws) == []


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_only_officers_may_write(app, ws, method, url, body):
    anonymous = app.test_client()
    partner = sign_in(app.test_client(), "partner")
    assert error_of(getattr(anonymous, method)(url, json=body,
                                               headers=headers(anonymous, 1)), 401)
    assert error_of(getattr(partner, method)(url, json=body,
                                             headers=headers(partner, 1)), 403)
    assert current_record(ws, "groups", "demo-g001")[1:] == (1, False)
    assert len(overlay.read_layer(ws, "groups")) == 80 and audit_rows(ws) == []
    admin = sign_in(app.test_client(), "admin")
    assert getattr(admin, method)(url, json=body, headers=headers(admin, 1)).status_code in (
        200, 201)


# -- audit and description ------------------------------------------------------------------


@pytest.mark.usefixtures("app_backend")  # SQLite and PostgreSQL
def test_audit_rows_name_fields_not_values(officer, ws):
    secrets = {"contact_name": "Ottoline Mews", "phone": "020 7946 0888",
               "email": "ottoline@example.org"}
    created = officer.post("/api/groups", json={"name": "Mews Club", "category": "youth",
                                                "postcode": POSTCODE} | secrets,
                           headers=headers(officer)).get_json()
    new_id = created["group_id"]
    officer.patch(f"/api/groups/{new_id}", json={"phone": "020 7946 0889"},
                  headers=headers(officer, 1))
    officer.post(f"/api/groups/{new_id}/verify", headers=headers(officer, 2))
    officer.delete(f"/api/groups/{new_id}", headers=headers(officer, 3))
    rows = audit_rows(ws)
    assert [(r["action"], r["actor"], r["record_id"]) for r in rows] == [
        (action, "olive", new_id) for action in ("create", "update", "verify", "retire")]
    assert set(secrets) <= set(json.loads(rows[0]["fields"]))
    assert json.loads(rows[1]["fields"]) == ["phone"]
    assert json.loads(rows[2]["fields"]) == ["last_verified"]
    dump = json.dumps(rows)
    for value in [*secrets.values(), "020 7946 0889"]:
        assert value not in dump


def test_openapi_describes_the_editing_routes(officer):
    document = officer.get("/api/openapi.json").get_json()
    paths = document["paths"]
    assert "get" in paths["/api/groups"] and "post" in paths["/api/groups"]
    assert set(paths["/api/groups/{group_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/api/premises/{premises_id}/verify"]) == {"post"}
    assert "/api/incidents/{incident_id}/verify" not in paths
    patch = paths["/api/groups/{group_id}"]["patch"]
    assert {"200", "400", "401", "403", "404", "409", "428"} <= set(patch["responses"])
    assert [p["name"] for p in patch["parameters"]] == ["group_id", "If-Match",
                                                       "X-CSRF-Token"]
    assert not personal_keys(document)
    # every editing route is described
    rules = {(r.rule, m) for r in officer.application.url_map.iter_rules() if r.endpoint.startswith(
        "edit_api.") for m in r.methods - {"HEAD", "OPTIONS"}}
    described = {(path.replace("{", "<path:").replace("}", ">"), method.upper())
                 for path, item in paths.items() for method in item}
    assert rules <= described, rules - described
