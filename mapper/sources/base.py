"""What every source returns, and the checks they share.

A source module detects its format from a :class:`~mapper.sources.files.Peek` and
reads a file into a canonical frame. Checks collect *every* problem as a
:class:`~mapper.errors.Problem`; the caller raises them together.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapper import registers
from mapper.errors import Problem
from mapper.sources.codes import KIND_LABEL, kinds_of
from mapper.sources.files import table_row

#: how far outside the study area (metres) a feature may sit and still count as inside:
#: generalised boundary files disagree by up to a few tens of metres along edges and rivers
STUDY_AREA_TOLERANCE_M = 250.0

OGL = "Open Government Licence v3.0"
OGL_ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0."
)
OS_ATTRIBUTION = "Contains OS data © Crown copyright and database right."


@dataclass
class Detection:
    """What a file was taken to be."""

    kind: str  # the workspace layer it feeds: wards, boroughs, lsoas, deprivation, ...
    vintage: str  # e.g. "2018", "IoD2019 / LSOA 2011"
    detail: str  # one line for people: "ONS ward boundaries (WD18CD)"
    rows: int | None
    reader: Callable[..., Imported]
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> column in the file
    extra: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def file_path(self) -> Path:
        """The file (or Open Referral folder) detected: set by ``detect_file``, which every
        detection a build or import reads comes from."""
        if self.path is None:
            raise ValueError(f"no file recorded for the detected {self.detail}")
        return self.path


@dataclass
class Imported:
    """A file read, validated and normalised, ready for the store."""

    kind: str
    frame: pd.DataFrame
    vintage: str
    detail: str
    rows_read: int
    licence: str
    attribution: str
    warnings: list[Problem] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    #: point registers only: rows not imported, each with its reason (invalid rows skipped
    #: with --skip-invalid, and rows left out by rule, such as police.uk rows with no
    #: location); accepted + rejected = rows_read
    rejected: list[Problem] = field(default_factory=list)


@dataclass
class Context:
    """What an import may check against and use.

    study_area : the union of the boroughs (else wards), EPSG:27700, when known
    postcodes : postcode centroids for geocoding: a DataFrame indexed by normalised
        postcode with ``x`` and ``y`` columns (EPSG:27700), when the workspace has them
    skip_invalid : import the valid rows even when more than
        :data:`~mapper.sources.points.MAX_FAILED_SHARE` of the rows fail (the file is
        otherwise held back as probably misread)
    strict : reject the whole file when any row is invalid (``--strict``); by default
        invalid rows are rejected, each with its reason, and the others imported
    capability_rules : the workspace's own capabilities.csv (see
        :mod:`mapper.sources.capabilities`), when it has one
    area_names : the normalised names of the workspace's boroughs and wards, to tell an
        area's profile from an organisation (:mod:`mapper.sources.organisations`)
    """

    study_area: shapely.Geometry | None = None
    study_area_name: str = ""
    postcodes: pd.DataFrame | None = None
    skip_invalid: bool = False
    strict: bool = False
    capability_rules: Path | None = None
    area_names: frozenset[str] = frozenset()
    #: (the study area, it buffered and prepared): made once, for every file of a build
    buffered: tuple | None = field(default=None, repr=False, compare=False)


def year_in_name(path: Path) -> str | None:
    """A 4-digit year in a file name (used only as a vintage hint, never for the kind)."""
    years = re.findall(r"(?<!\d)(19[89]\d|20[0-4]\d)(?!\d)", path.stem)
    return years[0] if years else None


def check_codes(
    values: pd.Series,
    *,
    file: str,
    column: str,
    kind: str,
    unique: bool = True,
    rows: Callable[[int], int] = table_row,
    row_label: str = "row",
) -> list[Problem]:
    """Blank codes, codes of the wrong kind and (optionally) duplicates, one problem each."""
    problems: list[Problem] = []
    text = values.astype("string").str.strip().fillna("")
    kinds = kinds_of(text)
    for pos in np.flatnonzero((text == "").to_numpy(bool)).tolist():
        problems.append(
            Problem(
                file,
                f"missing code; expected a {KIND_LABEL[kind]} code",
                rows(pos),
                column,
                row_label=row_label,
            )
        )
    wrong = ((kinds != kind) | kinds.isna()).to_numpy(bool) & (text != "").to_numpy(bool)
    for pos in np.flatnonzero(wrong).tolist():
        seen = kinds.iloc[pos]
        what = f"a {KIND_LABEL[seen]} code" if isinstance(seen, str) else "not a GSS code"
        problems.append(
            Problem(
                file,
                f"{what}; expected a {KIND_LABEL[kind]} code",
                rows(pos),
                column,
                text.iloc[pos],
                row_label=row_label,
            )
        )
    if unique:
        dup = text.duplicated(keep=False).to_numpy(bool) & (text != "").to_numpy(bool)
        firsts: dict[str, int] = {}
        for pos in np.flatnonzero(dup).tolist():
            code = text.iloc[pos]
            if code not in firsts:
                firsts[code] = pos
                continue
            problems.append(
                Problem(
                    file,
                    f"duplicate code (also at {row_label} {rows(firsts[code])}); "
                    "each area must appear once",
                    rows(pos),
                    column,
                    code,
                    row_label=row_label,
                )
            )
    return problems


def parse_numbers(
    values: pd.Series,
    *,
    file: str,
    column: str,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    required: bool = True,
    rows: Callable[[int], int] = table_row,
) -> tuple[pd.Series, list[Problem]]:
    """Parse text to floats (thousands separators allowed); report bad or out-of-range values."""
    text = values.astype("string").str.strip().str.replace(",", "", regex=False).fillna("")
    numbers = pd.to_numeric(text.where(text != ""), errors="coerce").astype("float64")
    problems: list[Problem] = []
    bounds = _bounds_text(low, high, integer)
    for pos in np.flatnonzero(numbers.isna().to_numpy() & (text != "").to_numpy()).tolist():
        problems.append(
            Problem(file, f"not a number; expected {bounds}", rows(pos), column, values.iloc[pos])
        )
    if required:
        for pos in np.flatnonzero((text == "").to_numpy()).tolist():
            problems.append(Problem(file, f"missing value; expected {bounds}", rows(pos), column))
    arr = numbers.to_numpy()
    bad = ~np.isfinite(arr) & ~numbers.isna().to_numpy()
    if low is not None:
        bad |= arr < low
    if high is not None:
        bad |= arr > high
    if integer:
        bad |= np.isfinite(arr) & (np.mod(arr, 1) != 0)
    for pos in np.flatnonzero(bad).tolist():
        problems.append(
            Problem(file, f"out of range; expected {bounds}", rows(pos), column, values.iloc[pos])
        )
    return numbers, problems


def _bounds_text(low, high, integer) -> str:
    noun = "a whole number" if integer else "a number"
    if low is not None and high is not None:
        return f"{noun} from {low:g} to {high:g}"
    if low is not None:
        return f"{noun} of at least {low:g}"
    return noun


def clean_polygons(frame: gpd.GeoDataFrame, *, file: str) -> tuple[gpd.GeoDataFrame, list[Problem]]:
    """Reject empty geometry and NaN/infinite coordinates; repair invalid polygons.

    Errors: missing or empty geometry, non-finite coordinates, non-polygon features.
    Warnings: the count of invalid polygons repaired with ``make_valid``.
    """
    problems: list[Problem] = []
    geoms = frame.geometry.array
    missing = np.asarray(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    for pos in np.flatnonzero(missing).tolist():
        problems.append(
            Problem(file, "empty geometry; expected a polygon", pos + 1, row_label="feature")
        )
    coords_ok = np.array(
        [
            bool(np.isfinite(shapely.get_coordinates(g)).all()) if g is not None else True
            for g in geoms
        ]
    )
    for pos in np.flatnonzero(~coords_ok & ~missing).tolist():
        problems.append(
            Problem(file, "coordinates include NaN or infinity", pos + 1, row_label="feature")
        )
    kinds = np.asarray(shapely.get_type_id(geoms))
    not_polygon = ~np.isin(kinds, [3, 6]) & ~missing
    for pos in np.flatnonzero(not_polygon).tolist():
        problems.append(
            Problem(
                file,
                f"a {geoms[pos].geom_type}; expected a Polygon or MultiPolygon",
                pos + 1,
                row_label="feature",
            )
        )
    usable = ~missing & coords_ok & ~not_polygon
    invalid = usable & ~np.asarray(shapely.is_valid(geoms))
    if invalid.any():
        repaired = shapely.make_valid(geoms[invalid])
        repaired = np.array([_polygonal(g) for g in repaired], dtype=object)
        frame = frame.copy()
        frame.loc[frame.index[invalid], frame.geometry.name] = repaired
        problems.append(
            Problem(
                file,
                f"{int(invalid.sum())} invalid polygon"
                f"{'s' if invalid.sum() > 1 else ''} (self-intersections or bad rings) "
                "repaired",
                severity="warning",
            )
        )
    return frame, problems


def _polygonal(geom):
    """Keep only the polygon parts of a repaired geometry (make_valid may add lines)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else geom


