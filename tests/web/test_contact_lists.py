"""Contact lists: which groups a neighbourhood, ward, borough or radius list holds, who may
see it, its CSV and vCard files, and the audit row of every download.

Everything is hand-built on the tiny 3x3 grid (conftest.write_workspace: ward 5 is the
middle square 531000-532000 x 181000-182000; borough E09900001 is the southern row of
wards 1-3). The radius centre, postcode ZZ9 9ZZ, is the middle of ward 5 (531500, 181500).
"""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import pandas as pd
import pytest
from accounts import sign_in
from conftest import grid_wards, write_workspace
from contact_workspace import *  # noqa: F403 - the fixture ws_dir (contact_workspace.__all__)
from contact_workspace import CENTRE, EMAILS, GROUPS, PHONES, POSTCODE, groups_frame
from csvfiles import csv_rows
from shapely.geometry import Point

from mapper import editing, registers, vcard
from mapper.analysis import contacts as lists
from mapper.errors import DataValidationError
from mapper.exports import CONTACT_CSV_COLUMNS
from mapper.sources.columns import header_field
from mapper.store import Workspace
from mapper.web import create_app


@pytest.fixture
def contact_app(ws_dir):
    return create_app({"TESTING": True, "WORKSPACE": str(ws_dir)})


def ids(frame) -> list[str]:
    return list(frame["group_id"])


# -- which groups a list holds --------------------------------------------------------------


def test_radius_lists_hold_groups_up_to_the_circle_nearest_first():
    groups = groups_frame()
    scope = lists.radius_scope(*CENTRE, 500, where="here", audit_where="a point")
    got = lists.select_groups(groups, scope)
    # g5 100 m; g1 500 m on the axis and g3 500 m on the diagonal (3-4-5), by name;
    # g2 at 500.01 m is out; g4 at 100 m is closed
    assert ids(got) == ["g5", "g1", "g3"]
    assert list(got["distance_m"]) == [100, 500, 500]
    assert list(got["status"]) == ["temporarily closed", "open", "unknown"]
    wider = lists.radius_scope(*CENTRE, 501, where="here", audit_where="a point")
    assert ids(lists.select_groups(groups, wider)) == ["g5", "g1", "g3", "g2"]
    assert ids(lists.select_groups(groups, lists.radius_scope(
        *CENTRE, 99, where="h", audit_where="p"))) == []
    assert scope.label == "500 m around here" and scope.audit_label == "500 m around a point"


def test_area_lists_hold_their_wards_in_service_groups_by_ward_then_name():
    groups, wards = groups_frame(), grid_wards()
    names = dict(zip(wards["ward_code"], wards["ward_name"], strict=True))
    cans = pd.DataFrame({"can_id": ["CAN-01"], "name": ["Mid"],
                         "ward_codes": ["E05900005; E05900009"]})

    def listed(kind, code):
        scope = lists.area_scope(kind, code, wards, cans)
        return ids(lists.select_groups(groups, scope, names))

    assert listed("ward", "E05900005") == ["g1", "g5", "g3"]  # alpha, epsilon, gamma
    # Southfield East (g7) before Southfield West (g6)
    assert listed("borough", "E09900001") == ["g7", "g6"]
    # Northbrook East (g8) before St Mary's & Holy Trinity (g1, g5, g3)
    assert listed("neighbourhood", "CAN-01") == ["g8", "g1", "g5", "g3"]
    with pytest.raises(ValueError, match="there is no ward 'E05999999'.*E05900001"):
        lists.area_scope("ward", "E05999999", wards, cans)
    with pytest.raises(ValueError, match="CAN-01 \\(Mid\\)"):
        lists.area_scope("neighbourhood", "CAN-09", wards, cans)
    with pytest.raises(ValueError, match="from 1 to 10,000 metres"):
        lists.radius_scope(*CENTRE, 10_001, where="h", audit_where="p")


