"""Reading the files users bring: CSV text in any of the usual encodings, and vector
files (GeoJSON, GeoPackage, Shapefile, zipped Shapefile) through GDAL.

Nothing here knows what the file *means*; the source modules decide that.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import pandas as pd
import pyogrio

from mapper.errors import MapperError, Problem

ENCODINGS = ("utf-8-sig", "cp1252")
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb"}
#: spreadsheets are read from their largest sheet (IoD workbooks open with a notes sheet)
SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".ods"}
TABLE_SUFFIXES = {".csv", ".txt", ".tsv"} | SPREADSHEET_SUFFIXES
# Shapefile parts read together with their .shp, never on their own.
SIDECAR_SUFFIXES = {".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".xml", ".qmd"}
PEEK_BYTES = 256 * 1024
PEEK_ROWS = 500


@dataclass
class Peek:
    """The first rows of a file: enough to tell what kind of file it is."""

    path: Path
    format: str  # "table" or "vector"
    columns: list[str]
    head: pd.DataFrame
    rows: int | None = None  # total, when known cheaply
    encoding: str | None = None
    crs: str | None = None
    geometry_type: str | None = None
    #: the title a file carries, if any (a GeoJSON "name", a GeoPackage layer's name)
    title: str = ""
    notes: list[Problem] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name


def sha256(path: Path) -> str:
    """The SHA-256 hex digest of a file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def decode(data: bytes, *, file: str) -> tuple[str, str]:
    """Decode bytes as UTF-8 (with or without BOM), else Windows-1252; (text, encoding)."""
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise MapperError(
        f"{file}: the file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8 "
        "(in Excel: File > Save As > 'CSV UTF-8') and import again"
    )


def _looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:8192]


def _delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample.split("\n", 1)[0], delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def _frame_from_text(text: str, *, file: str, nrows: int | None = None) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            sep=_delimiter(text[:4096]),
            nrows=nrows,
            skipinitialspace=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise MapperError(f"{file}: not a readable CSV table ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def peek(path: Path) -> Peek:
    """Look at the first rows and the columns of a table or vector file."""
    suffix = path.suffix.lower()
    if suffix in VECTOR_SUFFIXES and (suffix != ".json" or _json_is_geojson(path)):
        return _peek_vector(path)
    return _peek_table(path)


def _json_is_geojson(path: Path) -> bool:
    with open(path, "rb") as handle:
        return b'"FeatureCollection"' in handle.read(4096) or b'"Feature"' in handle.read(4096)


def _peek_table(path: Path) -> Peek:
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        head, sheet, rows = _read_sheet(path, nrows=PEEK_ROWS)
        return Peek(path, "table", list(head.columns), head, rows=rows, encoding=f"sheet {sheet}")
    with open(path, "rb") as handle:
        data = handle.read(PEEK_BYTES)
        more = bool(handle.read(1))
    if _looks_binary(data):
        raise MapperError(f"{path.name}: a binary file, not a CSV table or a vector file")
    if more and b"\n" in data:
        data = data[: data.rfind(b"\n") + 1]  # never cut a row (or a UTF-8 character) in two
    text, encoding = decode(data, file=path.name)
    head = _frame_from_text(text, file=path.name, nrows=PEEK_ROWS)
    return Peek(path, "table", list(head.columns), head, encoding=encoding)


def read_table(path: Path) -> tuple[pd.DataFrame, str]:
    """The whole table as strings (blank cells are ''), and the encoding it was read in
    (for a spreadsheet: 'sheet NAME', the sheet read)."""
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        frame, sheet, _ = _read_sheet(path)
        return frame, f"sheet {sheet}"
    text, encoding = decode(path.read_bytes(), file=path.name)
    return _frame_from_text(text, file=path.name), encoding


#: bytes decoded at a time when a file's encoding is checked without holding it whole
_DECODE_BLOCK = 1 << 20


def _encoding_of(path: Path) -> str:
    """The encoding :func:`decode` would read `path` in, found by decoding it a block at a
    time (never the whole file in memory); MapperError as :func:`decode` when neither."""
    import codecs

    for encoding in ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(_DECODE_BLOCK), b""):
                    decoder.decode(block)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    decode(b"\xff\xfe\x81", file=path.name)  # raises the error decode() gives
    raise AssertionError("unreachable")