def inside_study_area(geoms: gpd.GeoSeries, context: Context) -> np.ndarray:
    """Boolean mask: representative point within the study area (with tolerance)."""
    if context.study_area is None or len(geoms) == 0:
        return np.ones(len(geoms), dtype=bool)
    if context.buffered is None or context.buffered[0] is not context.study_area:
        area = shapely.buffer(context.study_area, STUDY_AREA_TOLERANCE_M)
        shapely.prepare(area)
        context.buffered = (context.study_area, area)
    area = context.buffered[1]
    points = (
        shapely.point_on_surface(geoms.array) if geoms.geom_type.iloc[0] != "Point" else geoms.array
    )
    return np.asarray(shapely.contains(area, points))


def row_label(imp: Imported) -> str:
    """How an import's records are numbered: 'feature' for vector files (from 1), else
    'row' (as a spreadsheet shows them)."""
    path = imp.extra.get("path")
    return "feature" if path is not None and Path(path).suffix.lower() in (
        ".geojson", ".json", ".gpkg", ".shp", ".zip") else "row"


#: how many row numbers a field-rule warning lists
_ROWS_LISTED = 20


def apply_field_rules(imp: Imported) -> Imported:
    """Hold a register import to the rules edits follow (:mod:`mapper.registers`).

    Text longer than :data:`mapper.registers.MAX_TEXT` characters is cut to it; contact
    values that do not fit their format (a ``javascript:`` website, a phone number of
    letters) are left out of the record, which is kept, and so are websites the publisher
    masked (``https://chat.whatsapp.com/[invite-code-removed]``); a bare domain becomes
    ``https://...``. Each is reported as a warning naming the field and every row.
    """
    frame = imp.frame
    if imp.kind not in registers.REGISTER_COLUMNS or not len(frame):
        return imp
    frame = frame.copy()
    path = imp.extra.get("path")
    label = row_label(imp)
    file = imp.extra.get("file") or (Path(path).name if path is not None else imp.detail)
    rows = frame["source_row"] if "source_row" in frame else pd.Series(
        range(1, len(frame) + 1), index=frame.index)
    geometry = getattr(frame, "_geometry_column_name", "geometry")

    def note(column: str, mask: np.ndarray, what: str) -> None:
        listed = [str(r) for r in rows[mask].head(_ROWS_LISTED)]
        more = int(mask.sum()) - len(listed)
        imp.warnings.append(Problem(
            file, f"{int(mask.sum()):,} value{'s' if mask.sum() > 1 else ''} {what} "
            f"({label}{'s' if mask.sum() > 1 else ''} {', '.join(listed)}"
            f"{f' and {more:,} more' if more > 0 else ''})",
            column=column, severity="warning"))

    for column in frame.columns:
        if column == geometry or frame[column].dtype.kind not in "OSU" and str(
                frame[column].dtype) not in ("string", "str"):
            continue
        text = frame[column]
        long = (text.astype("string").str.len() > registers.MAX_TEXT).fillna(False).to_numpy()
        if long.any():
            frame.loc[long, column] = text[long].astype(str).str[: registers.MAX_TEXT]
            note(column, long, f"longer than {registers.MAX_TEXT:,} characters (the limit "
                 "edits have) cut to it")
    for column in registers.CONTACT_FORMATS:
        if column not in frame:
            continue
        values = frame[column].astype("object")
        bad = np.zeros(len(frame), dtype=bool)
        masked = np.zeros(len(frame), dtype=bool)
        for pos, value in enumerate(values):
            if value is None or value is pd.NA or value != value or not str(value).strip():
                continue
            if column == "website" and registers.redacted_link(str(value)):
                values.iloc[pos] = None
                masked[pos] = True
                continue
            try:
                values.iloc[pos] = registers.contact_value(column, value)
            except ValueError:
                values.iloc[pos] = None
                bad[pos] = True
        frame[column] = values
        if bad.any():
            note(column, bad, "left out: not " + registers.CONTACT_FORMATS[column])
        if masked.any():
            note(column, masked, "left out: links whose address the publisher removed "
                 "(a redaction marker such as '[invite-code-removed]', '[redacted]' or "
                 "'xxx'), not usable links")
    imp.frame = frame
    return imp