def test_roles_and_consent_narrow_a_list():
    selected = lists.select_groups(groups_frame(), lists.area_scope(
        "ward", "E05900005", grid_wards()))
    contacts = {g[0]: {"contact_role": g[6], "emergency_consent": g[7]} for g in GROUPS}
    assert ids(lists.with_roles(selected, contacts, role="general contact")) == ["g3"]
    assert ids(lists.with_roles(selected, contacts, consent="yes")) == ["g1"]
    assert ids(lists.with_roles(selected, {"g3": contacts["g3"]})) == ["g3"]  # only seen ones


# -- the data: vocabularies, editing, import ----------------------------------------------


def test_roles_and_consent_are_read_into_their_vocabularies():
    assert registers.contact_roles("Emergency; Tension monitoring") == (
        "tension-monitoring contact; emergency contact", [])
    assert registers.contact_roles("main contact, treasurer") == (
        "general contact", ["treasurer"])
    assert registers.contact_roles(None) == (None, [])
    assert [registers.consent_answer(v) for v in ("Yes", "declined", "", "not recorded",
                                                  None, True)] == [
        "yes", "no", None, None, None, "yes"]
    with pytest.raises(ValueError, match="yes, no, or blank"):
        registers.consent_answer("maybe")
    assert set(registers.PERSONAL_COLUMNS) >= {"contact_role", "emergency_consent",
                                               "consent_confirmed"}


@pytest.mark.parametrize(("header", "field"), [
    ("Emergency contact consent", "emergency_consent"),
    ("Contact role", "contact_role"),
    ("Consent confirmed", "consent_confirmed"),
    ("contact_role", "contact_role"),
])
def test_headers_of_the_new_columns_are_understood(header, field):
    assert header_field(header)[0] == field


def test_officers_edit_role_and_consent_and_a_new_answer_is_dated_today(ws_dir):
    ws = Workspace(ws_dir)
    _, version = editing.save_record(
        ws, "groups", {"contact_role": "Emergency", "emergency_consent": "Yes"},
        actor="olive", record_id="g5", expected_version=1)
    record, _, _ = editing.current_record(ws, "groups", "g5")
    assert (record["contact_role"], record["emergency_consent"],
            record["consent_confirmed"]) == ("emergency contact", "yes",
                                             date.today().isoformat())
    _, version = editing.save_record(
        ws, "groups", {"emergency_consent": "no", "consent_confirmed": "2026-01-05"},
        actor="olive", record_id="g5", expected_version=version)
    record, _, _ = editing.current_record(ws, "groups", "g5")
    assert (record["emergency_consent"], record["consent_confirmed"]) == ("no", "2026-01-05")
    with pytest.raises(DataValidationError) as caught:
        editing.save_record(ws, "groups", {"contact_role": "boss", "emergency_consent": "maybe",
                                           "consent_confirmed": "2999-01-01"},
                            actor="olive", record_id="g5", expected_version=version)
    fields = {p.column for p in caught.value.problems}
    assert fields == {"contact_role", "emergency_consent", "consent_confirmed"}
    audit = ws.appdb.read_audit(record_id="g5")
    assert "emergency_consent" in audit[0]["fields"]
    assert not any("yes" in str(a["detail"]) for a in audit)


# -- the page ---------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(contact_app):
    client = contact_app.test_client()
    for url in ("/contacts", "/contacts?ward=E05900005", "/contacts.csv?ward=E05900005",
                "/contacts.vcf?ward=E05900005"):
        response = client.get(url)
        assert response.status_code == 302 and "/signin" in response.headers["Location"]
    assert not any(p in client.get("/ward/E05900005").get_data(as_text=True)
                   for p in ("/contacts?", *PHONES))


