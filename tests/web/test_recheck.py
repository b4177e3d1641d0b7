"""Records due for re-checking: the one verification rule (mapper.analysis.verification),
the "Due for re-checking" pages and their one-click confirm (mapper.web.recheck), the
neighbourhood page's link and ``mapper due``.

Dates are worked out by hand against a fixed "today" (14 Sep 2026); the hand-built
workspace is described in recheck_data.py.
"""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pandas as pd
import pytest
from accounts import csrf_token, post, sign_in
from recheck_data import CAN_DUE, CAN_ID, CAN_NAME, TODAY, write_recheck_workspace

from mapper import overlay
from mapper.analysis import verification
from mapper.analysis.verification import (
    VERIFICATION_MONTHS,
    due_for_recheck,
    due_mask,
    is_due,
    months_before,
)
from mapper.cli import main
from mapper.editing import current_record
from mapper.store import Workspace
from mapper.web import create_app

PLACEHOLDERS = re.compile(r"\b(nan|None|NaT|null|undefined)\b")


# -- the rule --------------------------------------------------------------------------


def test_the_period_is_twelve_months():
    assert VERIFICATION_MONTHS == 12


@pytest.mark.parametrize(
    ("last_verified", "on", "due"),
    [
        ("2025-09-14", date(2026, 9, 14), False),  # exactly 12 months: not yet due
        ("2025-09-13", date(2026, 9, 14), True),  # 12 months and a day
        ("2025-09-15", date(2026, 9, 14), False),
        ("2025-09-14T23:59:00", date(2026, 9, 14), False),  # a time after the date
        ("2024-02-29", date(2025, 2, 28), False),  # no 29 Feb in 2025: the 28th
        ("2024-02-28", date(2025, 3, 1), True),
        ("2025-08-31", date(2026, 9, 30), True),  # 31 Aug + 12 months = 30 Sep at most
        ("2025-09-30", date(2026, 9, 30), False),
        (None, date(2026, 9, 14), True),  # never checked
        ("", date(2026, 9, 14), True),
        (float("nan"), date(2026, 9, 14), True),
        ("last spring", date(2026, 9, 14), True),  # not a date: as never checked
        (date(2025, 9, 14), date(2026, 9, 14), False),
    ],
)
def test_is_due(last_verified, on, due):
    assert is_due(last_verified, on) is due
    assert bool(due_mask(pd.Series([last_verified], dtype="object"), on).iloc[0]) is due
    # the incident page and call sheet read the same rule
    assert verification.verified_note(last_verified, on=on)["stale"] is due


def test_months_before_keeps_the_day_or_takes_the_month_end():
    assert months_before(date(2026, 9, 14)) == date(2025, 9, 14)
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2028, 3, 31), 1) == date(2028, 2, 29)
    assert months_before(date(2026, 1, 15), 13) == date(2024, 12, 15)


def test_due_mask_is_indexed_like_its_input():
    values = pd.Series(["2020-01-01", "2026-09-01", None], index=["c", "a", "b"])
    mask = due_mask(values, TODAY)
    assert mask.to_dict() == {"c": True, "a": False, "b": True}


@pytest.fixture
def ws_dir(tmp_path):
    return write_recheck_workspace(tmp_path / "workspace")


@pytest.fixture
def layers(ws_dir):
    ws = Workspace(ws_dir)
    return {name: overlay.read_layer(ws, name) for name in ("groups", "premises", "ward_summary")}


def test_due_for_recheck_lists_open_records_oldest_first_by_neighbourhood(layers):
    due = due_for_recheck({"groups": layers["groups"], "premises": layers["premises"]},
                          layers["ward_summary"], on=TODAY)
    assert list(due["record_id"]) == [
        "g-never", "p-never",  # never checked, by name
        "g-out",  # 1 May 2020
        "g-temp",  # 1 Jan 2024 (temporarily closed is still in service)
        "p-leap",  # 29 Feb 2024
        "g-old",  # 3 Jul 2025
        "g-dayafter",  # 13 Sep 2025
    ]
    by_id = due.set_index("record_id")
    assert by_id.loc["g-never", "can_id"] == CAN_ID and by_id.loc["p-never", "can_id"] == CAN_ID
    assert pd.isna(by_id.loc["g-out", "can_id"]) and pd.isna(by_id.loc["p-leap", "can_id"])
    assert by_id.loc["p-never", "register"] == "premises"
    assert by_id.loc["p-leap", "category"] == "community centre"
    months = by_id["months_since"]
    assert pd.isna(months["g-never"])
    assert {k: int(months[k]) for k in ("g-out", "g-temp", "p-leap", "g-old", "g-dayafter")} \
        == {"g-out": 76, "g-temp": 32, "p-leap": 30, "g-old": 14, "g-dayafter": 12}
    # closed records, and those checked within the period, are not due
    assert not {"g-closed", "p-closed", "g-boundary", "g-fresh"} & set(due["record_id"])


