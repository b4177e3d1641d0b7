"""Reading the CSV files the app writes, as a spreadsheet would."""

from __future__ import annotations

import csv
import io

#: UTF-8's byte-order mark, which every CSV the app writes starts with (Excel needs it)
BOM = b"\xef\xbb\xbf"


def csv_rows(body: bytes | str) -> list[dict[str, str]]:
    """The rows of a CSV download or export (bytes, or text decoded as plain UTF-8), after
    checking it starts with the byte-order mark (``mapper.exports.spreadsheet_csv``)."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    assert text.startswith("\ufeff"), f"no UTF-8 byte-order mark: {text[:40]!r}"
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))
