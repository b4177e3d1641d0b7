"""Contact details reach only the users allowed to see them."""

from __future__ import annotations

import pytest
from accounts import sign_in

from mapper import overlay
from mapper.analysis_run import analyse
from mapper.config import Settings
from mapper.store import Workspace
from mapper.web import create_app


@pytest.fixture
def demo_app(demo_copy):
    return create_app({"TESTING": True, "WORKSPACE": str(demo_copy)})


def _groups(client, url="/api/groups"):
    response = client.get(url)
    assert response.status_code == 200
    return response, {f["id"]: f["properties"] for f in response.get_json()["features"]}


def test_public_answers_have_no_contacts(demo_app):
    response, groups = _groups(demo_app.test_client())
    assert groups and not any("contact" in p or "phone" in p or "email" in p
                              for p in groups.values())
    assert "@" not in response.get_data(as_text=True)
    assert response.headers.get("Cache-Control") != "no-store"


def test_officers_see_every_contact(demo_app, demo_copy):
    client = sign_in(demo_app.test_client(), "officer")
    response, groups = _groups(client)
    expected = overlay.read_layer(Workspace(demo_copy), "groups").set_index("group_id")
    with_phone = expected["phone"].dropna()
    assert len(with_phone) > 10
    for gid, phone in with_phone.items():
        assert groups[gid]["contact"]["phone"] == phone
    assert response.headers["Cache-Control"] == "no-store"
    response, nearest = _groups(client, "/api/nearest?postcode=ZZ1+1AA&k=5")
    assert len(nearest) == 5 and all("contact" in p for p in nearest.values())


def test_partners_see_contacts_only_in_their_neighbourhoods(demo_app, demo_copy):
    ws = Workspace(demo_copy)
    cans = ws.read_layer("neighbourhoods")
    can = cans.iloc[0]
    wards = set(can["ward_codes"].split("; "))
    client = sign_in(demo_app.test_client(), "partner", areas=[can["can_id"]])
    _, groups = _groups(client)
    inside = {g for g, p in groups.items() if p["ward_code"] in wards}
    assert inside and len(inside) < len(groups)
    assert {g for g, p in groups.items() if "contact" in p} == inside
    # a partner of no neighbourhood sees none
    other = sign_in(demo_app.test_client(), "partner", username="no-can")
    _, groups = _groups(other)
    assert not any("contact" in p for p in groups.values())


def _with_contacts(client) -> set[str]:
    _, groups = _groups(client)
    return {g for g, p in groups.items() if "contact" in p}


def test_partner_grant_keeps_its_wards_when_the_analysis_changes_cans(demo_app, demo_copy):
    ws = Workspace(demo_copy)
    before = ws.read_layer("neighbourhoods", read_geometry=False).set_index("can_id")
    granted = set(before.loc["CAN-01", "ward_codes"].split("; "))
    groups = overlay.read_layer(ws, "groups")
    expected = set(groups.loc[groups["ward_code"].isin(granted), "group_id"])
    partner = sign_in(demo_app.test_client(), "partner", areas=["CAN-01"])
    assert expected and _with_contacts(partner) == expected
    # other weights: CAN-01 is found again (it keeps its id) with other wards
    analyse(ws, Settings(weight_need=0.0, weight_supply=1.0, weight_incidents=0.0,
                         stability_draws=10))
    after = ws.read_layer("neighbourhoods", read_geometry=False).set_index("can_id")
    moved = set(after.loc["CAN-01", "ward_codes"].split("; "))
    assert moved != granted, "the re-analysis must give CAN-01 other wards"
    now_in_can = set(groups.loc[groups["ward_code"].isin(moved), "group_id"])
    assert now_in_can != expected
    # the same session, after the re-analysis: exactly the groups of the granted wards
    assert _with_contacts(partner) == expected
    account = partner.get("/account").get_data(as_text=True)
    assert all(code in account for code in granted) and "CAN-01 (" in account
    assert " as found on " in account
    assert not any(code in account for code in moved - granted)
    # a grant made now resolves CAN-01 as it is now
    fresh = sign_in(demo_app.test_client(), "partner", username="new-partner",
                    areas=["CAN-01"])
    assert _with_contacts(fresh) == now_in_can


def test_grants_of_can_ids_made_before_wards_were_stored_are_migrated(demo_copy, caplog):
    import json
    import sqlite3

    from mapper.appdb import _MIGRATIONS, APP_DB_FILE
    from mapper.users import get_user, list_users

    ws = Workspace(demo_copy)
    (demo_copy / APP_DB_FILE).unlink(missing_ok=True)
    old = sqlite3.connect(demo_copy / APP_DB_FILE)  # a version 1 app database
    for statement in _MIGRATIONS[1]:
        old.execute(statement)
    old.execute("PRAGMA user_version = 1")
    for name, cans in (("old-partner", ["CAN-01", "CAN-77"]), ("officer-1", [])):
        old.execute("INSERT INTO users (username, password_hash, role, neighbourhoods, "
                    "created_at) VALUES (?, 'scrypt:x', ?, ?, '2025-01-01')",
                    (name, "partner" if cans else "officer", json.dumps(cans)))
    old.commit()
    old.close()
    can_wards = ws.read_layer("neighbourhoods", read_geometry=False).set_index(
        "can_id").loc["CAN-01", "ward_codes"].split("; ")
    app = create_app({"TESTING": True, "WORKSPACE": str(demo_copy)})
    with app.app_context():
        user = get_user(ws.appdb, "old-partner")
        assert user.wards == tuple(sorted(can_wards))
        assert user.grant_labels[0].startswith("CAN-01 as analysed ")
        assert get_user(ws.appdb, "officer-1").wards == ()
        assert [u["neighbourhoods"] for u in list_users(ws.appdb)] == [[], []]
    warned = [r.getMessage() for r in caplog.records if "old-partner" in r.getMessage()]
    assert len(warned) == 1 and "dropped CAN-77 (not in the current analysis)" in warned[0]
    audit = ws.appdb.read_audit(register="users", record_id="old-partner")
    assert audit[0]["actor"] == "migration" and "wards " + ", ".join(can_wards) in audit[0][
        "detail"]