def iter_table(path: Path, rows: int, *, columns: set[str] | None = None
               ) -> Iterator[pd.DataFrame]:
    """The table of :func:`read_table`, `rows` rows at a time (pandas' C parser on the
    file, so a large CSV never sits whole in memory); only the `columns` named (as
    :func:`read_table` names them: stripped), all when None. Each chunk keeps its
    positions in the whole table as its index (so row numbers are the whole file's).
    Spreadsheets are read whole, as one chunk."""
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        frame, _ = read_table(path)
        yield frame if columns is None else frame[[c for c in frame.columns if c in columns]]
        return
    encoding = _encoding_of(path)
    with open(path, encoding=encoding, newline="") as handle:
        sample = handle.read(4096)
    wanted = None if columns is None else (lambda c: str(c).strip() in columns)
    try:
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, sep=_delimiter(sample),
                             skipinitialspace=False, encoding=encoding, chunksize=rows,
                             usecols=wanted)
        with reader:
            offset = 0
            for frame in reader:
                frame.columns = [str(c).strip() for c in frame.columns]
                frame.index = pd.RangeIndex(offset, offset + len(frame))
                offset += len(frame)
                yield frame
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise MapperError(f"{path.name}: not a readable CSV table ({exc})") from None


def table_columns(path: Path) -> list[str]:
    """The column names of a table file (stripped, as :func:`read_table` gives them)."""
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        return list(read_table(path)[0].columns)
    encoding = _encoding_of(path)
    with open(path, encoding=encoding, newline="") as handle:
        sample = handle.read(PEEK_BYTES)
    return list(_frame_from_text(sample.split("\n", 1)[0] + "\n", file=path.name,
                                 nrows=0).columns)


def _read_sheet(path: Path, *, nrows: int | None = None) -> tuple[pd.DataFrame, str, int]:
    """(the largest sheet of a workbook as strings, its name, its data rows)."""
    if path.suffix.lower() == ".ods":
        return _read_ods(path, nrows=nrows)
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for damaged files
        raise MapperError(f"{path.name}: not a readable Excel workbook ({exc})") from None
    try:
        sizes = {ws.title: ws.max_row or 0 for ws in book.worksheets}
    finally:
        book.close()
    sheet = max(sizes, key=lambda name: sizes[name])
    frame = pd.read_excel(path, sheet_name=sheet, dtype=str, keep_default_na=False,
                          nrows=nrows, engine="openpyxl")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame, sheet, max(sizes[sheet] - 1, 0)


def _read_ods(path: Path, *, nrows: int | None = None) -> tuple[pd.DataFrame, str, int]:
    """:func:`_read_sheet` for OpenDocument spreadsheets (odfpy reads every sheet whole)."""
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False,
                               engine="odf")
    except Exception as exc:  # odfpy raises several kinds for damaged files
        raise MapperError(f"{path.name}: not a readable OpenDocument spreadsheet ({exc})") from None
    if not sheets:
        raise MapperError(f"{path.name}: the spreadsheet has no sheets")
    sheet = max(sheets, key=lambda name: len(sheets[name]))
    frame = sheets[sheet]
    frame.columns = [str(c).strip() for c in frame.columns]
    return (frame if nrows is None else frame.head(nrows)), sheet, len(frame)


def table_row(position: int) -> int:
    """Spreadsheet row number of the data row at 0-based `position` (header is row 1)."""
    return position + 2


def _vector_source(path: Path) -> str:
    if path.suffix.lower() != ".zip":
        return str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if not m.startswith("__MACOSX")]
    except zipfile.BadZipFile:
        raise MapperError(f"{path.name}: not a valid zip archive (truncated or damaged?)") from None
    if any(Path(m).suffix.lower() == ".gpkg" for m in members):
        raise MapperError(f"{path.name}: a GeoPackage in a zip cannot be checked before it is "
                          "read; unzip it and import the .gpkg itself")
    inner = [m for m in members if Path(m).suffix.lower() in {".shp", ".geojson"}]
    if len(inner) != 1:
        found = ", ".join(members[:10]) or "nothing"
        raise MapperError(
            f"{path.name}: a zip must hold exactly one shapefile, GeoPackage or GeoJSON "
            f"(found: {found})"
        )
    return f"/vsizip/{path}/{inner[0]}"


#: triggers GeoPackage writers (GDAL, QGIS) add themselves: spatial-index upkeep, feature
#: counts and the standard's own checks; any other trigger is refused
_STANDARD_TRIGGER = re.compile(
    r"^(rtree_\w+_(insert|update\d*|delete)|trigger_(insert|delete)_feature_count_\w+"
    r"|gpkg_\w+)$", re.IGNORECASE)
#: how long reading a GeoPackage's schema may take
SCHEMA_SECONDS = 5.0