def test_an_officer_sees_a_ward_list_with_roles_and_consent(contact_app):
    client = sign_in(contact_app.test_client(), "officer")
    response = client.get("/contacts?ward=E05900005")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    order = [text.index(n) for n in ("Alpha Food Bank", "epsilon Residents", "Gamma Mosque")]
    assert order == sorted(order)
    assert "Delta Closed Centre" not in text and "Status: temporarily closed" in text
    assert "tension-monitoring contact; emergency contact" in text
    # dates as the incident page and call sheet write them, not as ISO text
    assert "last confirmed: 1 Oct 2026" in text and "020 7946 0001" in text
    assert "<td>1 Jun 2026</td>" in text and "2026-06-01" not in text
    for token in ("nan", "None", "NaT", "null", "undefined"):
        assert f">{token}<" not in text and f" {token} " not in text
    assert 'href="/contacts.csv?ward=E05900005"' in text
    # the ward and neighbourhood pages link to it (needs the analysis: checked by link)
    assert client.get("/contacts?borough=E09900001").status_code == 200
    bad = client.get("/contacts?ward=E05999999")
    assert bad.status_code == 400 and "there is no ward" in bad.get_data(as_text=True)
    bad = client.get("/contacts?postcode=ZZ9+9ZZ&radius_m=20000")
    assert bad.status_code == 400 and "from 1 to 10,000" in bad.get_data(as_text=True)


def test_a_partner_sees_only_the_groups_of_their_wards(contact_app):
    client = sign_in(contact_app.test_client(), "partner", areas=["E05900005"])
    page = client.get("/contacts").get_data(as_text=True)
    assert 'value="E05900005"' in page and 'value="E05900009"' not in page
    assert 'value="CAN-01"' in page  # it holds a granted ward
    text = client.get("/contacts?neighbourhood=CAN-01").get_data(as_text=True)
    assert "Alpha Food Bank" in text and "Theta Club" not in text
    assert "1 group of this list is in wards not granted to you" in text
    rows = read_csv(client.get("/contacts.csv?ward=E05900009"))
    assert rows == []
    rows = read_csv(client.get("/contacts.csv?borough=E09900001"))
    assert rows == []
    radius = read_csv(client.get(f"/contacts.csv?postcode={POSTCODE}&radius_m=600"))
    assert [r["group_id"] for r in radius] == ["g5", "g1", "g3"]  # g2 (ward 6) left out
    assert not any(p in text for p in ("020 7946 0008",))


# -- the files --------------------------------------------------------------------------------


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.headers["Cache-Control"] == "no-store"
    return csv_rows(response.data)


def test_csv_holds_the_list_exactly_and_never_runs_formulas(contact_app):
    client = sign_in(contact_app.test_client(), "officer")
    rows = read_csv(client.get("/contacts.csv?ward=E05900005"))
    assert [r["group_id"] for r in rows] == ["g1", "g5", "g3"]
    assert list(rows[0]) == [c for c in CONTACT_CSV_COLUMNS if c != "distance_m"]
    assert rows[0] == {
        "name": "Alpha Food Bank", "category": "other", "status": "open",
        "contact_role": "tension-monitoring contact; emergency contact",
        "emergency_consent": "yes", "consent_confirmed": "2026-10-01",
        "contact_name": "Ann Smith, treasurer; lead", "phone": "020 7946 0001",
        "email": "alpha@example.org", "website": GROUPS[0][12],
        "address": "Unit 1, Mill Yard; Back Lane\nSouthside", "postcode": "ZZ1 1ZZ",
        "location_note": "",
        "ward_name": "St Mary's & Holy Trinity", "ward_code": "E05900005",
        "borough_name": "Middleton", "last_verified": "2026-06-01", "group_id": "g1"}
    assert (rows[1]["contact_role"], rows[1]["emergency_consent"], rows[1]["phone"]) == (
        "", "not recorded", "")
    borough = read_csv(client.get("/contacts.csv?borough=E09900001"))
    assert [(r["name"], r["contact_name"]) for r in borough] == [
        ("'@SUM(1+1) Church", "'=HYPERLINK(\"http://x\")"), ("Zeta Advice", "")]
    assert borough[1]["phone"] == "+44 20 7946 0006"  # a phone number is not a formula
    radius = read_csv(client.get(f"/contacts.csv?postcode={POSTCODE}&radius_m=500"))
    assert [(r["group_id"], r["distance_m"]) for r in radius] == [
        ("g5", "100"), ("g1", "500"), ("g3", "500")]
    narrowed = read_csv(client.get("/contacts.csv?neighbourhood=CAN-01&consent=yes"))
    assert [r["group_id"] for r in narrowed] == ["g8", "g1"]
    role = read_csv(client.get("/contacts.csv?borough=E09900001&role=emergency+contact"))
    assert [r["group_id"] for r in role] == ["g6"]