def test_incident_page_and_call_sheet_show_contacts_to_officers_only(demo_app, demo_copy):
    groups = overlay.read_layer(Workspace(demo_copy), "groups").set_index("group_id")
    url = "/incident?postcode=ZZ1+1AA&k=5"
    public = demo_app.test_client().get(url)
    officer = sign_in(demo_app.test_client(), "officer")
    page = officer.get(url)
    assert public.status_code == page.status_code == 200
    public_text, text = public.get_data(as_text=True), page.get_data(as_text=True)
    phones = [p for p in groups["phone"].dropna() if p in text]
    assert len(phones) >= 3, "the officer sees the nearest groups' phone numbers"
    assert not any(p in public_text for p in groups["phone"].dropna())
    assert "mailto:" in text and "mailto:" not in public_text
    assert page.headers["Cache-Control"] == "no-store"
    sheet = officer.get(url.replace("/incident", "/incident/callsheet"))
    assert any(p in sheet.get_data(as_text=True) for p in phones)


def test_neighbourhood_page_shows_contacts_to_its_partners(demo_app, demo_copy):
    ws = Workspace(demo_copy)
    can = ws.read_layer("neighbourhoods").iloc[0]
    wards = can["ward_codes"].split("; ")
    groups = overlay.read_layer(ws, "groups")
    inside = groups[groups["ward_code"].isin(wards)]
    phones = list(inside["phone"].dropna())
    outside = groups[~groups["ward_code"].isin(wards)].dropna(subset=["phone"])
    ward = outside["ward_code"].iloc[0]
    phones_there = list(outside.loc[outside["ward_code"] == ward, "phone"])
    assert phones and phones_there
    partner = sign_in(demo_app.test_client(), "partner", areas=[can["can_id"]])
    page = partner.get(f"/neighbourhood/{can['can_id']}").get_data(as_text=True)
    assert all(p in page for p in phones)
    page = partner.get(f"/ward/{ward}").get_data(as_text=True)
    assert not any(p in page for p in phones_there)
    officer = sign_in(demo_app.test_client(), "officer")
    page = officer.get(f"/ward/{ward}").get_data(as_text=True)
    assert all(p in page for p in phones_there)
    public = demo_app.test_client().get(f"/neighbourhood/{can['can_id']}")
    assert not any(p in public.get_data(as_text=True) for p in phones)


def _views(demo_copy) -> list[dict]:
    rows = Workspace(demo_copy).appdb.read_audit(register="groups")
    return [r for r in rows if r["action"] == "view"]


def test_every_response_showing_contacts_writes_one_audit_row_with_the_count(demo_app,
                                                                             demo_copy):
    groups = overlay.read_layer(Workspace(demo_copy), "groups")
    shown = groups[groups[["contact_name", "phone", "email", "website"]].notna().any(axis=1)]
    officer = sign_in(demo_app.test_client(), "officer")
    public = demo_app.test_client()

    for client in (public, officer):
        assert client.get("/api/groups").status_code == 200
    rows = _views(demo_copy)
    assert len(rows) == 1  # the officer's list; the public one showed no contacts
    (row,) = rows
    assert row["actor"] == "test-officer" and row["record_id"] == ""
    assert row["detail"] == f"GET /api/groups: contact details of {len(shown):,} groups"
    assert len(shown) > 50 and set(row["fields"]) == {"contact_name", "phone", "email",
                                                        "website"}

    officer.get("/api/nearest?postcode=ZZ1+1AA&k=5")
    officer.get("/incident/callsheet?postcode=ZZ1+1AA&k=7")
    officer.get("/api/nearest?postcode=ZZ1+1AA&k=1")
    public.get("/api/nearest?postcode=ZZ1+1AA&k=5")
    details = [r["detail"] for r in _views(demo_copy)[:3]]  # newest first
    nearest_one = _views(demo_copy)[0]
    assert details == ["GET /api/nearest: contact details of 1 group",
                       "GET /incident/callsheet: contact details of 7 groups",
                       "GET /api/nearest: contact details of 5 groups"]
    assert nearest_one["record_id"]  # one group: named
    assert len(_views(demo_copy)) == 4
    assert not any("ZZ1" in r["detail"] for r in _views(demo_copy))  # no query strings


def test_a_partners_list_is_audited_with_the_groups_it_showed(demo_app, demo_copy):
    ws = Workspace(demo_copy)
    can = ws.read_layer("neighbourhoods").iloc[0]
    client = sign_in(demo_app.test_client(), "partner", areas=[can["can_id"]])
    features = client.get("/api/groups").get_json()["features"]
    count = sum("contact" in f["properties"] for f in features)
    assert 0 < count < len(features)
    (row,) = _views(demo_copy)
    plural = "group" if count == 1 else "groups"
    assert row["detail"] == f"GET /api/groups: contact details of {count:,} {plural}"
    assert row["actor"] == "test-partner"
