"""Locating point records: coordinates (latitude/longitude or eastings/northings) or, failing
those, a postcode geocoded through the workspace's postcode centroids.

Shared by every point-register source. Row problems are collected, never raised here:
:func:`settle` rejects the rows that cannot be placed, each with its reason, and keeps the
others (or, with ``Context.strict``, rejects the whole file). :func:`misread` is the one
rule that holds back a file where too many rows failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from mapper import geo
from mapper.errors import DataValidationError, Problem
from mapper.postcodes import normalise_postcodes, postcode_at_end
from mapper.sources.base import Context, Imported, inside_study_area
from mapper.sources.files import table_row

#: longitude/latitude envelope of the UK and its waters
UK_LON = (-9.0, 3.0)
UK_LAT = (49.0, 61.0)
#: British National Grid eastings and northings
BNG_E = (0.0, 700_000.0)
BNG_N = (0.0, 1_300_000.0)
#: a point file where more than this share of its rows fails (invalid, cannot be placed,
#: or outside the study area) is held back as probably misread: a wrong coordinate
#: system, swapped or wrong columns. ``--skip-invalid`` imports its usable rows anyway.
MAX_FAILED_SHARE = 0.20
OUTSIDE_STUDY_AREA = "outside the study area"
#: a group or premises placed further than this (metres, EPSG:27700) from the centroid of
#: its own postcode is flagged in ``location_note`` ("check the location"). It keeps the
#: source's point: the postcode may be the wrong one (a head office's, a typing slip)
#: as often as the point is, so the officer is told and decides. 1 km is well beyond a
#: postcode unit (typically a street, rarely over a few hundred metres across) and the
#: spread of a large site, and short of the next neighbourhood
PLACEMENT_TOLERANCE_M = 1_000.0
#: registers whose records are checked against their postcode (incidents have none)
PLACED_REGISTERS = ("groups", "premises")
#: how many row numbers an import report lists for one check
ROWS_LISTED = 20


@dataclass
class Located:
    """Where each row is. ``geometry`` is None for rows that could not be placed."""

    geometry: gpd.GeoSeries
    how: pd.Series  # "coordinates", "postcode centroid" or ""
    problems: list[Problem] = field(default_factory=list)  # one per unplaceable row
    unmatched_postcodes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> np.ndarray:
        return ~self.geometry.isna().to_numpy()


def _numbers(values: pd.Series | None, index) -> tuple[pd.Series, pd.Series]:
    """(parsed floats, was-the-cell-blank) for an optional column."""
    if values is None:
        return pd.Series(np.nan, index=index), pd.Series(True, index=index)
    text = values.astype("string").str.strip().fillna("")
    return pd.to_numeric(text.where(text != ""), errors="coerce").astype("float64"), text == ""


def locate(
    table: pd.DataFrame,
    *,
    file: str,
    context: Context,
    lat: str | None = None,
    lon: str | None = None,
    easting: str | None = None,
    northing: str | None = None,
    postcode: str | None = None,
    rows=table_row,
    row_label: str = "row",
) -> Located:
    """Place every row of `table`; report each row that cannot be placed, with the reason.

    Coordinates win over a postcode when both are given. Checks: numbers that are not
    numbers, NaN or infinity, latitude/longitude swapped, coordinates outside the UK,
    postcodes that are malformed or not in the workspace's postcode centroids.
    """
    index = table.index
    x = pd.Series(np.nan, index=index)
    y = pd.Series(np.nan, index=index)
    how = pd.Series("", index=index, dtype="object")
    problems: list[Problem] = []

    def report(mask, message, column, values=None):
        for pos in np.flatnonzero(np.asarray(mask)).tolist():
            value = None if values is None else values.iloc[pos]
            problems.append(Problem(file, message, rows(pos), column, value, row_label=row_label))

    handled = pd.Series(False, index=index)
    if lat and lon:
        la, la_blank = _numbers(table[lat], index)
        lo, lo_blank = _numbers(table[lon], index)
        given = ~(la_blank & lo_blank)
        half = la_blank ^ lo_blank
        report(half, "only one of latitude and longitude is given", lat if la_blank.any() else lon)
        bad_text = given & ~half & (la.isna() | lo.isna())
        report(bad_text & la.isna(), "latitude is not a number", lat, table[lat])
        report(bad_text & ~la.isna() & lo.isna(), "longitude is not a number", lon, table[lon])
        finite = np.isfinite(la) & np.isfinite(lo)
        report(given & ~half & ~bad_text & ~finite, "coordinates are infinite", lat, table[lat])
        in_uk = la.between(*UK_LAT) & lo.between(*UK_LON)
        swapped = lo.between(*UK_LAT) & la.between(*UK_LON)
        usable = given & ~half & ~bad_text & finite
        report(
            usable & swapped,
            "latitude is outside -90..90 of the UK's 49..61 and the "
            "longitude looks like a latitude: latitude and longitude swapped?",
            lat,
            table[lat],
        )
        report(
            usable & ~swapped & ~la.between(-90, 90), "latitude is outside -90..90", lat, table[lat]
        )
        report(
            usable & ~swapped & la.between(-90, 90) & ~in_uk,
            f"coordinates ({lat}, {lon}) are outside the UK (latitude 49..61, longitude -9..3)",
            lat,
            table[lat],
        )
        good = usable & in_uk
        if good.any():
            pts = geo.points_from_xy(lo[good], la[good], crs=geo.CRS_DISPLAY)
            x[good], y[good] = pts.x.to_numpy(), pts.y.to_numpy()
            how[good] = "coordinates"
        handled |= given
    if easting and northing:
        ea, ea_blank = _numbers(table[easting], index)
        no, no_blank = _numbers(table[northing], index)
        given = ~(ea_blank & no_blank) & ~handled
        half = given & (ea_blank ^ no_blank)
        report(half, "only one of easting and northing is given", easting)
        bad = given & ~half & (ea.isna() | no.isna() | ~np.isfinite(ea) | ~np.isfinite(no))
        report(bad, "easting/northing is not a finite number", easting, table[easting])
        outside = given & ~half & ~bad & ~(ea.between(*BNG_E) & no.between(*BNG_N))
        report(
            outside,
            "easting/northing outside British National Grid (0..700000, 0..1300000)",
            easting,
            table[easting],
        )
        good = given & ~half & ~bad & ~outside
        x[good], y[good] = ea[good], no[good]
        how[good] = "coordinates"
        handled |= given
    unmatched: list[str] = []
    if postcode:
        raw = table[postcode].astype("string").fillna("")
        want = ~handled & (raw.str.strip() != "")
        norm = normalise_postcodes(raw)
        report(want & norm.isna(), "not a UK postcode (expected e.g. 'SW1A 1AA')", postcode, raw)
        look = want & norm.notna()
        if look.any():
            if context.postcodes is None:
                report(
                    look,
                    "a postcode but no coordinates, and the workspace has no postcode "
                    "centroids to geocode it: import Code-Point Open or ONSPD first",
                    postcode,
                    raw,
                )
            else:
                found = norm[look].map(lambda p: p in context.postcodes.index)
                miss = look.copy()
                miss[look] = ~found.astype(bool)
                report(
                    miss,
                    "postcode not found in the workspace's postcode centroids "
                    "(terminated, mistyped or outside the study area?)",
                    postcode,
                    norm,
                )
                unmatched = sorted(set(norm[miss].dropna()))
                hit = look & ~miss
                coords = context.postcodes.loc[norm[hit].to_numpy(), ["x", "y"]].to_numpy()
                x[hit], y[hit] = coords[:, 0], coords[:, 1]
                how[hit] = "postcode centroid"
        handled |= want
    report(~handled, "no location: no coordinates and no postcode", None)
    placed = x.notna() & y.notna()
    geometry = gpd.GeoSeries(
        gpd.points_from_xy(x.where(placed, 0), y.where(placed, 0)),
        index=index,
        crs=geo.CRS_ANALYSIS,
    )
    geometry[~placed] = None
    return Located(geometry, how, sorted(problems, key=lambda p: p.row or 0), unmatched)


def strict_error(problems: list[Problem], file: str) -> DataValidationError:
    """The error that rejects a whole file with invalid rows (``--strict``)."""
    return DataValidationError(
        problems,
        summary=f"{len(problems)} invalid row{'s' if len(problems) > 1 else ''}"
        f" in {file}; the file was not imported (--strict rejects a file with any invalid "
        "row; without it the valid rows are imported and the others listed)",
    )


def outside_note(file: str, count: int, context: Context) -> Problem:
    """The warning counting a file's points outside the study area."""
    return Problem(file, f"{count:,} point{'s' if count > 1 else ''} outside the study area "
                   f"({context.study_area_name}) left out", severity="warning")


