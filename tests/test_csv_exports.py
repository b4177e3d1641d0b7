"""CSV files for people: UTF-8 with a byte-order mark (so Excel on Windows shows "£" and
accented names), written by one helper, and read back by the app's own importers.

The web downloads (contact lists, the priority table, an area's assets) are parsed with
``csvfiles.csv_rows`` in their own tests, which checks the mark on every one of them.
"""

from __future__ import annotations

import pandas as pd
import pytest
from csvfiles import BOM, csv_rows

from mapper import exports
from mapper.sources.files import read_table
from mapper.store import Workspace
from mapper.uploads import inspect_upload


def test_spreadsheet_csv_is_utf8_with_a_byte_order_mark():
    table = pd.DataFrame({"name": ["Café Renée", "=1+2", "Łódź hall"], "fee": ["£5", None, "-3"]})
    data = exports.spreadsheet_csv(table)
    assert data[:3] == BOM == b"\xef\xbb\xbf"
    assert "£5".encode() in data and "Café Renée".encode() in data  # UTF-8, not cp1252
    assert data.count(BOM) == 1
    rows = csv_rows(data)
    assert [r["name"] for r in rows] == ["Café Renée", "'=1+2", "Łódź hall"]  # formula guarded
    assert [r["fee"] for r in rows] == ["£5", "", "-3"]
    assert exports.spreadsheet_csv(table, lineterminator="\r\n").count(b"\r\n") == 4


def test_an_empty_table_still_has_the_mark_and_its_header():
    data = exports.spreadsheet_csv(pd.DataFrame(columns=["ward_code", "ward_name"]))
    assert data == BOM + b"ward_code,ward_name\n"


@pytest.fixture
def exported(demo_copy, tmp_path):
    workspace = Workspace(demo_copy)
    count, path = exports.export(workspace, "groups", tmp_path / "groups.csv")
    return workspace, count, path


def test_a_register_export_starts_with_the_mark_and_reads_back(exported):
    workspace, count, path = exported
    data = path.read_bytes()
    assert data[:3] == BOM and data.count(BOM) == 1
    rows = csv_rows(data)
    assert len(rows) == count > 0
    assert list(rows[0])[0] == "group_id"
    # the app's table reader takes the mark off: the first column keeps its name
    frame, encoding = read_table(path)
    assert encoding == "utf-8-sig"
    assert list(frame.columns)[0] == "group_id" and len(frame) == count
    # and pandas does the same for a user's own scripts
    assert list(pd.read_csv(path).columns)[0] == "group_id"


def test_an_exported_csv_uploads_again(exported):
    workspace, count, path = exported
    report = inspect_upload("groups.csv", path.read_bytes(), workspace, owner="olivia")
    assert report.register == "groups"
    assert report.rows_read == count
    assert report.invalid_count == 0 and report.accepted == count