def test_due_for_recheck_in_some_wards_and_with_no_registers(layers):
    due = due_for_recheck({"groups": layers["groups"], "premises": None},
                          layers["ward_summary"], on=TODAY, ward_codes={"E05900005"})
    assert list(due["record_id"]) == ["g-out"]
    empty = due_for_recheck({}, layers["ward_summary"], on=TODAY)
    assert list(empty.columns) == verification.DUE_COLUMNS and empty.empty
    # shuffled rows: the same answer
    shuffled = layers["groups"].sample(frac=1, random_state=3)
    again = due_for_recheck({"groups": shuffled}, layers["ward_summary"], on=TODAY)
    assert list(again["record_id"]) == ["g-never", "g-out", "g-temp", "g-old", "g-dayafter"]


def test_due_for_recheck_names_a_missing_column(layers):
    with pytest.raises(ValueError, match="groups has no column 'ward_code'"):
        due_for_recheck({"groups": layers["groups"].drop(columns="ward_code")},
                        layers["ward_summary"], on=TODAY)


# -- the pages -------------------------------------------------------------------------


@pytest.fixture
def app(ws_dir, monkeypatch):
    monkeypatch.setattr(verification, "today", lambda: TODAY)
    return create_app({"TESTING": True, "WORKSPACE": str(ws_dir), "TILES": "none"})


def _text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _row_ids(html: str) -> list[str]:
    return re.findall(r'data-due-row data-register="\w+" data-record-id="([^"]+)"', html)


def _row(html: str, record_id: str) -> str:
    match = re.search(r'<tr id="due-\w+-' + re.escape(record_id) + r'".*?</tr>', html, re.S)
    assert match, f"no row for {record_id}"
    return match.group(0)


def _form(row: str) -> dict:
    action = re.search(r'<form class="due-confirm" method="post" action="([^"]+)"', row)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', row))
    return {"action": unescape(action.group(1)), **{k: unescape(v) for k, v in fields.items()}}


def test_anonymous_and_public_users_are_refused(app):
    client = app.test_client()
    for url in ("/due", f"/due/neighbourhood/{CAN_ID}", "/due/ward/E05900005"):
        response = client.get(url)
        assert response.status_code in (302, 303) and "/signin" in response.headers["Location"]
    response = client.post("/due/confirm/groups/g-old",
                           data={"version": "1", "csrf_token": csrf_token(client)})
    assert response.status_code in (302, 303, 401)


def test_officer_sees_counts_per_neighbourhood_and_ward(app):
    client = sign_in(app.test_client(), "officer")
    response = client.get("/due")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    text = _text(html)
    assert "7 records due for re-checking." in text
    can_row = _text(re.search(r'<tr data-area="CAN-01">.*?</tr>', html, re.S).group(0))
    assert can_row == f"{CAN_NAME} {CAN_ID} 2 4 1 5"  # 2 wards; 4 groups, 1 premises
    ward_rows = re.findall(r'<tr data-area="(E059\d+)">(.*?)</tr>', html, re.S)
    assert [(code, _text(row)) for code, row in ward_rows] == [
        ("E05900005", "St Mary's & Holy Trinity E05900005 Middleton 1 0 1"),  # by borough
        ("E05900009", "Northbrook East E05900009 Northbrook 0 1 1"),
    ]
    assert not PLACEHOLDERS.search(text)
    assert 'href="/due"' in html  # the header link


def test_the_neighbourhood_list_oldest_first_with_when_last_checked(app):
    client = sign_in(app.test_client(), "officer")
    html = client.get(f"/due/neighbourhood/{CAN_ID}").get_data(as_text=True)
    assert _row_ids(html) == CAN_DUE
    checked = {rid: _text(re.search(r"data-due-checked[^>]*>(.*?)</td>", _row(html, rid),
                                    re.S).group(1)) for rid in CAN_DUE}
    assert checked == {
        "g-never": "never checked",
        "p-never": "never checked",
        "g-temp": "2 years ago, 1 Jan 2024",
        "g-old": "14 months ago, 3 Jul 2025",
        "g-dayafter": "12 months ago, 13 Sep 2025",
    }
    text = _text(html)
    assert "5 records due (4 groups, 1 premises), oldest check first." in text
    # an officer sees the contacts, through contacts_for (audited)
    assert "020 7946 0101" in _row(html, "g-never") and "ash@example.org" in html
    assert "none recorded" in _text(_row(html, "g-dayafter"))
    assert "Temporarily closed" in _text(_row(html, "g-temp"))
    assert "closed" not in _text(_row(html, "g-old")).lower()
    assert not PLACEHOLDERS.search(text)
    assert "Confirmed today" in _row(html, "g-old")
    audit = Workspace(app.config["WORKSPACE"]).appdb.read_audit(register="groups")
    assert any(a["action"] == "view" and "/due/neighbourhood/CAN-01" in a["detail"]
               for a in audit)


