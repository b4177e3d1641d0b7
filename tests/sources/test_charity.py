"""Charity Commission register extract: detection from content, every published form,
exclusions with reasons, categories from the classification table, all-or-nothing.

The register is built in code with the extract's exact columns: two main charities in the
study area, a linked subsidiary, a removed charity, one that is not registered, one with a
contact postcode outside the study area and one with no postcode; ``bad=True`` adds a
charity whose postcode is not a postcode.
"""

from __future__ import annotations

import pandas as pd
import pytest
import shapely
from charity_files import (
    CHARITY_COLUMNS,
    POSTCODES,
    charities,
    charity,
    import_register,
    postcode_context,
    register,
    write_txt,
)

from mapper import registers
from mapper.errors import DataValidationError
from mapper.sources.base import Context
from mapper.sources.charity import (
    ATTRIBUTION,
    LOCATION_SOURCE,
    detect,
    detect_path,
    is_classification,
)
from mapper.sources.files import peek

# fmt: off
# fmt: on


def accounted(imported) -> bool:
    return len(imported.frame) + len(imported.rejected) == imported.rows_read


# -- detection ----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["txt", "json", "txt-zip", "json-zip"])
def test_every_published_form_is_detected(tmp_path, form):
    path = register(tmp_path, form)
    found = detect_path(path)
    assert found.kind == "groups" and found.vintage == "2024-03-05"
    assert found.detail.startswith("Charity Commission register of charities")
    assert ("in a zip" in found.detail) == form.endswith("zip")


def test_detection_is_by_content_not_name(tmp_path):
    path = register(tmp_path, "txt", names=("charities_london", "whatever"))
    assert detect(peek(path)).kind == "groups"  # through the generic table peek
    assert detect_path(path).kind == "groups"
    assert detect_path(tmp_path / "whatever.txt") is None
    assert is_classification(tmp_path / "whatever.txt")
    assert not is_classification(path)
    json_path = register(tmp_path / "j", "json", names=("data", "more"))
    assert detect_path(json_path).kind == "groups"
    # the same names, other content
    other = tmp_path / "other"
    other.mkdir()
    (other / "publicextract.charity.txt").write_text("name\tpostcode\nA\tZZ1 1AA\n")
    (other / "publicextract.charity.json").write_text('[{"name": "A", "charity_id": 1}]')
    assert detect_path(other / "publicextract.charity.txt") is None
    assert detect(peek(other / "publicextract.charity.txt")) is None
    assert detect_path(other / "publicextract.charity.json") is None


# -- import -------------------------------------------------------------------------


def test_main_registered_charities_become_groups(tmp_path):
    imported = import_register(register(tmp_path, "txt"))
    frame = imported.frame
    assert list(frame.columns) == registers.columns("groups") + ["geometry"]
    assert frame.crs == "EPSG:27700"
    assert list(frame["group_id"]) == ["charity:1000001", "charity:1000003"]
    food = frame.iloc[0]
    assert food["name"] == "Tinytown Food Bank"
    assert food["charity_number"] == "1000001" and food["source_id"] == "1000001"
    assert food["address"] == "St Mary's Hall, 1 High Street, Tinytown"
    assert food["postcode"] == "ZZ1 1AA"
    assert (food["phone"], food["email"], food["website"]) == (
        "020 7946 0101",
        "info@food.example",
        "https://food.example",
    )
    assert food["description"] == "Tinytown Food Bank helps people."
    assert food["last_verified"] == "2024-03-05"
    assert food["source"] == "Charity Commission"
    assert food["source_file"] == "publicextract.charity.txt" and food["source_row"] == 2
    assert food["location_source"] == LOCATION_SOURCE
    assert food.geometry.equals(shapely.Point(POSTCODES["ZZ1 1AA"]))
    assert frame.iloc[1]["postcode"] == "ZZ1 1AB" and frame.iloc[1]["source_row"] == 5
    assert pd.isna(frame.iloc[1]["phone"])
    assert imported.licence == "Open Government Licence v3.0"
    assert imported.attribution == (
        "Contains public sector information licensed under the Open Government Licence v3.0. "
        "Source: Charity Commission for England and Wales register of charities."
    )
    assert imported.attribution == ATTRIBUTION and imported.vintage == "2024-03-05"


def test_categories_come_from_the_classification_table(tmp_path):
    frame = import_register(register(tmp_path, "txt")).frame
    # 1000001: 'General Charitable Purposes' maps to nothing, the next 'What' to advice
    # 1000003: no 'What' maps, the 'Who' 'Children/young People' does
    assert list(frame["category"]) == ["advice", "youth"]


def test_without_a_classification_table_the_default_category(tmp_path):
    imported = import_register(register(tmp_path, "txt", classified=False))
    assert set(imported.frame["category"]) == {"other"}
    assert any("no publicextract.charity_classification" in str(w) for w in imported.warnings)


