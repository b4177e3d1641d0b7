"""Validation gaps closed (issue 13, item 11): the contact formats and the text limit edits
follow hold for imports and uploads too (one rule, mapper/registers.py); settings refuse
NaN, infinity and out-of-range counts; the edit API answers 400 (never 5xx) to NUL bytes,
lone surrogates, wrong types and huge values; pages showing contacts are never cached;
`mapper audit --since` and `mapper export -o` refuse bad input; NaN coordinates are "no
coordinates", not "outside the study area"."""

from __future__ import annotations

import json

import pytest
from accounts import csrf_token, sign_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from upload_files import *  # noqa: F403 - the fixtures (upload_files.__all__)
from upload_files import FAST, LAT, LON, csv_bytes

from mapper import editing, overlay, registers
from mapper.cli import main
from mapper.config import Settings
from mapper.errors import DataValidationError, MapperError
from mapper.store import Workspace
from mapper.uploads import commit_upload, inspect_upload
from mapper.web import create_app

# -- one rule for contact formats: editor, imports and uploads -------------------------------

CONTACTS = ["name", "category", "latitude", "longitude", "phone", "email", "website"]
#: (field, value, stored value or None when refused)
CASES = [
    ("website", "javascript:alert(document.cookie)", None),
    ("website", "data:text/html;base64,PHNjcmlwdD4=", None),
    ("website", "JaVaScRiPt:alert(1)", None),
    ("website", "vbscript:msgbox(1)", None),
    ("website", "https://example.org/a?b=1", "https://example.org/a?b=1"),
    ("website", "www.example.org", "https://www.example.org"),
    ("website", "Bhupinder Manz", None),
    ("phone", "call me maybe", None),
    ("phone", "020 7946 0000", "020 7946 0000"),
    ("phone", "02078341731x224", "02078341731x224"),
    ("email", "not-an-address", None),
    ("email", "a@b", None),
    ("email", "name@example.org", "name@example.org"),
]


def _row(field: str, value: str, n: int) -> list:
    row = [f"Group {n}", "youth", LAT, LON, "", "", ""]
    row[CONTACTS.index(field)] = value
    return row


def test_uploads_refuse_the_contact_values_the_editor_refuses_row_by_row(ws):
    data = csv_bytes(CONTACTS, [_row(f, v, n) for n, (f, v, _) in enumerate(CASES)])
    report = inspect_upload("contacts.csv", data, ws, limits=FAST, owner="olivia")
    assert report.accepted == len(CASES)  # the records are kept, the bad values left out
    bad_rows = {f: [n + 2 for n, (g, _, out) in enumerate(CASES) if g == f and out is None]
                for f in ("website", "phone", "email")}
    for field, rows in bad_rows.items():
        line = next(w for w in report.warnings if f"column '{field}'" in w)
        assert f"{len(rows)} value{'s' if len(rows) > 1 else ''} left out: not " \
            f"{registers.CONTACT_FORMATS[field]}" in line, line
        assert f"row{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows))})" in line, line
    assert not any("call me maybe" in w or "not-an-address" in w for w in report.warnings)
    commit_upload(report.token, ws, "olivia")
    groups = overlay.read_layer(ws, "groups")
    mine = groups[groups["source_file"] == "contacts.csv"].set_index("name")
    for n, (field, _, stored) in enumerate(CASES):
        got = mine.loc[f"Group {n}", field]
        assert (None if got is None or got != got else got) == stored, (field, got)


@pytest.mark.parametrize(("field", "value", "stored"), CASES)
def test_the_editor_applies_the_same_rule(field, value, stored):
    problems = []
    record = {field: value}
    editing._check_formats("groups", record, lambda *a: problems.append(a))
    if stored is None:
        assert [p[0] for p in problems] == [field]
    else:
        assert not problems and record[field] == stored


def test_import_cuts_text_over_the_edit_limit_and_names_the_rows(ws):
    long = "x" * (registers.MAX_TEXT + 500)
    data = csv_bytes(["name", "category", "latitude", "longitude", "description"],
                     [["Short", "youth", LAT, LON, "fine"], ["Long", "youth", LAT, LON, long]])
    report = inspect_upload("long.csv", data, ws, limits=FAST, owner="olivia")
    assert any("1 value longer than 2,000 characters" in w and "(row 3)" in w
               for w in report.warnings), report.warnings
    commit_upload(report.token, ws, "olivia")
    groups = overlay.read_layer(ws, "groups").set_index("name")
    assert groups.loc["Long", "description"] == "x" * registers.MAX_TEXT
    assert editing.MAX_TEXT is registers.MAX_TEXT  # one constant


def test_nan_coordinates_are_no_coordinates_not_outside_the_area(ws):
    features = [{"type": "Feature", "properties": {"name": n, "category": "youth"},
                 "geometry": {"type": "Point", "coordinates": c}}
                for n, c in (("Good", [LON, LAT]), ("Half", [float("nan"), LAT]),
                             ("Inf", [LON, float("inf")]))]
    data = json.dumps({"type": "FeatureCollection", "features": features},
                      allow_nan=True).encode()
    report = inspect_upload("nan.geojson", data, ws, limits=FAST)
    assert report.accepted == 1
    messages = {p["row"]: p["message"] for p in report.rejected}
    assert set(messages) == {2, 3}
    for message in messages.values():
        assert message.startswith("no coordinates (NaN or infinite)")
        assert "outside" not in message


# -- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_weights_must_be_finite(value):
    with pytest.raises(MapperError, match=r"weight_need=.*expected a number \(not NaN"):
        Settings().updated([f"weight_need={value}"])