def test_confirm_through_the_form_stamps_audits_and_removes_the_row(app):
    client = sign_in(app.test_client(), "officer", username="olive")
    url = f"/due/neighbourhood/{CAN_ID}"
    form = _form(_row(client.get(url).get_data(as_text=True), "g-old"))
    assert form["action"] == "/due/confirm/groups/g-old"
    assert form["version"] == "1" and form["next"] == url
    response = client.post(form["action"], data=form)
    assert response.status_code == 303 and response.headers["Location"] == url
    ws = Workspace(app.config["WORKSPACE"])
    record, version, _ = current_record(ws, "groups", "g-old")
    assert record["last_verified"] == date.today().isoformat() and version == 2
    audit = ws.appdb.read_audit(register="groups", record_id="g-old")
    assert [(a["action"], a["actor"]) for a in audit if a["action"] == "verify"] == \
        [("verify", "olive")]
    page = client.get(url).get_data(as_text=True)
    assert "Confirmed Oak Tree Mutual Aid as still right today" in _text(page)
    assert _row_ids(page) == [r for r in CAN_DUE if r != "g-old"]
    assert "4 records due" in _text(page)


def test_confirm_without_the_csrf_token_is_refused(app):
    client = sign_in(app.test_client(), "officer")
    response = client.post("/due/confirm/groups/g-old",
                           data={"version": "1", "next": f"/due/neighbourhood/{CAN_ID}"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    record, version, _ = current_record(Workspace(app.config["WORKSPACE"]), "groups", "g-old")
    assert record["last_verified"] == "2025-07-03" and version == 1


def test_confirm_asked_for_json_answers_json(app):
    client = sign_in(app.test_client(), "officer")
    response = post(client, "/due/confirm/premises/p-never", {"version": "1"},
                    headers={"Accept": "application/json"})
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["last_verified"] == date.today().isoformat() and answer["version"] == 2
    stamped = date.today()
    assert answer["message"] == ("Confirmed Birch Hall as still right today "
                                 f"({stamped.day} {stamped:%b %Y}).")


def test_confirm_of_a_record_changed_since_is_refused(app):
    client = sign_in(app.test_client(), "officer")
    assert post(client, "/due/confirm/groups/g-old", {"version": "1"}).status_code == 303
    response = post(client, "/due/confirm/groups/g-old", {"version": "1"},
                    headers={"Accept": "application/json"})
    assert response.status_code == 409
    assert "was not confirmed" in response.get_json()["message"]
    assert current_record(Workspace(app.config["WORKSPACE"]), "groups", "g-old")[1] == 2


def test_confirm_redirects_only_to_the_lists(app):
    client = sign_in(app.test_client(), "officer")
    response = post(client, "/due/confirm/groups/g-old",
                    {"version": "1", "next": "https://elsewhere.example/due"})
    assert response.headers["Location"] == "/due"


def test_partner_sees_only_granted_wards_and_cannot_confirm(app):
    client = sign_in(app.test_client(), "partner", areas=["E05900005"])
    html = client.get("/due").get_data(as_text=True)
    assert re.findall(r'<tr data-area="([^"]+)"', html) == ["E05900005"]
    assert "1 record due for re-checking." in _text(html)
    assert client.get(f"/due/neighbourhood/{CAN_ID}").status_code == 403
    assert client.get("/due/ward/E05900009").status_code == 403
    page = client.get("/due/ward/E05900005").get_data(as_text=True)
    assert _row_ids(page) == ["g-out"]
    assert "020 7946 0303" in page and "out@example.org" in page  # their ward's contacts
    assert "6 years ago, 1 May 2020" in _text(page)
    assert "due-confirm" not in page
    response = post(client, "/due/confirm/groups/g-out", {"version": "1"})
    assert response.status_code == 403
    # a partner of the neighbourhood sees its list, and its contacts
    can_partner = sign_in(app.test_client(), "partner", username="jab", areas=[CAN_ID])
    page = can_partner.get(f"/due/neighbourhood/{CAN_ID}").get_data(as_text=True)
    assert _row_ids(page) == CAN_DUE and "020 7946 0101" in page
    assert "020 7946 0303" not in page


def test_a_partner_with_no_wards_is_told_so(app):
    client = sign_in(app.test_client(), "partner", username="nowards")
    text = _text(client.get("/due").get_data(as_text=True))
    assert "No wards are granted to your account" in text
    assert "data-area" not in text


def test_unknown_areas_are_404_naming_the_list(app):
    client = sign_in(app.test_client(), "officer")
    response = client.get("/due/neighbourhood/CAN-99")
    assert response.status_code == 404 and "CAN-01" in response.get_data(as_text=True)
    assert client.get("/due/ward/E05999999").status_code == 404


# -- the command -------------------------------------------------------------------------


def test_mapper_due_counts_per_neighbourhood_without_contacts(ws_dir, monkeypatch, capsys):
    monkeypatch.setattr(verification, "today", lambda: TODAY)
    assert main(["--workspace", str(ws_dir), "due"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "Open records not confirmed for over 12 months, or ever: 7 due (5 groups, "
        "2 premises)",
        f"  {CAN_ID} {CAN_NAME}: 5 due (4 groups, 1 premises)",
        "  E05900005 St Mary's & Holy Trinity (outside any neighbourhood): 1 due "
        "(1 group, 0 premises)",
        "  E05900009 Northbrook East (outside any neighbourhood): 1 due (0 groups, 1 premises)",
    ]
    assert "020 7946" not in out and "@" not in out
    assert main(["--workspace", str(ws_dir), "due", "--ward", "E05900005"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("1 due (1 group, 0 premises)")
    assert main(["--workspace", str(ws_dir), "due", "--ward", "E05999999"]) == 1


def test_records_in_no_ward_are_counted_not_lost(tmp_path, monkeypatch, capsys):
    ws_dir = write_recheck_workspace(tmp_path / "workspace", in_no_ward=True)
    monkeypatch.setattr(verification, "today", lambda: TODAY)
    assert main(["--workspace", str(ws_dir), "due"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(": 8 due (6 groups, 2 premises)")
    assert lines[-1] == "  in no ward of the study area: 1 due (1 group, 0 premises)"
    app = create_app({"TESTING": True, "WORKSPACE": str(ws_dir), "TILES": "none"})
    text = _text(sign_in(app.test_client(), "officer").get("/due").get_data(as_text=True))
    assert ("8 records due for re-checking. 1 of them is in no ward of the study area: "
            "find it in the register") in text
    # a partner sees only their wards' records
    partner = sign_in(app.test_client(), "partner", areas=["E05900005"])
    text = _text(partner.get("/due").get_data(as_text=True))
    assert "1 record due for re-checking." in text and "in no ward" not in text


# -- the neighbourhood page's link (on the demo, whose analysis finds CANs) --------------


def _due_by_hand(ws: Workspace, ward_codes: set[str], on: date) -> int:
    """Open records in `ward_codes` last checked before the same day a year earlier, or
    never (the demo's dates are ISO text, which sorts as dates)."""
    try:
        cutoff = on.replace(year=on.year - 1)
    except ValueError:  # 29 Feb
        cutoff = on.replace(year=on.year - 1, day=28)
    count = 0
    for name in ("groups", "premises"):
        frame = overlay.read_layer(ws, name)
        for row in frame.itertuples():
            if row.ward_code not in ward_codes or str(row.status).lower() == "closed":
                continue
            checked = row.last_verified if isinstance(row.last_verified, str) else ""
            count += (not checked) or checked[:10] < cutoff.isoformat()
    return count


def test_the_neighbourhood_page_links_to_its_list_for_those_who_may_review(demo_copy):
    ws = Workspace(demo_copy)
    can = ws.read_layer("neighbourhoods", read_geometry=False).iloc[0]
    wards = set(can["ward_codes"].split("; "))
    expected = _due_by_hand(ws, wards, verification.today())
    assert expected > 0, "the demo neighbourhood should hold records due for re-checking"
    app = create_app({"TESTING": True, "WORKSPACE": str(demo_copy), "TILES": "none"})
    url = f"/neighbourhood/{can['can_id']}"
    officer = sign_in(app.test_client(), "officer")
    text = _text(officer.get(url).get_data(as_text=True))
    assert f"{expected} records due for re-checking" in text
    html = officer.get(url).get_data(as_text=True)
    assert f'href="/due/neighbourhood/{can["can_id"]}"' in html
    listed = officer.get(f"/due/neighbourhood/{can['can_id']}").get_data(as_text=True)
    assert len(_row_ids(listed)) == expected
    # the public, and a partner of other wards, get no link
    assert "due for re-checking" not in _text(app.test_client().get(url).get_data(as_text=True))
    elsewhere = sorted(set(ws.read_layer("wards")["ward_code"]) - wards)[0]
    partner = sign_in(app.test_client(), "partner", areas=[elsewhere])
    assert "due for re-checking" not in _text(partner.get(url).get_data(as_text=True))
