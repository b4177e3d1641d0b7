"""A hand-built Charity Commission register extract (the charity and classification tables,
in every published form: text, JSON, zipped) and its import, shared by the charity source
tests and the personal-text tests."""

from __future__ import annotations

import json
import zipfile

import pandas as pd

from mapper.sources.base import Context
from mapper.sources.charity import (
    detect_path,
    read,
)

CHARITY_COLUMNS = [
    "date_of_extract", "organisation_number", "registered_charity_number",
    "linked_charity_number", "charity_name", "charity_type", "charity_registration_status",
    "date_of_registration", "date_of_removal", "charity_reporting_status",
    "latest_acc_fin_period_start_date", "latest_acc_fin_period_end_date", "latest_income",
    "latest_expenditure", "charity_contact_address1", "charity_contact_address2",
    "charity_contact_address3", "charity_contact_address4", "charity_contact_address5",
    "charity_contact_postcode", "charity_contact_phone", "charity_contact_email",
    "charity_contact_web", "charity_company_registration_number", "charity_insolvent",
    "charity_in_administration", "charity_previously_excepted", "charity_is_cdf_or_cif",
    "charity_is_cio", "cio_is_dissolved", "date_cio_dissolution_notice", "charity_activities",
    "charity_gift_aid", "charity_has_land",
]


CLASSIFICATION_COLUMNS = [
    "date_of_extract", "organisation_number", "registered_charity_number",
    "linked_charity_number", "classification_code", "classification_type",
    "classification_description",
]


EXTRACT = "2024-03-05 00:00:00"


POSTCODES = {
    "ZZ1 1AA": (530_100.0, 180_100.0),
    "ZZ1 1AB": (531_200.0, 180_800.0),
    "ZZ2 3BQ": (532_300.0, 182_400.0),
}


def postcode_context(**kwargs) -> Context:
    frame = pd.DataFrame(
        {"x": [x for x, _ in POSTCODES.values()], "y": [y for _, y in POSTCODES.values()]},
        index=pd.Index(list(POSTCODES)),
    )
    return Context(postcodes=frame, **kwargs)


def charity(
    number,
    name,
    *,
    linked=0,
    status="Registered",
    postcode="ZZ1 1AA",
    removal="",
    org=None,
    **extra,
) -> dict:
    return {
        "date_of_extract": EXTRACT,
        "organisation_number": org or number * 10 + linked,
        "registered_charity_number": number,
        "linked_charity_number": linked,
        "charity_name": name,
        "charity_type": "Other",
        "charity_registration_status": status,
        "date_of_registration": "1999-01-01 00:00:00",
        "date_of_removal": removal,
        "charity_contact_postcode": postcode,
        "charity_activities": f"{name} helps people.",
        **extra,
    }


def charities(*, bad: bool = False) -> list[dict]:
    rows = [
        charity(
            1000001,
            "Tinytown Food Bank",
            postcode="zz1 1aa",
            charity_contact_address1="St Mary's Hall",
            charity_contact_address2="",
            charity_contact_address3="1 High Street",
            charity_contact_address4="Tinytown",
            charity_contact_phone="020 7946 0101",
            charity_contact_email="info@food.example",
            charity_contact_web="https://food.example",
        ),
        charity(1000001, "Tinytown Food Bank Endowment", linked=1),
        charity(1000002, "Old Almshouse", status="Removed", removal="2020-05-01 00:00:00"),
        charity(1000003, "Youth Club", postcode="ZZ11AB", charity_contact_address1="Hut 2"),
        charity(1000006, "Paused Trust", status="Suspended"),
        charity(1000005, "National Office Charity", postcode="YY9 9ZZ"),
        charity(1000007, "No Address Trust", postcode=""),
    ]
    if bad:
        rows.insert(4, charity(1000004, "Typo Trust", postcode="NOT A POSTCODE"))
    return rows


def classifications() -> list[dict]:
    def row(number, code, kind, description):
        return {
            "date_of_extract": EXTRACT,
            "organisation_number": number * 10,
            "registered_charity_number": number,
            "linked_charity_number": 0,
            "classification_code": code,
            "classification_type": kind,
            "classification_description": description,
        }

    return [
        row(1000001, 101, "What", "General Charitable Purposes"),
        row(1000001, 105, "What", "The Prevention Or Relief Of Poverty"),
        row(1000001, 301, "How", "Makes Grants To Individuals"),
        row(1000003, 102, "What", "Education/training"),
        row(1000003, 202, "Who", "Children/young People"),
    ]


def write_txt(path, columns, rows):
    lines = ["\t".join(columns)]
    lines += ["\t".join(str(r.get(c, "")) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_json(path, columns, rows):
    """As the register publishes it: UTF-8 with a byte-order mark, numbers as numbers,
    blanks as null, dates in ISO form."""

    def value(row, col):
        v = row.get(col, "")
        if v == "":
            return None
        return v.replace(" ", "T") if isinstance(v, str) and col.startswith("date_") else v

    records = [{c: value(r, c) for c in columns} for r in rows]
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(records, indent=1).encode("utf-8"))
    return path


def zipped(path):
    target = path.with_suffix(".zip")
    with zipfile.ZipFile(target, "w") as archive:
        archive.write(path, path.name)
    path.unlink()
    return target


def register(folder, form="txt", *, bad=False, classified=True, names=None):
    """Write the charity (and classification) table in `form`; return the charity path."""
    folder.mkdir(parents=True, exist_ok=True)
    write = write_json if form.startswith("json") else write_txt
    suffix = ".json" if form.startswith("json") else ".txt"
    charity_name, class_name = names or (
        "publicextract.charity",
        "publicextract.charity_classification",
    )
    path = write(folder / f"{charity_name}{suffix}", CHARITY_COLUMNS, charities(bad=bad))
    if classified:
        other = write(folder / f"{class_name}{suffix}", CLASSIFICATION_COLUMNS, classifications())
        if form.endswith("zip"):
            zipped(other)
    return zipped(path) if form.endswith("zip") else path


def import_register(path, context=None):
    found = detect_path(path)
    assert found is not None, f"{path.name} was not detected"
    return read(path, found, context or postcode_context())
