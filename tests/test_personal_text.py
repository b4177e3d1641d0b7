"""Contact details hiding in free text (mapper/personal_text.py): found on import, hidden
from everyone without contact rights in every response, shown to officers."""

from __future__ import annotations

import csv

import pandas as pd
import pytest
from accounts import sign_in
from route_sweep import EMAIL_SEEN, PHONE_SEEN

from mapper import overlay, personal_text
from mapper.pipeline import import_file
from mapper.sources import charity
from mapper.store import Workspace
from mapper.web import create_app

DETAILS = {
    "description": "Hot drinks; ring Jo on 07700 900123 or email jo.bloggs@gmail.com",
    "address": "Flat 2, 10 High St (enquiries: hall@example.org)",
    "opening_hours": "Mon 10-4, book on (020) 7946 0001",
}


def _contacts(text: str) -> list[str]:
    return EMAIL_SEEN.findall(text) + PHONE_SEEN.findall(text)


@pytest.mark.parametrize(
    "text, found",
    [
        ("Call 020 7946 0000 or 07700 900123", ["020 7946 0000", "07700 900123"]),
        ("(0113) 496 0000 after 6", ["(0113) 496 0000"]),
        ("+44 (0)20 7946 0000", ["+44 (0)20 7946 0000"]),
        ("email jo.bloggs+warm@gmail.com.", ["jo.bloggs+warm@gmail.com"]),
        ("07700900123", ["07700900123"]),
        ("phone: 44 (20) 7946 0000", ["44 (20) 7946 0000"]),
        ("+44 (20) 7946 0000", ["+44 (20) 7946 0000"]),
        ("room 44 2020 7946", []),
        ("Open 09:00-17:00 Mon-Fri, 01/02/2024", []),
        ("Charity 1123456, since 2020-01-01, room 0123", []),
        ("", []),
    ],
)
def test_find_phones_and_emails(text, found):
    assert personal_text.find(text) == found
    hidden = personal_text.redact(text)
    assert personal_text.find(hidden) == []
    assert hidden.count(personal_text.HIDDEN) == len(found)


def test_protect_moves_details_to_contact_notes_and_is_idempotent():
    frame = pd.DataFrame(
        {
            "name": ["07700 900999", "Quiet group", "Letters"],
            "description": [DETAILS["description"], None, float("nan")],
            "address": [DETAILS["address"], "1 Low St", "5 Home Road, Flat 1"],
            "postcode": ["ZZ1 1AA", "ZZ1 1AB", "E1 6AN"],
            "opening_hours": [DETAILS["opening_hours"], "Mon 9-5", None],
            "location_source": ["postcode", "postcode", charity.LOCATION_SOURCE],
        }
    )
    out, hit = personal_text.protect(frame, "groups")
    assert hit == 2
    public = out.drop(columns="contact_notes").astype(str).to_string()
    assert _contacts(public) == []
    assert out.at[0, "name"] == personal_text.HIDDEN
    hidden = personal_text.HIDDEN
    assert out.at[0, "description"] == f"Hot drinks; ring Jo on {hidden} or email {hidden}"
    notes = out.at[0, "contact_notes"]
    for detail in ("07700 900123", "jo.bloggs@gmail.com", "hall@example.org",
                   "(020) 7946 0001", "07700 900999"):
        assert detail in notes
    assert "opening hours: (020) 7946 0001" in notes
    assert pd.isna(out.at[1, "contact_notes"]) and out.at[1, "address"] == "1 Low St"
    # the correspondence address: kept for contact rights, the public sees the district
    assert pd.isna(out.at[2, "address"]) and out.at[2, "postcode"] == "E1"
    assert out.at[2, "contact_notes"] == "correspondence address: 5 Home Road, Flat 1, E1 6AN"
    again, hit_again = personal_text.protect(out, "groups")
    assert hit_again == 0
    pd.testing.assert_frame_equal(again, out)


def test_premises_details_are_removed():
    frame = pd.DataFrame({"name": ["Hall"], "address": ["1 Road, call 0113 496 0000"]})
    out, hit = personal_text.protect(frame, "premises")
    assert hit == 1 and "contact_notes" not in out
    assert out.at[0, "address"] == f"1 Road, call {personal_text.HIDDEN}"