def settle(
    located: Located,
    *,
    file: str,
    context: Context,
    rejected: list[Problem],
    rows=table_row,
) -> tuple[np.ndarray, list[Problem]]:
    """Reject the rows that cannot be placed (or, with ``context.strict``, the file).

    Invalid rows are added to `rejected`, once each with every reason; with
    ``context.strict`` any invalid row rejects the whole file (DataValidationError).
    Points outside the study area are rejected with that reason. Returns the mask of rows
    to keep and the warnings to show.
    """
    # a row can fail several checks: it is rejected once, with every reason
    by_row: dict = {}
    for problem in located.problems:
        by_row.setdefault(problem.row, []).append(problem)
    if located.problems and context.strict:
        raise strict_error(located.problems, file)
    for row, problems in by_row.items():
        first = problems[0]
        if len(problems) == 1 or row is None:
            rejected.extend(problems)
        else:
            rejected.append(
                Problem(
                    file,
                    "; ".join(f"{p.column}: {p.message}" for p in problems),
                    row,
                    row_label=first.row_label,
                )
            )
    keep = located.ok.copy()
    if by_row:  # rows with any problem are never kept, whatever else placed them
        position = {rows(i): i for i in range(len(keep))}
        keep[[position[r] for r in by_row if r in position]] = False
    notes: list[Problem] = []
    if context.study_area is not None and keep.any():
        idx = np.flatnonzero(keep)
        inside = inside_study_area(located.geometry.iloc[idx], context)
        for pos in idx[~inside]:
            rejected.append(
                Problem(
                    file,
                    f"{OUTSIDE_STUDY_AREA} ({context.study_area_name})",
                    rows(pos),
                    severity="rejected",
                )
            )
        keep[idx[~inside]] = False
        if (~inside).any():
            notes.append(outside_note(file, int((~inside).sum()), context))
    if located.unmatched_postcodes:  # counted, not listed: postcodes may be contact details
        n = len(located.unmatched_postcodes)
        notes.append(
            Problem(
                file,
                f"{n:,} postcode{'s' if n > 1 else ''} not found in the postcode centroids "
                "(their rows are listed with the rejected rows)",
                severity="warning",
            )
        )
    return keep, notes


