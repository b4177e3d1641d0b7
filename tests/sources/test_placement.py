"""Records placed correctly and links that work (issue 15): a group or premises placed far
from its own postcode is flagged for checking, a blank postcode is taken from the end of
the address, and a website the publisher masked is not kept as a link. Hand-built rows;
the London files are checked in tests/realdata/test_london_registers.py."""

from __future__ import annotations

import pandas as pd
import pytest
from shapely.geometry import Point

from mapper import missing, registers, vcard
from mapper.exports import contact_csv
from mapper.postcodes import postcode_at_end
from mapper.sources.base import Context, Imported, apply_field_rules
from mapper.sources.points import PLACEMENT_TOLERANCE_M, check_placement

#: the workspace's postcode centroids (EPSG:27700 metres)
POSTCODES = pd.DataFrame({"x": [533_000.0, 540_000.0], "y": [179_000.0, 181_000.0]},
                         index=pd.Index(["SE1 6TL", "E1 6AN"], name="postcode"))


def _imported(rows: list[dict], kind: str = "groups") -> Imported:
    frame = pd.DataFrame(rows)
    xy = frame.pop("xy")
    geometry = [None if p is None else Point(*p) for p in xy]
    frame["source_row"] = range(2, len(frame) + 2)
    out = registers.conform(frame, kind, geometry)
    return Imported(kind, out, "2026", "test", len(out), "", "", extra={"file": "t.csv"})


def _placed(rows: list[dict], kind: str = "groups") -> Imported:
    imp = _imported(rows, kind)
    check_placement(imp, Context(postcodes=POSTCODES), file="t.csv")
    return imp


def test_a_point_3_km_from_its_postcode_is_flagged_and_200_m_is_not():
    imp = _placed([
        {"name": "Far", "postcode": "SE1 6TL", "xy": (536_000.0, 179_000.0)},  # 3,000 m
        {"name": "Near", "postcode": "SE1 6TL", "xy": (533_120.0, 179_160.0)},  # 200 m
        {"name": "Unknown postcode", "postcode": "N1 9GU", "xy": (560_000.0, 179_000.0)},
        {"name": "No postcode", "postcode": None, "xy": (560_000.0, 179_000.0)},
    ])
    notes = imp.frame["location_note"].tolist()
    assert notes[0] == "placed 3.0 km from its postcode SE1 6TL: check the location"
    assert all(missing.is_missing(n) for n in notes[1:])
    # kept where the file puts it, not moved to the postcode
    assert (imp.frame.geometry[0].x, imp.frame.geometry[0].y) == (536_000.0, 179_000.0)
    [warning] = [w.message for w in imp.warnings]
    assert warning == ("1 record placed more than 1,000 m from its own postcode: kept where "
                       "the file puts it and flagged 'check the location' (row 2)")


def test_the_threshold_is_one_constant_and_just_beyond_it_is_flagged():
    assert PLACEMENT_TOLERANCE_M == 1_000
    imp = _placed([
        {"name": "At the limit", "postcode": "E1 6AN", "xy": (540_600.0, 181_800.0)},  # 1,000
        {"name": "Beyond", "postcode": "E1 6AN", "xy": (541_200.0, 182_600.0)},  # 2,000 m
    ], kind="premises")
    assert missing.is_missing(imp.frame["location_note"][0])
    assert imp.frame["location_note"][1] == (
        "placed 2.0 km from its postcode E1 6AN: check the location")


def test_a_blank_postcode_is_taken_from_the_end_of_the_address():
    imp = _placed([
        {"name": "Draper Hall", "address": "Draper Hall, London SE1 6TL", "postcode": None,
         "xy": (533_000.0, 179_000.0)},
        {"name": "Lower case", "address": "1 High St, london e1 6an, UK", "postcode": None,
         "xy": (540_000.0, 184_200.0)},  # 3,200 m from E1 6AN
        {"name": "Own postcode wins", "address": "2 Low St, SE1 6TL", "postcode": "E1 6AN",
         "xy": (540_000.0, 181_000.0)},
        {"name": "Mid-address", "address": "SE1 6TL Centre, Walworth", "postcode": None,
         "xy": (533_000.0, 179_000.0)},
    ])
    assert imp.frame["postcode"].tolist()[:3] == ["SE1 6TL", "E1 6AN", "E1 6AN"]
    assert missing.is_missing(imp.frame["postcode"][3])
    assert imp.frame["location_note"][1] == (
        "placed 3.2 km from its postcode E1 6AN: check the location")
    messages = [w.message for w in imp.warnings]
    assert ("assumed: postcode taken from the end of the address for 2 rows whose postcode "
            "was blank") in messages


