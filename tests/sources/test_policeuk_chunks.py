"""police.uk crime files read in chunks (mapper/sources/policeuk.py, ``chunk_rows``): a
file read a few rows at a time gives exactly what one read of the whole file gives:
the incidents, their ids and duplicate flags, the rejected rows with their row numbers
and reasons, the warnings, the vintage and the detail; and under --strict, the same
error listing every invalid row."""

from __future__ import annotations

import pandas as pd
import pytest
from shapely.geometry import box

from mapper.errors import DataValidationError
from mapper.sources import policeuk
from mapper.sources.base import Context
from mapper.sources.files import iter_table, peek, read_table

HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
          "LSOA name,Crime type,Last outcome category,Context")
#: the study area: a box around central London (EPSG:27700)
AREA = box(525_000, 175_000, 540_000, 190_000)


def _street_file(path, rows: int = 120) -> None:
    """Every kind of row: months in several spellings and unreadable, blank and wrong LSOA
    codes, no location, coordinates that are not numbers, outside the UK or swapped,
    points outside the study area, crime ids repeated across the chunks, a phone number,
    padded force names."""
    lines = [HEADER]
    for k in range(rows):
        crime_id = "" if k % 5 == 0 else f"{(k // 3 if k % 7 == 0 else k):064x}"
        month = ("2024-03", " 2024-04", "Mar-24", "bad", "")[k % 5] if k % 11 else "2024-05"
        lon, lat = f"{-0.12 + (k % 10) * 0.004:.6f}", f"{51.50 + (k % 7) * 0.004:.6f}"
        if k % 13 == 0:
            lon, lat = "", ""
        if k % 17 == 0:
            lon = "abc"
        if k % 19 == 0:
            lon, lat = "10.0", "40.0"
        if k % 23 == 0:
            lon, lat = lat, lon
        if k % 29 == 0:
            lon, lat = "-2.5", "53.0"  # in the UK, outside the study area
        lsoa = ("E01000001", "W01000002", "E05000001", "", "XYZ")[k % 5]
        context = "call 020 7946 0000" if k % 31 == 0 else ""
        force = ("Metropolitan Police Service", "City of London Police", " Met")[k % 3]
        kind = ("Burglary", "Drugs", "Anti-social behaviour")[k % 3]
        lines.append(f"{crime_id},{month},{force},{force},{lon},{lat},On or near Street {k % 9},"
                     f"{lsoa},Name,{kind},Under investigation,{context}")
    clean = [f"{1000 + j:064x},2024-03,Met,Met,-0.1{j}0000,51.51{j}000,On or near Here,"
             f"E01000001,Name,Burglary,," for j in range(4)]
    path.write_text("\n".join([lines[0], *clean, *lines[1:], *clean]) + "\n")


def _dates_file(path) -> None:
    """Dates whose order (day or month first) only the last rows tell: 05/13/2024."""
    lines = ["Date,Crime type,Latitude,Longitude,Location"]
    for k in range(60):
        day = f"{k % 12 + 1:02d}/{k % 12 + 1:02d}/2024" if k < 50 else f"05/{13 + k % 10}/2024"
        lines.append(f"{day},Burglary,{51.50 + k * 0.0001:.6f},-0.100000,Some place {k % 4}")
    path.write_text("\n".join(lines) + "\n")


def _read(path, chunk_rows: int, *, strict: bool = False):
    detection = policeuk.detect(peek(path))
    assert detection is not None
    context = Context(study_area=AREA, study_area_name="Central", strict=strict)
    return policeuk.read(path, detection, context, chunk_rows=chunk_rows)


def _same(one, chunked) -> None:
    pd.testing.assert_frame_equal(pd.DataFrame(one.frame.drop(columns="geometry")),
                                  pd.DataFrame(chunked.frame.drop(columns="geometry")))
    assert one.frame.geometry.reset_index(drop=True).equals(
        chunked.frame.geometry.reset_index(drop=True))
    assert [str(p) for p in one.rejected] == [str(p) for p in chunked.rejected]
    assert [(p.row, p.column, p.value) for p in one.rejected] == [
        (p.row, p.column, p.value) for p in chunked.rejected]
    assert [str(w) for w in one.warnings] == [str(w) for w in chunked.warnings]
    assert (one.vintage, one.detail, one.rows_read) == (
        chunked.vintage, chunked.detail, chunked.rows_read)


@pytest.mark.parametrize("chunk_rows", [1, 7, 50])
def test_a_street_file_read_in_chunks_gives_what_one_read_gives(tmp_path, chunk_rows):
    path = tmp_path / "2024-03-met-street.csv"
    _street_file(path)
    one = _read(path, 10_000)
    chunked = _read(path, chunk_rows)
    _same(one, chunked)
    # the file exercises what it should: every kind of rejection, ids repeated, late rows
    reasons = " ".join(p.message for p in one.rejected)
    for words in ("not a month", "missing month", "not a GSS code", "no location",
                  "not a number", "outside the UK", "swapped", "outside the study area"):
        assert words in reasons, words
    assert one.frame["duplicate_of"].notna().any()
    assert max(p.row for p in one.rejected) > 100  # row numbers from the last chunks
    assert {p.row for p in one.rejected} >= {6 + 13, 6 + 118}  # no location; 'bad' month


def test_day_or_month_first_is_read_from_the_whole_column_across_chunks(tmp_path):
    path = tmp_path / "dates.csv"
    _dates_file(path)
    one = _read(path, 10_000)
    chunked = _read(path, 7)
    _same(one, chunked)
    # 05/13/2024 in the last chunk makes every NN/NN/2024 month first: 02/02 is February
    assert set(one.frame["month"].dropna()) >= {"2024-05", "2024-02"}
    assert one.frame.loc[one.frame["source_row"] == 52, "month"].item() == "2024-05"


def test_strict_lists_every_invalid_row_of_every_chunk(tmp_path):
    path = tmp_path / "2024-03-met-street.csv"
    _street_file(path)
    with pytest.raises(DataValidationError) as whole:
        _read(path, 10_000, strict=True)
    with pytest.raises(DataValidationError) as chunked:
        _read(path, 7, strict=True)
    assert [str(p) for p in whole.value.problems] == [str(p) for p in chunked.value.problems]
    assert str(whole.value) == str(chunked.value)
    assert len(whole.value.problems) > 20


def test_the_table_in_chunks_is_the_table(tmp_path):
    path = tmp_path / "2024-03-met-street.csv"
    _street_file(path, rows=45)
    whole, _ = read_table(path)
    parts = list(iter_table(path, 10))
    assert [len(p) for p in parts] == [10, 10, 10, 10, 10, 3]  # 45 rows and 8 clean ones
    pd.testing.assert_frame_equal(pd.concat(parts), whole)
    some = list(iter_table(path, 10, columns={"Month", "Crime type"}))
    pd.testing.assert_frame_equal(pd.concat(some), whole[["Month", "Crime type"]])
