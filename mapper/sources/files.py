"""Reading the files users bring: CSV text in any of the usual encodings, spreadsheets
(.xlsx, .ods: the sheet with the most rows), and vector files (GeoJSON, GeoPackage,
Shapefile, zipped Shapefile) through GDAL.

Nothing here knows what the file *means*; the source modules decide that.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from mapper.errors import MapperError, Problem

ENCODINGS = ("utf-8-sig", "cp1252")
VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb"}
#: spreadsheets, read with openpyxl (.xlsx, .xlsm) or odfpy (.ods)
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".ods"}
TABLE_SUFFIXES = {".csv", ".txt", ".tsv"} | EXCEL_SUFFIXES
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
    notes: list[Problem] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name


def sha256(path: Path) -> str:
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
    if path.suffix.lower() in EXCEL_SUFFIXES:
        frame, sheet = _read_sheet(path)
        note = [Problem(path.name, sheet, severity="warning")] if "sheets" in sheet else []
        return Peek(path, "table", list(frame.columns), frame.head(PEEK_ROWS),
                    rows=len(frame), encoding=sheet, notes=note)
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


def _read_sheet(path: Path) -> tuple[pd.DataFrame, str]:
    """The sheet of a spreadsheet with the most rows, as strings; and which sheet it was."""
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
    except Exception as exc:  # openpyxl and odfpy raise many kinds for damaged files
        raise MapperError(
            f"{path.name}: not a readable spreadsheet ({type(exc).__name__}: {exc})"
        ) from None
    if not sheets:
        raise MapperError(f"{path.name}: the spreadsheet has no sheets")
    name = max(sheets, key=lambda k: (len(sheets[k]), len(sheets[k].columns)))
    frame = sheets[name]
    frame.columns = [str(c).strip() for c in frame.columns]
    others = [k for k in sheets if k != name]
    which = f"sheet '{name}'"
    if others:
        which += (f" (the largest of {len(sheets)} sheets; not read: "
                  f"{', '.join(repr(k) for k in others)})")
    return frame.fillna(""), which


def read_table(path: Path) -> tuple[pd.DataFrame, str]:
    """The whole table as strings (blank cells are ''), and the encoding it was read in
    (for a spreadsheet: which sheet)."""
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return _read_sheet(path)
    text, encoding = decode(path.read_bytes(), file=path.name)
    return _frame_from_text(text, file=path.name), encoding


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
    inner = [m for m in members if Path(m).suffix.lower() in {".shp", ".gpkg", ".geojson"}]
    if len(inner) != 1:
        found = ", ".join(members[:10]) or "nothing"
        raise MapperError(
            f"{path.name}: a zip must hold exactly one shapefile, GeoPackage or GeoJSON "
            f"(found: {found})"
        )
    return f"/vsizip/{path}/{inner[0]}"


def _layer(path: Path) -> str | None:
    if path.suffix.lower() != ".gpkg":
        return None
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
    )


def read_vector(path: Path) -> gpd.GeoDataFrame:
    """Every feature of a vector file, in the CRS it declares (or none)."""
    try:
        return pyogrio.read_dataframe(_vector_source(path), layer=_layer(path))
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise _gdal_error(path, exc) from None