def parse_vcards(text: str) -> list[dict[str, list[tuple[str, str]]]]:
    """Cards as {property: [(parameters, unescaped value)]}, after unfolding."""
    assert "\n" not in text.replace("\r\n", "")  # every line ends CRLF
    raw = text.split("\r\n")
    assert raw[-1] == ""
    assert all(len(line.encode("utf-8")) <= 75 for line in raw)
    lines = "\r\n".join(raw[:-1]).replace("\r\n ", "").split("\r\n")
    cards, card = [], None
    for line in lines:
        head, value = line.split(":", 1)
        name, _, params = head.partition(";")
        if line == "BEGIN:VCARD":
            card = {}
            continue
        if line == "END:VCARD":
            cards.append(card)
            continue
        card.setdefault(name, []).append((params, value))
    return cards


def unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\":
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def test_vcards_parse_back_to_the_list(contact_app):
    client = sign_in(contact_app.test_client(), "officer")
    response = client.get("/contacts.vcf?ward=E05900005")
    assert response.status_code == 200 and response.mimetype == "text/vcard"
    assert response.headers["Cache-Control"] == "no-store"
    assert "contacts-ward-E05900005-" in response.headers["Content-Disposition"]
    cards = parse_vcards(response.get_data(as_text=True))
    assert [unescape(c["FN"][0][1]) for c in cards] == [
        "Alpha Food Bank", "epsilon Residents", "Gamma Mosque"]
    alpha = cards[0]
    assert alpha["VERSION"] == [("", "3.0")]
    assert alpha["TEL"] == [("TYPE=WORK,VOICE", "020 7946 0001")]
    assert alpha["EMAIL"] == [("TYPE=INTERNET", "alpha@example.org")]
    assert unescape(alpha["URL"][0][1]) == GROUPS[0][12]
    adr = alpha["ADR"][0][1]
    assert adr == ";;Unit 1\\, Mill Yard\\; Back Lane\\nSouthside;;;ZZ1 1ZZ;United Kingdom"
    assert alpha["CATEGORIES"] == [("", "tension-monitoring contact,emergency contact")]
    assert unescape(alpha["NOTE"][0][1]) == (
        "Contact: Ann Smith, treasurer; lead. Role: tension-monitoring contact; emergency "
        "contact. Agreed to be contacted in an emergency: yes (last confirmed: 2026-10-01). "
        "Record last verified: 2026-06-01.")
    epsilon = cards[1]
    assert "TEL" not in epsilon and "EMAIL" not in epsilon and "CATEGORIES" not in epsilon
    assert unescape(epsilon["NOTE"][0][1]) == (
        "Role: not recorded. Agreed to be contacted in an emergency: not recorded (last "
        "confirmed: not recorded). Record last verified: 2026-06-01. Status: temporarily "
        "closed.")


def test_folding_never_splits_a_character():
    line = "NOTE:" + "é" * 100
    folded = vcard.fold(line)
    parts = folded.split("\r\n ")
    assert "".join(parts) == line
    assert all(len(p.encode("utf-8")) <= 75 for p in parts[:1])
    assert all(len(p.encode("utf-8")) <= 74 for p in parts[1:])
    assert vcard.escape("a,b;c\\d\r\ne") == "a\\,b\\;c\\\\d\\ne"