def failed(problem: Problem) -> bool:
    """Whether a rejected row counts towards :data:`MAX_FAILED_SHARE`: it was invalid or
    fell outside the study area (rows a source leaves out by its own rule, such as
    police.uk crimes published without a location or removed charities, do not)."""
    return problem.severity == "error" or problem.message.startswith(OUTSIDE_STUDY_AREA)


def misread(imported: Imported) -> Problem | None:
    """The reason to hold back an imported point file as probably misread, or None.

    A file is held back when more than :data:`MAX_FAILED_SHARE` of its rows failed
    (:func:`failed`). The problem names the share, the commonest reasons and the ways on.
    """
    if not imported.rows_read:
        return None
    bad = [p for p in imported.rejected if failed(p)]
    share = len(bad) / imported.rows_read
    if share <= MAX_FAILED_SHARE:
        return None
    reasons = pd.Series([p.message for p in bad], dtype="object").value_counts()
    why = "; ".join(f"{n:,} {reason}" for reason, n in reasons.head(3).items())
    file = bad[0].file
    return Problem(
        file,
        f"{len(bad):,} of {imported.rows_read:,} rows ({share:.0%}) cannot be used, more than "
        f"the {MAX_FAILED_SHARE:.0%} a correctly read file may lose ({why}): the file was held "
        "back as probably misread (wrong coordinate system, swapped or wrong columns, or a "
        "file for another area?)",
    )