@pytest.mark.parametrize(("assignment", "message"), [
    ("stability_draws=-1", "stability_draws must be a whole number of 1 or more"),
    ("stability_draws=0", "stability_draws must be a whole number of 1 or more"),
    ("stability_spread=1.5", "stability_spread must be from 0 to 1"),
    ("can_min_population=-5", "can_min_population must be 0 or more"),
    ("trend_recent_months=0", "trend_recent_months must be 1 or more"),
    ("weight_supply=nan", "expected a number (not NaN or infinity)"),
])
def test_bad_settings_exit_2_with_a_message(demo_copy, capsys, assignment, message):
    code = main(["--workspace", str(demo_copy), "analyse", "--set", assignment])
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and "Internal error" not in err


def test_stored_nan_settings_are_refused_too():
    with pytest.raises(MapperError, match="weight_need must be a finite number"):
        Settings(weight_need=float("nan")).check()


# -- command line -----------------------------------------------------------------------------


def test_audit_since_must_be_a_date(demo_copy, capsys):
    assert main(["--workspace", str(demo_copy), "audit", "--since", "not-a-date"]) == 2
    err = capsys.readouterr().err
    assert "--since" in err and "not-a-date" in err and "%Y-%m-%d" in err
    assert main(["--workspace", str(demo_copy), "audit", "--since", "2020-01-01"]) == 0


def test_export_refuses_a_missing_folder(demo_copy, tmp_path, capsys):
    target = tmp_path / "no" / "such" / "groups.csv"
    assert main(["--workspace", str(demo_copy), "export", "groups", "-o", str(target)]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "create it first" in err
    assert not (tmp_path / "no").exists()
    assert main(["--workspace", str(demo_copy), "export", "groups", "-o",
                 str(tmp_path / "groups.csv")]) == 0


# -- the edit API: NUL, lone surrogates, wrong types, huge values ------------------------------


@pytest.fixture
def officer(demo_copy):
    app = create_app({"TESTING": True, "WORKSPACE": str(demo_copy)})
    client = sign_in(app.test_client(), "officer", username="olive")
    group_id = str(overlay.read_layer(Workspace(demo_copy), "groups")["group_id"].iloc[0])
    return client, group_id


def _send(client, method: str, url: str, body: bytes | None):
    return client.open(url, method=method, data=body, headers={
        "X-CSRF-Token": csrf_token(client), "Content-Type": "application/json"})


@pytest.mark.parametrize(("method", "path", "body", "expected"), [
    ("GET", "/api/groups/{id}%00", None, "is not a record id"),
    ("PATCH", "/api/groups/a%00b", b'{"name": "x", "version": 1}', "is not a record id"),
    ("DELETE", "/api/groups/{id}%00", None, "is not a record id"),
    ("PATCH", "/api/groups/{id}", b'{"name": "\\ud800", "version": 1}', "unpaired surrogates"),
    ("PATCH", "/api/groups/{id}", b'{"description": "a\\u0000b", "version": 1}',
     "without NUL"),
    ("PATCH", "/api/groups/{id}", b'{"\\udc00": "a", "version": 1}', "one of the fields"),
    ("PATCH", "/api/groups/{id}", b'{"name": 1e999, "version": 1}', "a finite number"),
    ("PATCH", "/api/groups/{id}", b'{"name": ["a"], "version": 1}', "not a list"),
    ("POST", "/api/groups", b'{"name": {"a": 1}, "category": "food"}', "not a list"),
])
def test_broken_text_and_types_are_400(officer, method, path, body, expected):
    client, group_id = officer
    response = _send(client, method, path.format(id=group_id), body)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert expected in response.get_json()["error"]


def test_a_huge_version_is_a_conflict_not_a_crash(officer):
    client, group_id = officer
    response = _send(client, "PATCH", f"/api/groups/{group_id}",
                     b'{"name": "x", "version": 99999999999999999999999}')
    assert response.status_code == 409


def test_the_officer_edit_form_and_api_are_never_cached(officer):
    client, group_id = officer
    for url in (f"/register/groups/{group_id}", "/register/groups/new",
                f"/api/groups/{group_id}", "/api/groups/nope%00"):
        response = client.get(url)
        assert response.status_code in (200, 400), (url, response.status_code)
        assert response.headers["Cache-Control"] == "no-store", url


_TEXT = st.text(max_size=30) | \
    st.sampled_from(["\x00", "a\x00", "\ud800", "x\udfff", "\ud83d", "é" * 3000])
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6)
_KEYS = st.sampled_from([*editing.EDITABLE_FIELDS["groups"], "lat", "lon", "x", "y",
                         "version"]) | _TEXT


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.dictionaries(_KEYS, _VALUES, max_size=5),
       method=st.sampled_from(["POST", "PATCH", "DELETE", "VERIFY"]),
       record=st.sampled_from(["{id}", "{id}\x00", "\ud800", "nope", "a" * 5000]))
def test_fuzzed_edit_requests_never_answer_5xx(officer, body, method, record):
    client, group_id = officer
    record_id = record.format(id=group_id).encode("utf-8", "surrogatepass")
    from urllib.parse import quote_from_bytes

    url = "/api/groups" if method == "POST" else f"/api/groups/{quote_from_bytes(record_id)}"
    if method == "VERIFY":
        method, url = "POST", url + "/verify"
    raw = json.dumps(body).encode()  # ensure_ascii: lone surrogates travel as \\udxxx
    response = _send(client, method, url, raw)
    assert response.status_code < 500, (method, url[:80], raw[:200],
                                        response.get_data(as_text=True)[:300])
    assert response.is_json


def test_editing_refuses_what_it_cannot_store():
    with pytest.raises(DataValidationError) as caught:
        editing.validate("groups", {"name": "a\x00", "category": ["food"], "x": float("inf")},
                         workspace=None, previous={"x": 1.0})
    fields = {p.column for p in caught.value.problems}
    assert {"name", "category"} <= fields