def check_geopackage(path: Path) -> None:
    """Refuse a GeoPackage that could make reading it unbounded, before GDAL opens it.

    Its schema is read with SQLite (read-only, with a time limit; a file SQLite cannot
    read is left to GDAL to refuse): a layer that is a view
    (a query that runs on every read, and may be made to run for ever), a virtual table
    other than the spatial index, a column computed on read (a generated column), or a
    trigger other than the standard ones is refused with a clear message.
    """
    name = path.name
    deadline = time.monotonic() + SCHEMA_SECONDS
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.absolute()))}?mode=ro&immutable=1",
                               uri=True)
    except sqlite3.Error:
        return  # GDAL says why it cannot be read
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
    problems: list[str] = []
    try:
        schema = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        tables = {n: (sql or "") for t, n, _, sql in schema if t == "table"}
        if "gpkg_contents" not in tables:
            raise MapperError(f"{name}: not a GeoPackage (it has no gpkg_contents table)")
        views = sorted(n for t, n, _, _ in schema if t == "view")
        if views:
            problems.append(f"it holds {len(views)} view{'s' if len(views) > 1 else ''} "
                            f"({', '.join(views[:5])}): a view is a query run on every read")
        triggers = sorted(n for t, n, _, _ in schema
                          if t == "trigger" and not _STANDARD_TRIGGER.match(n))
        if triggers:
            problems.append(f"it holds {len(triggers)} trigger{'s' if len(triggers) > 1 else ''}"
                            f" of its own ({', '.join(triggers[:5])})")
        contents = [str(r[0]) for r in conn.execute("SELECT table_name FROM gpkg_contents")]
        for table in contents:
            sql = tables.get(table)
            if sql is None:
                if table not in views:
                    problems.append(f"its layer {table!r} has no table")
                continue
            if re.match(r"\s*CREATE\s+VIRTUAL", sql, re.IGNORECASE):
                problems.append(f"its layer {table!r} is a virtual table")
                continue
            quoted = table.replace('"', '""')
            hidden = [r[1] for r in conn.execute(f'PRAGMA table_xinfo("{quoted}")')
                      if r[6] in (2, 3)]
            if hidden:
                problems.append(f"its layer {table!r} has columns computed on read "
                                f"({', '.join(map(str, hidden[:5]))})")
    except sqlite3.Error as exc:
        if "interrupted" in str(exc):
            raise MapperError(f"{name}: its schema took more than {SCHEMA_SECONDS:g} s to "
                              "read; refused") from None
        return  # not an SQLite database, or a damaged one: GDAL says why it cannot be read
    finally:
        conn.close()
    if problems:
        raise MapperError(
            f"{name}: refused: " + "; ".join(problems) + ". Export the layer as a plain "
            "table (in QGIS: Export > Save Features As... GeoPackage) and try again")


def _layer(path: Path) -> str | None:
    if path.suffix.lower() != ".gpkg":
        return None
    check_geopackage(path)
    layers = pyogrio.list_layers(path)
    spatial = [str(name) for name, geom in layers if geom is not None]
    if len(spatial) != 1:
        raise MapperError(
            f"{path.name}: the GeoPackage holds {len(spatial)} geometry layers "
            f"({', '.join(spatial) or 'none'}); export the one to import on its own"
        )
    return spatial[0]


def _gdal_error(path: Path, exc: Exception) -> MapperError:
    reason = str(exc).replace(f"/vsizip/{path}", path.name).replace(str(path), path.name)
    reason = reason.split(";")[0].strip("' ")
    return MapperError(f"{path.name}: GDAL cannot read it as a vector file ({reason})")


def _peek_vector(path: Path) -> Peek:
    source = _vector_source(path)
    try:
        layer = _layer(path)
        info = pyogrio.read_info(source, layer=layer)
        head = pyogrio.read_dataframe(
            source, layer=layer, read_geometry=False, max_features=PEEK_ROWS
        )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise _gdal_error(path, exc) from None
    head = pd.DataFrame(head)
    return Peek(
        path,
        "vector",
        [str(c) for c in head.columns],
        head,
        rows=int(info["features"]),
        crs=info.get("crs"),
        geometry_type=info.get("geometry_type"),
        title=str(info.get("layer_name") or ""),
    )


def read_vector(path: Path) -> gpd.GeoDataFrame:
    """Every feature of a vector file, in the CRS it declares (or none)."""
    try:
        return pyogrio.read_dataframe(_vector_source(path), layer=_layer(path))
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise _gdal_error(path, exc) from None