def test_excluded_charities_are_listed_with_the_reason(tmp_path):
    imported = import_register(register(tmp_path, "txt"))
    assert imported.rows_read == 7 and accounted(imported)
    assert {p.severity for p in imported.rejected} == {"rejected"}
    reasons = {p.row: str(p) for p in imported.rejected}
    assert reasons == {
        3: "publicextract.charity.txt row 3 column 'linked_charity_number': '1': a linked "
        "charity (a subsidiary of a main charity); only main charities "
        "(linked_charity_number 0) are imported",
        4: "publicextract.charity.txt row 4 column 'date_of_removal': '2020-05-01': removed "
        "from the register; only registered charities are imported",
        6: "publicextract.charity.txt row 6 column 'charity_registration_status': "
        "'Suspended': registration status is not 'Registered'; only registered charities "
        "are imported",
        7: "publicextract.charity.txt row 7 column 'charity_contact_postcode': 'YY9 9ZZ': "
        "contact postcode outside the study area (its postcode sector is not in the "
        "workspace's postcode centroids)",
        8: "publicextract.charity.txt row 8 column 'charity_contact_postcode': no contact "
        "postcode, so the charity cannot be placed",
    }
    warnings = [str(w) for w in imported.warnings]
    for count in (
        "1 linked charities (subsidiaries) left out",
        "1 removed charities left out",
        "1 charities not registered left out",
        "1 charities with a contact postcode outside the study area left out",
        "1 charities without a contact postcode left out",
    ):
        assert any(count in w for w in warnings), count


def test_the_contact_address_caveat_is_always_given(tmp_path):
    imported = import_register(register(tmp_path, "txt"))
    (caveat,) = [w for w in imported.warnings if "correspondence address" in w.message]
    assert caveat.severity == "warning" and "personal data" in caveat.message


def test_a_bad_postcode_rejects_the_file_unless_skip_invalid(tmp_path):
    path = register(tmp_path, "txt", bad=True)
    with pytest.raises(DataValidationError) as excinfo:
        import_register(path, postcode_context(strict=True))
    message = str(excinfo.value)
    assert "1 invalid charity in publicextract.charity.txt; nothing was imported" in message
    assert "row 6 column 'charity_contact_postcode': 'NOT A POSTCODE': not a UK postcode" in message
    imported = import_register(path, postcode_context(skip_invalid=True))
    assert list(imported.frame["group_id"]) == ["charity:1000001", "charity:1000003"]
    assert imported.rows_read == 8 and accounted(imported)
    (error,) = [p for p in imported.rejected if p.severity == "error"]
    assert error.row == 6


def test_an_unknown_postcode_in_a_known_sector_is_an_error(tmp_path):
    rows = charities() + [charity(1000008, "Misprint Club", postcode="ZZ1 1ZZ")]
    path = write_txt(tmp_path / "register.txt", CHARITY_COLUMNS, rows)
    with pytest.raises(DataValidationError, match="'ZZ1 1ZZ': postcode not found"):
        import_register(path, postcode_context(strict=True))
    imported = import_register(path, postcode_context(skip_invalid=True))
    assert accounted(imported)
    notes = [str(w) for w in imported.warnings]
    assert any("1 postcode not found in the postcode centroids" in n for n in notes)
    assert not any("ZZ1 1ZZ" in str(w) for w in imported.warnings)  # counted, not listed


def test_invalid_numbers_names_and_duplicates(tmp_path):
    rows = charities() + [
        charity("12x4", "Broken Row", org=99),
        charity(1000009, ""),
        charity(1000003, "Youth Club Again", postcode="ZZ2 3BQ"),
    ]
    path = write_txt(tmp_path / "register.txt", CHARITY_COLUMNS, rows)
    with pytest.raises(DataValidationError) as excinfo:
        import_register(path, postcode_context(strict=True))
    message = str(excinfo.value)
    assert "row 9 column 'registered_charity_number': '12x4': not a charity number" in message
    assert "row 10 column 'charity_name': missing charity name" in message
    assert (
        "row 11 column 'registered_charity_number': '1000003': the same main charity "
        "appears twice (also at row 5)" in message
    )
    imported = import_register(path, postcode_context(skip_invalid=True))
    assert len(imported.frame) == 2 and accounted(imported)


def test_postcodes_need_the_workspace_centroids(tmp_path):
    path = register(tmp_path, "txt")
    with pytest.raises(DataValidationError, match="no postcode centroids"):
        import_register(path, Context(strict=True))


def test_the_study_area_leaves_out_charities_beyond_it(tmp_path):
    area = shapely.box(529_000, 179_000, 530_500, 180_500)  # holds ZZ1 1AA, not ZZ1 1AB
    imported = import_register(
        register(tmp_path, "txt"), postcode_context(study_area=area, study_area_name="Tinytown")
    )
    assert list(imported.frame["group_id"]) == ["charity:1000001"]
    assert accounted(imported)
    assert any("outside the study area (Tinytown)" in p.message for p in imported.rejected)


@pytest.mark.parametrize("form", ["json", "txt-zip", "json-zip"])
def test_every_form_reads_like_the_text_file(tmp_path, form):
    text = import_register(register(tmp_path / "txt", "txt"))
    other = import_register(register(tmp_path / form, form))
    ignore = ["source_file", "source_row", "geometry"]
    pd.testing.assert_frame_equal(
        pd.DataFrame(other.frame.drop(columns=ignore)),
        pd.DataFrame(text.frame.drop(columns=ignore)),
    )
    assert other.frame.geometry.equals(text.frame.geometry)
    assert [p.message for p in other.rejected] == [p.message for p in text.rejected]
    assert other.rows_read == text.rows_read
    if form.startswith("json"):
        assert list(other.frame["source_row"]) == [1, 4]  # JSON records, counted from 1
        assert {p.row_label for p in other.rejected} == {"record"}