@pytest.mark.parametrize(("address", "postcode"), [
    ("Draper Hall, London, London SE1 6TL", "SE1 6TL"),
    ("New Addington, Croydon, Surrey, CR0 0EE, United Kingdom", "CR0 0EE"),
    ("1 Palmerston Road, NW6 2JL.", "NW6 2JL"),
    ("3 The Grove, Newham, London E15 1EL 1EL", None),  # a slip: not a postcode at the end
    ("London SE1", None),  # a district is not a full postcode
    ("", None),
])
def test_postcode_at_the_end_of_an_address(address, postcode):
    found = postcode_at_end(pd.Series([address]))[0]
    assert (None if pd.isna(found) else found) == postcode


def test_without_postcode_centroids_nothing_is_flagged():
    imp = _imported([{"name": "Far", "postcode": "SE1 6TL", "xy": (536_000.0, 179_000.0)}])
    check_placement(imp, Context(), file="t.csv")
    assert missing.is_missing(imp.frame["location_note"][0])


def test_the_note_reaches_the_contact_csv_and_the_vcard_without_placeholders():
    note = "placed 3.0 km from its postcode SE1 6TL: check the location"
    rows = pd.DataFrame([{"name": "Far", "location_note": note, "group_id": "g1"},
                         {"name": "Near", "location_note": None, "group_id": "g2"}])
    data = contact_csv(rows, with_distance=False)
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark, for Excel
    text = data.decode("utf-8-sig")
    assert note in text and "nan" not in text.lower() and "None" not in text
    card = vcard.card(rows.iloc[0].to_dict())
    assert "Location: placed 3.0 km from its postcode SE1 6TL: check the location." in \
        card.replace("\r\n ", "").replace("\\:", ":")
    assert "Location" not in vcard.card({"name": "Near", "location_note": float("nan")})


# -- links the publisher masked -------------------------------------------------------------

WHATSAPP = "https://chat.whatsapp.com/[invite-code-removed]"


@pytest.mark.parametrize(("value", "masked"), [
    (WHATSAPP, True),
    ("https://example.org/[redacted]", True),
    ("https://www.facebook.com/groups/xxxxxx/", True),
    ("https://example.org/(link removed)", True),
    ("https://www.facebook.com/groups/212895546741612/", False),
    ("https://example.org/removed-items", False),
    ("https://boxxxing.org.uk", False),
    ("https://example.org/search?f[type]=hall", False),
])
def test_redaction_markers(value, masked):
    assert registers.redacted_link(value) is masked


def test_a_masked_link_is_left_out_on_import_and_counted():
    imp = _imported([
        {"name": "A", "website": WHATSAPP, "xy": (533_000.0, 179_000.0)},
        {"name": "B", "website": WHATSAPP, "xy": (533_000.0, 179_000.0)},
        {"name": "C", "website": "www.example.org", "xy": (533_000.0, 179_000.0)},
    ])
    apply_field_rules(imp)
    websites = imp.frame["website"].tolist()
    assert websites[:2] == [None, None] and websites[2] == "https://www.example.org"
    assert len(imp.frame) == 3  # the records are kept
    [warning] = [w for w in imp.warnings if w.column == "website"]
    assert warning.message.startswith("2 values left out: links whose address the publisher "
                                      "removed")
    assert "(rows 2, 3)" in warning.message


def test_an_edit_may_not_store_a_masked_link():
    with pytest.raises(ValueError, match="redaction marker"):
        registers.contact_value("website", WHATSAPP)


def test_an_address_with_its_postcode_is_written_once():
    assert missing.address_line("Draper Hall, London SE1 6TL", "SE1 6TL") == \
        "Draper Hall, London SE1 6TL"
    assert missing.address_line("1 High St", "E1 6AN") == "1 High St, E1 6AN"
    assert missing.address_line(None, "E1 6AN") == "E1 6AN"
    assert missing.address_line(float("nan"), None) == "not recorded"