def placement_note(distance_m: float, postcode: str) -> str:
    """What ``location_note`` says of a record placed `distance_m` from its postcode."""
    return f"placed {distance_m / 1000:.1f} km from its postcode {postcode}: check the location"


def _rows_text(imp: Imported, mask: np.ndarray, label: str) -> str:
    frame = imp.frame
    rows = (frame["source_row"] if "source_row" in frame
            else pd.Series(range(1, len(frame) + 1), index=frame.index))
    listed = [str(r) for r in rows[mask].head(ROWS_LISTED)]
    more = int(mask.sum()) - len(listed)
    return (f"{label}{'s' if mask.sum() > 1 else ''} {', '.join(listed)}"
            + (f" and {more:,} more" if more > 0 else ""))


def check_placement(imp: Imported, context: Context, *, file: str, label: str = "row") -> None:
    """Check where each group or premises is placed against its own postcode.

    A record with a blank ``postcode`` whose ``address`` ends in a full postcode takes
    that postcode (an assumption, reported with its count). A record with a point and a
    postcode found in the workspace's postcode centroids that lies more than
    :data:`PLACEMENT_TOLERANCE_M` from that centroid keeps the source's point and gets a
    ``location_note`` (:func:`placement_note`), shown wherever officers see the record;
    the import report counts them. Works on ``imp.frame`` in place of the reader's.
    """
    frame = imp.frame
    if imp.kind not in PLACED_REGISTERS or not len(frame) or "postcode" not in frame:
        return
    frame = frame.copy()
    given = frame["postcode"].astype("string").str.strip().fillna("") != ""
    if "address" in frame:
        found = postcode_at_end(frame["address"])
        fill = (~given & found.notna()).to_numpy()
        if fill.any():
            frame.loc[fill, "postcode"] = found[fill].astype(object)
            n = int(fill.sum())
            imp.warnings.append(Problem(
                file, f"assumed: postcode taken from the end of the address for {n:,} "
                f"row{'s' if n > 1 else ''} whose postcode was blank", column="postcode",
                severity="warning"))
    note = pd.Series(pd.NA, index=frame.index, dtype="object")
    if "location_note" in frame:  # a reader's own note is kept
        note = frame["location_note"].astype("object")
    if context.postcodes is not None and len(context.postcodes):
        code = normalise_postcodes(frame["postcode"].astype("string").fillna(""))
        geometry = gpd.GeoSeries(frame.geometry, index=frame.index)
        if geometry.crs is not None and geometry.crs != geo.CRS_ANALYSIS:
            geometry = geometry.to_crs(geo.CRS_ANALYSIS)  # distances in EPSG:27700
        point = geometry.notna() & ~geometry.is_empty & code.notna()
        known = point & code.map(lambda p: p in context.postcodes.index,
                                 na_action="ignore").fillna(False).astype(bool)
        if known.any():
            at = context.postcodes.loc[code[known].to_numpy(), ["x", "y"]].to_numpy()
            pts = geometry[known]
            distance = pd.Series(np.hypot(pts.x.to_numpy() - at[:, 0],
                                          pts.y.to_numpy() - at[:, 1]), index=pts.index)
            far = distance[distance > PLACEMENT_TOLERANCE_M]
            for i, d in far.items():
                note[i] = placement_note(d, code[i])
            if len(far):
                mask = frame.index.isin(far.index)
                imp.warnings.append(Problem(
                    file, f"{len(far):,} record{'s' if len(far) > 1 else ''} placed more than "
                    f"{PLACEMENT_TOLERANCE_M:,.0f} m from {'their' if len(far) > 1 else 'its'} "
                    "own postcode: kept where the file puts "
                    f"{'them' if len(far) > 1 else 'it'} and flagged 'check the location' "
                    f"({_rows_text(imp, mask, label)})", column="postcode",
                    severity="warning"))
    frame["location_note"] = note
    imp.frame = frame