def test_a_charity_correspondence_address_is_kept_from_the_public(tmp_path):
    """Through the import hook (pipeline.gather_registers) on a hand-built extract."""
    from charity_files import import_register, register

    from mapper.pipeline import gather_registers

    path = register(tmp_path / "cc")
    imported = import_register(path)
    imported.extra.update(file=path.name, path=path)
    frame, _ = gather_registers([imported], {})["groups"]
    bank = frame[frame["name"] == "Tinytown Food Bank"].iloc[0]
    assert pd.isna(bank["address"]) and bank["postcode"] == "ZZ1"
    assert bank["contact_notes"] == ("correspondence address: St Mary's Hall, 1 High Street, "
                                     "Tinytown, ZZ1 1AA")
    assert bank["location_source"] == charity.LOCATION_SOURCE
    assert frame["postcode"].dropna().str.len().max() <= 4  # districts only
    assert any("correspondence" in w.message for w in imported.warnings)
    from mapper.maps.neighbourhood import popup_html
    from mapper.maps.points import point_rows

    note = personal_text.CORRESPONDENCE_NOTE
    assert all(note in row[3] for row in point_rows(frame, "groups"))
    popup = popup_html({**bank.to_dict(), "kind": "group", "stale": False})
    assert note.capitalize() in popup


# -- through the app: a hand-built file imported into the demo ------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, request):
    """The demo with three groups whose free text holds contact details."""
    import shutil

    shared = request.getfixturevalue("shared_demo")
    directory = tmp_path_factory.mktemp("pii") / "demo"
    shutil.copytree(shared, directory)
    ws = Workspace(directory)
    point = overlay.read_layer(ws, "groups").geometry.iloc[0]
    path = directory.parent / "contacts_in_text.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["group_id", "name", "category", "description", "address",
                      "opening_hours", "easting", "northing"])
        out.writerow(["pii-1", "Warm Welcome", "food", DETAILS["description"],
                      DETAILS["address"], DETAILS["opening_hours"], point.x + 5, point.y])
        out.writerow(["pii-2", "0113 496 0999", "food", "Soup", "", "", point.x + 9, point.y])
        out.writerow(["pii-3", "Tea club", "food", "", "", "email tea.club@yahoo.co.uk",
                      point.x + 12, point.y])
    imported = import_file(path, ws)
    assert any("contact_notes" in w.message for w in imported.warnings)
    return directory


@pytest.fixture(scope="module")
def app(workspace):
    return create_app({"TESTING": True, "WORKSPACE": str(workspace), "TILES": "none"})


def _postcode_near(workspace) -> str:
    ws = Workspace(workspace)
    point = overlay.read_layer(ws, "groups").geometry.iloc[0]
    postcodes = ws.read_layer("postcodes")
    return postcodes.iloc[postcodes.distance(point).argmin()]["postcode"]


def _responses(client, workspace) -> dict[str, str]:
    ws = Workspace(workspace)
    groups = overlay.read_layer(ws, "groups")
    mine = groups[groups["group_id"].astype(str).str.startswith("pii-")]
    ward = mine["ward_code"].iloc[0]
    postcode = _postcode_near(workspace)
    urls = [
        "/api/groups",
        "/overview/groups.json",
        "/priority/layers/groups.json",
        f"/ward/{ward}/assets.csv",
        f"/ward/{ward}/assets.geojson",
        f"/api/nearest?postcode={postcode}&k=20",
        f"/incident?postcode={postcode}&k=20",
        f"/incident/callsheet?postcode={postcode}&k=20",
        f"/ward/{ward}",
    ]
    out = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        out[url] = response.get_data(as_text=True)
    return out


def test_no_contact_pattern_reaches_the_public(app, workspace):
    responses = _responses(app.test_client(), workspace)
    assert len(responses) == 9
    for url, text in responses.items():
        assert _contacts(text) == [], url  # none at all: the demo's contact fields neither
    body = app.test_client().get("/api/groups").get_json()
    names = {f["properties"].get("name") for f in body["features"]}
    assert personal_text.HIDDEN in names


def test_no_contact_pattern_on_any_route_for_the_public(app, workspace):
    """Every GET route of the app (so a new one is covered when it is added), with the
    hand-built groups as samples: no e-mail address or phone number for the public."""
    from route_sweep import _samples, _url, body_of

    samples = {**_samples(app), "record_id": "pii-1", "group_id": "pii-1"}
    ward = overlay.read_layer(Workspace(workspace), "groups").set_index("group_id").at[
        "pii-1", "ward_code"]
    samples["ward_code"] = ward
    client = app.test_client()
    seen, found = 0, {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "vendor.vendor_file"):
            continue
        url = _url(rule, samples)
        response = client.get(url)
        if response.status_code != 200:
            continue
        seen += 1
        hits = _contacts(body_of(response))
        if hits:
            found[url] = hits
    assert seen >= 20 and not found, (seen, found)


