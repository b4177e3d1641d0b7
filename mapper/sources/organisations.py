"""Rows of a point register that are not organisations (or places): caught on import,
reported with their reason, never listed.

Three rules, each a constant or a function here and nowhere else:

* **an area-sized polygon** -- a feature of a vector file whose polygon covers at least
  :data:`AREA_SIZED_HA` hectares is an area (a ward, a borough, a profile's outline), not
  a group or a building; it is not placed at a point inside it. The readers that place
  polygons (:mod:`mapper.sources.pointfiles`, :mod:`mapper.sources.osm`) apply it.
* **an area's name with area-profile text** -- a group or premises whose name is the name
  of one of the workspace's boroughs or wards (compared by :func:`normalise_area_name`:
  case, punctuation, "London Borough of", "Ward" ...) and whose text fields hold words of
  an area profile (:data:`AREA_PROFILE_TEXT`: "indicators", "profile", "statistics",
  "this borough" ...) is a statistical profile of that area, like the London warm-spaces
  row "City of London: Read indicators for this borough". A name alone is not enough:
  many food banks are named after their borough.
* **no name** -- a group (an organisation) with a blank name. Premises are places and may
  be unnamed (OpenStreetMap points often are): they are typed instead.

Rows left out by these rules are ``Imported.rejected`` with severity "rejected" (left out
by rule, like police.uk rows without a location): counted in the import report with
their reason, file and row, not counted towards a file being held back as misread, and
not failing ``--strict``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from mapper.errors import Problem
from mapper.sources.base import Context, Imported, row_label

#: a polygon of this many hectares or more is an area, not an organisation's site: ten
#: times the largest community building in the West Yorkshire OpenStreetMap amenities
#: (2.1 ha, a place of worship with its grounds), and smaller than almost every ward
#: (a London ward is typically 100-300 ha; the smallest LSOAs are about 5 ha)
AREA_SIZED_HA = 20.0
#: words of an area profile (a page of statistics about a borough or ward), matched as
#: whole words in a row's text fields, any case
AREA_PROFILE_TEXT = re.compile(
    r"\b(?:indicators?|profiles?|statistics|this (?:borough|ward|district|local authority))\b",
    re.IGNORECASE,
)
#: the fields searched for :data:`AREA_PROFILE_TEXT`
PROFILE_FIELDS = ("name", "description", "address", "website", "opening_hours",
                  "contact_notes")
#: registers whose records are organisations or places (incidents are neither)
CHECKED = ("groups", "premises")
#: registers whose records must have a name (premises may be typed places)
NAMED = ("groups",)

NOT_AN_ORGANISATION = "not an organisation"
AREA_PROFILE = (f"{NOT_AN_ORGANISATION}: named after a borough or ward of the study area "
                "and its text reads as an area profile ('indicators', 'profile', 'this "
                "borough' ...)")
NO_NAME = f"{NOT_AN_ORGANISATION}: no name"

_PREFIXES = (r"^(?:the |(?:london |royal |metropolitan |county )?borough of |"
             r"city and county of the city of |city of |county of |district of )+")
_SUFFIXES = r"(?: (?:ward|borough|council|district))+$"


def normalise_area_name(values: pd.Series) -> pd.Series:
    """Names as compared with area names: lower case, '&' as 'and', punctuation as spaces,
    without 'London Borough of', 'City of', 'The' before or 'Ward', 'Council' after."""
    text = values.astype("string").str.lower().fillna("")
    text = text.str.replace("&", " and ", regex=False)
    text = text.str.replace(r"[^0-9a-z]+", " ", regex=True).str.strip()
    text = text.str.replace(_PREFIXES, "", regex=True)
    return text.str.replace(_SUFFIXES, "", regex=True).str.strip()


def area_names(*frames: pd.DataFrame | None) -> frozenset[str]:
    """The normalised borough and ward names of the given area layers (``borough_name``,
    ``ward_name`` columns), for :attr:`Context.area_names`."""
    names: set[str] = set()
    for frame in frames:
        if frame is None:
            continue
        for column in ("borough_name", "ward_name"):
            if column in frame:
                names |= set(normalise_area_name(frame[column].dropna()))
    return frozenset(names - {""})


def area_sized(geoms: np.ndarray) -> np.ndarray:
    """Boolean mask: polygons (EPSG:27700) of :data:`AREA_SIZED_HA` hectares or more."""
    geoms = np.asarray(geoms, dtype=object)
    polygon = np.isin(np.asarray(shapely.get_type_id(geoms)), (3, 6))
    hectares = np.zeros(len(geoms))
    hectares[polygon] = shapely.area(geoms[polygon]) / 10_000
    return polygon & (np.nan_to_num(hectares) >= AREA_SIZED_HA)


def area_sized_problem(file: str, row: int, geom) -> Problem:
    """The reason an area-sized polygon (EPSG:27700) was left out."""
    hectares = shapely.area(geom) / 10_000
    return Problem(
        file,
        f"{NOT_AN_ORGANISATION}: a polygon of {hectares:,.0f} ha, an area (at least "
        f"{AREA_SIZED_HA:g} ha) rather than a site; expected a point or a building's outline",
        row, severity="rejected", row_label="feature")


def leave_out(imp: Imported, context: Context) -> Imported:
    """Move the rows of a register import that are not organisations (area-profile rows,
    nameless groups) from ``imp.frame`` to ``imp.rejected``, each with its reason."""
    register, frame = imp.kind, imp.frame
    if register not in CHECKED or not len(frame):
        return imp
    name = frame["name"] if "name" in frame else pd.Series(pd.NA, index=frame.index)
    blank = name.astype("string").str.strip().fillna("").eq("").to_numpy()
    nameless = blank if register in NAMED else np.zeros(len(frame), dtype=bool)
    profile = np.zeros(len(frame), dtype=bool)
    if context.area_names:
        named_area = normalise_area_name(name).isin(context.area_names).to_numpy() & ~blank
        if named_area.any():
            profile = named_area & _profile_text(frame)
    out = nameless | profile
    if not out.any():
        return imp
    file = imp.extra.get("file") or (Path(imp.extra["path"]).name if "path" in imp.extra
                                     else imp.detail)
    label = row_label(imp)
    rows = (frame["source_row"] if "source_row" in frame
            else pd.Series(range(1, len(frame) + 1), index=frame.index))
    for pos in np.flatnonzero(out).tolist():
        row = rows.iloc[pos]
        imp.rejected.append(Problem(
            file, NO_NAME if nameless[pos] else AREA_PROFILE,
            None if pd.isna(row) else int(row),
            column=None, severity="rejected", row_label=label))
    imp.frame = frame[~out].reset_index(drop=True)
    return imp


def _profile_text(frame: pd.DataFrame) -> np.ndarray:
    found = np.zeros(len(frame), dtype=bool)
    for column in PROFILE_FIELDS:
        if column in frame:
            text = frame[column].astype("string").fillna("")
            found |= text.str.contains(AREA_PROFILE_TEXT.pattern, case=False,
                                       regex=True).to_numpy(bool)
    return found