def test_every_download_writes_one_audit_row_without_values(contact_app, ws_dir):
    client = sign_in(contact_app.test_client(), "officer")
    db = Workspace(ws_dir).appdb
    before = len(db.read_audit())
    client.get("/contacts.csv?ward=E05900005")
    client.get("/contacts.vcf?neighbourhood=CAN-01&role=tension-monitoring+contact")
    client.get(f"/contacts.csv?postcode={POSTCODE}&radius_m=500")
    client.get("/contacts.csv?ward=E05900001&role=general+contact")  # no group: audited
    rows = db.read_audit()[: len(db.read_audit()) - before]
    exports = [r for r in reversed(rows) if r["action"] == "export"]
    assert [r["detail"] for r in exports] == [
        "GET /contacts.csv: contact list of ward St Mary's & Holy Trinity (E05900005) as CSV:"
        " contact details of 3 groups",
        "GET /contacts.vcf: contact list of neighbourhood CAN-01 Middle and North East, "
        "tension-monitoring contacts as vCard: contact details of 2 groups",
        "GET /contacts.csv: contact list of 500 m around a point in ward St Mary's & Holy "
        "Trinity (E05900005) as CSV: contact details of 3 groups",
        "GET /contacts.csv: contact list of ward Southfield West (E05900001), general "
        "contacts as CSV: contact details of 0 groups"]
    assert all(r["actor"] == "test-officer" for r in exports)
    everything = str(db.read_audit())
    assert POSTCODE not in everything
    assert not any(v in everything for v in (*PHONES, *EMAILS, "Ann Smith"))
    # a refused download is not an export
    client.get("/contacts.csv?ward=E05999999")
    assert len([r for r in db.read_audit() if r["action"] == "export"]) == 4


def test_a_file_with_role_and_consent_columns_imports_them(tmp_path):
    import factories as fx

    from mapper.pipeline import build, import_file

    ws = Workspace(tmp_path / "ws")
    build(fx.write_folder(tmp_path / "in"), ws)
    lon, lat = gpd.GeoSeries([Point(*CENTRE)], crs=27700).to_crs(4326).iloc[0].coords[0]
    path = fx.write_csv(
        tmp_path / "vcs_contacts.csv",
        ["Name", "Contact role", "Emergency contact consent", "Consent confirmed", "Lat",
         "Lon"],
        [["Grid Helpers", "Tension monitoring; Emergency", "Yes", "03/11/2026", lat, lon],
         ["Corner Aid", "Treasurer", "maybe", "", lat, lon],
         ["Quiet Club", "", "", "", lat, lon]])
    lines: list[str] = []
    imported = import_file(path, ws, progress=lines.append)
    got = imported.frame.set_index("name")
    assert imported.kind == "groups"  # the consent and role columns say so
    assert got.loc["Grid Helpers", ["contact_role", "emergency_consent",
                                    "consent_confirmed"]].tolist() == [
        "tension-monitoring contact; emergency contact", "yes", "2026-11-03"]
    assert got.loc["Corner Aid", ["contact_role", "emergency_consent"]].isna().all()
    assert got.loc["Quiet Club", ["contact_role", "emergency_consent",
                                  "consent_confirmed"]].isna().all()
    said = "\n".join([*lines, *map(str, imported.warnings)])
    assert "row 3: a contact role not understood was left out" in said
    assert "row 3: an emergency consent not understood was left as not recorded" in said
    assert "Treasurer" not in said and "maybe" not in said