def test_an_officer_sees_the_details_found_in_text(app, workspace):
    client = sign_in(app.test_client(), "officer")
    pages = _responses(client, workspace)
    nearest = pages[next(u for u in pages if u.startswith("/api/nearest"))]
    assert "jo.bloggs@gmail.com" in nearest and "0113 496 0999" in nearest
    incident = pages[next(u for u in pages if u.startswith("/incident?"))]
    assert "jo.bloggs@gmail.com" in incident and "tea.club@yahoo.co.uk" in incident
    callsheet = pages[next(u for u in pages if u.startswith("/incident/callsheet"))]
    assert "(020) 7946 0001" in callsheet


# -- the real London files ------------------------------------------------------------


@pytest.fixture(scope="module")
def london_app(shared_london):
    """The app on the London build shared by the run (conftest.shared_london)."""
    assert any("contact_notes" in w.message for w in shared_london.report.warnings)
    return create_app({"TESTING": True, "WORKSPACE": str(shared_london.directory),
                       "TILES": "none"})


def _text_values(features) -> list[str]:
    """The string property values a person reads (ids, which are not text, left out)."""
    return [v for f in features for k, v in f["properties"].items()
            if isinstance(v, str) and not k.endswith("_id")]


def test_london_groups_carry_no_contact_details_for_the_public(london_app):
    """Anonymous GET /api/groups on London: before, 82 warm-space descriptions and 9
    opening-hours texts held e-mail addresses or phone numbers."""
    body = london_app.test_client().get("/api/groups").get_json()
    texts = _text_values(body["features"])
    assert len(body["features"]) > 1500
    assert [t for t in texts if EMAIL_SEEN.search(t) or PHONE_SEEN.search(t)] == []
    hidden = [f for f in body["features"]
              if personal_text.HIDDEN in (f["properties"].get("description") or "")]
    assert len(hidden) >= 82
    hours = [f for f in body["features"]
             if personal_text.HIDDEN in (f["properties"].get("opening_hours") or "")]
    assert len(hours) >= 9
    # an officer asking for the nearest to one of them gets the details back
    client = sign_in(london_app.test_client(), "officer")
    lon, lat = hidden[0]["geometry"]["coordinates"]
    nearest = client.get(f"/api/nearest?lat={lat}&lon={lon}&k=10").get_json()
    wanted = hidden[0]["properties"]["group_id"]
    found = next(f["properties"] for f in nearest["features"]
                 if f["properties"]["group_id"] == wanted)
    notes = found["contact"]["contact_notes"]
    assert EMAIL_SEEN.search(notes) or PHONE_SEEN.search(notes)


def test_an_officer_cannot_type_contact_details_into_public_text(workspace):
    from mapper.editing import validate
    from mapper.errors import DataValidationError

    ws = Workspace(workspace)
    point = overlay.read_layer(ws, "groups").geometry.iloc[0]
    values = {"name": "Drop-in", "category": "food", "x": point.x, "y": point.y}
    assert validate("groups", values, workspace=ws, previous=None)["name"] == "Drop-in"
    for field, text in (("description", "text Jo: 07700 900123"),
                        ("opening_hours", "ask jo@example.org"), ("name", "020 7946 0000")):
        with pytest.raises(DataValidationError) as caught:
            validate("groups", {**values, field: text}, workspace=ws, previous=None)
        message = str(caught.value)
        assert field in message and "no e-mail address or phone number" in message
        assert text.split()[-1] not in message  # the value itself is never echoed


# Placeholders on every London page and export, as each role:
# tests/realdata/test_london_registers.py (a superset of the pages this module once listed here).


@pytest.mark.parametrize("role, said", [
    ("public", "Contact details are hidden: officers, administrators, and partners"),
    ("partner", "You can see the contact details of groups in the 1 ward granted to you"),
    ("officer", "You can see every group&#39;s contact details (your role: officer)"),
    ("admin", "You can see every group&#39;s contact details (your role: admin)"),
])
def test_contact_notices_say_what_the_role_can_see(app, workspace, role, said):
    ward = overlay.read_layer(Workspace(workspace), "groups")["ward_code"].iloc[0]
    client = sign_in(app.test_client(), role, areas=[ward] if role == "partner" else ())
    postcode = _postcode_near(workspace)
    for url in (f"/incident?postcode={postcode}", f"/incident/callsheet?postcode={postcode}",
                f"/ward/{ward}"):
        page = client.get(url).get_data(as_text=True)
        assert said in page, url
        assert "not available yet" not in page