def test_a_workspace_built_before_the_columns_existed_keeps_edits_to_them(tmp_path):
    directory = write_workspace(tmp_path / "old")
    old = groups_frame().drop(columns=["contact_role", "emergency_consent",
                                       "consent_confirmed"])
    with Workspace(directory).transaction() as tx:
        tx.write_layer("groups", old)
    ws = Workspace(directory)
    editing.save_record(ws, "groups", {"contact_role": "emergency contact",
                                       "emergency_consent": "yes",
                                       "consent_confirmed": "2026-02-03"},
                        actor="olive", record_id="g6", expected_version=1)
    client = sign_in(create_app({"TESTING": True, "WORKSPACE": str(directory)}).test_client(),
                     "officer")
    rows = read_csv(client.get("/contacts.csv?borough=E09900001"))
    assert [(r["group_id"], r["contact_role"], r["emergency_consent"],
             r["consent_confirmed"]) for r in rows] == [
        ("g7", "", "not recorded", ""), ("g6", "emergency contact", "yes", "2026-02-03")]


def test_the_register_form_sets_roles_with_tick_boxes(contact_app, ws_dir):
    from accounts import post

    client = sign_in(contact_app.test_client(), "officer")
    form = client.get("/register/groups/g5").get_data(as_text=True)
    assert form.count('name="contact_role" value="') == 1 + len(registers.CONTACT_ROLES)
    assert "Agreed to be contacted in an emergency" in form and "Not recorded" in form
    response = post(client, "/register/groups/g5", {
        "version": "1", "contact_role": ["", "general contact", "emergency contact"],
        "emergency_consent": "yes", "consent_confirmed": "2026-09-09"})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:400]
    record, version, _ = editing.current_record(Workspace(ws_dir), "groups", "g5")
    assert (record["contact_role"], record["emergency_consent"],
            record["consent_confirmed"], version) == (
        "emergency contact; general contact", "yes", "2026-09-09", 2)
    form = client.get("/register/groups/g5").get_data(as_text=True)
    assert 'value="emergency contact" checked' in form
    assert 'value="tension-monitoring contact" checked' not in form


# -- the incident page and call sheet say what each contact agreed to ---------------------


@pytest.mark.parametrize("path", ["/incident", "/incident/callsheet"])
def test_incident_pages_show_role_and_consent_only_to_those_who_may_see_contacts(
        contact_app, path):
    query = {"postcode": POSTCODE, "k": 8}
    public = contact_app.test_client().get(path, query_string=query)
    assert public.status_code == 200
    text = public.get_data(as_text=True)
    assert "Alpha Food Bank" in text
    assert "Emergency contact:" not in text and "tension-monitoring" not in text
    officer = sign_in(contact_app.test_client(), "officer")
    page = officer.get(path, query_string=query).get_data(as_text=True)
    # g1: both roles, agreed on 1 Oct 2026; g2: no, never confirmed; g5: nothing recorded
    assert ("Role: tension-monitoring contact; emergency contact. Emergency contact: agreed "
            "(confirmed 1 Oct 2026).") in page
    assert "Role: general contact. Emergency contact: did not agree." in page
    # with no role, "Emergency contact: ..." alone read as if that were its role
    assert "Role not recorded. Emergency contact: consent not recorded." in page
    assert "Delta Closed Centre" not in page  # closed: never on an incident list
    # g3 alone has no status from its source: said once, for it; g5 is temporarily closed
    unknown = ("Whether it is running is not recorded" if path == "/incident"
               else "Running: not recorded")
    assert page.count(unknown) == 1 and page.count("Temporarily closed") == 1


def test_an_empty_list_offers_nothing_to_download(contact_app):
    # a partner opening a ward not granted to them (London: 0 groups, "12 ... not shown")
    # was offered a CSV of headers and a 0-byte vCard file
    client = sign_in(contact_app.test_client(), "officer")
    empty = client.get("/contacts?ward=E05900002").get_data(as_text=True)
    assert "No group in this list" in empty
    assert 'id="download-csv"' not in empty and 'id="download-vcf"' not in empty
    full = client.get("/contacts?ward=E05900005").get_data(as_text=True)
    assert 'id="download-csv"' in full and 'id="download-vcf"' in full
