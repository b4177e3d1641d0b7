"""UK postcodes: the one pattern, normalising, and finding a postcode's point.

Every part of the app checks and writes postcodes through this module: the sources that
read postcodes from files (vectorised, :func:`normalise_postcodes`), the edit forms and
the API (one typed value, :func:`normalise_postcode`), and everything that turns a
postcode into a location against the workspace's postcode centroids
(:func:`postcode_table`, :func:`postcode_point`). The reader of the ONS / Code-Point
files themselves is :mod:`mapper.sources.postcodes`.

A postcode is written normalised: upper case, one space before the inward code
(``"SW1A 1AA"``).
"""

from __future__ import annotations

import math
import re

import geopandas as gpd
import numpy as np
import pandas as pd

from mapper.errors import MapperError

__all__ = ["POSTCODE", "POSTCODE_AT_END", "POSTCODE_UNIT", "example_postcode",
           "normalise_postcode", "normalise_postcodes", "outward_code", "postcode_at_end",
           "postcode_point", "postcode_table", "same_postcode"]

#: a full UK postcode (outward code, optional space, inward code): the one pattern
POSTCODE_UNIT = r"([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})"
POSTCODE = re.compile(rf"^{POSTCODE_UNIT}$")
#: a full postcode ending an address ("..., London SE1 6TL"), after a space or comma and
#: before at most a country name ("UK", "United Kingdom", "England") and punctuation
POSTCODE_AT_END = re.compile(
    rf"(?:^|[\s,]){POSTCODE_UNIT}(?:[\s,.]+(?:UK|United Kingdom|England|GB))?[\s,.]*$",
    re.IGNORECASE,
)
_SHAPE = ("it is not shaped like a UK postcode (an outward code such as AB1 or AB12, a "
          "space, and an inward code such as 3CD)")


# -- normalising -----------------------------------------------------------------------------


def normalise_postcode(text: object) -> str | None:
    """``"sw1a1aa"``, ``" SW1A  1AA "`` -> ``"SW1A 1AA"``; anything not postcode-shaped
    (or missing) -> None."""
    if text is None or text is pd.NA or (isinstance(text, float) and math.isnan(text)):
        return None
    match = POSTCODE.match(re.sub(r"\s+", "", str(text)).upper())
    return f"{match[1]} {match[2]}" if match else None


def normalise_postcodes(values: pd.Series) -> pd.Series:
    """:func:`normalise_postcode` of every value, as a string Series (<NA> where not
    postcode-shaped)."""
    text = values.astype("string").str.upper().str.replace(r"\s+", "", regex=True)
    parts = text.str.extract(POSTCODE.pattern)
    return (parts[0] + " " + parts[1]).astype("string")


def postcode_at_end(values: pd.Series) -> pd.Series:
    """The full postcode an address ends with (:data:`POSTCODE_AT_END`), normalised:
    'Draper Hall, London, London SE1 6TL' -> 'SE1 6TL'; <NA> when it ends otherwise."""
    text = values.astype("string").fillna("")
    parts = text.str.extract(POSTCODE_AT_END)
    return normalise_postcodes(parts[0] + parts[1])


def outward_code(postcode: object) -> object:
    """'E1 6AN' -> 'E1' (the postcode district, shown in place of a person's full
    postcode); anything else unchanged."""
    if not isinstance(postcode, str) or not postcode.strip():
        return postcode
    return postcode.strip().split()[0].upper() if " " in postcode.strip() else postcode


def same_postcode(a: object, b: object) -> bool:
    """Whether two typed values name the same postcode (case and spaces ignored)."""
    def key(value: object) -> str:
        return re.sub(r"\s+", "", str(value or "")).upper()

    return key(a) == key(b)


# -- finding a postcode's point --------------------------------------------------------------


def postcode_table(postcodes: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """The postcode lookup every front end uses (CLI, API, incident page, imports): the
    located postcode centroids indexed by postcode (as stored: normalised), with ``x`` and
    ``y`` (EPSG:27700) and ``ward_code`` when the layer has it; a postcode listed twice
    keeps its first point. Empty (with those columns) without postcodes."""
    columns = ["x", "y", "ward_code"]
    if postcodes is None or not len(postcodes):
        return pd.DataFrame({c: [] for c in columns}, index=pd.Index([], name="postcode"))
    geometry = postcodes.geometry
    located = postcodes[~(geometry.isna() | geometry.is_empty)
                        & (geometry.geom_type == "Point")]
    table = pd.DataFrame(
        {
            "x": located.geometry.x.to_numpy(),
            "y": located.geometry.y.to_numpy(),
            "ward_code": located["ward_code"].to_numpy() if "ward_code" in located else None,
        },
        index=pd.Index(located["postcode"].astype(str).to_numpy(), name="postcode"),
    )
    return table[~table.index.duplicated(keep="first")]


def postcode_point(postcode: str, postcodes: pd.DataFrame) -> tuple[float, float]:
    """The EPSG:27700 point of a postcode, from the workspace's postcode centroids.

    Parameters
    ----------
    postcode
        As typed: any case, any spacing (``"sw1a1aa"``).
    postcodes
        Indexed by normalised postcode (``"SW1A 1AA"``), or with a ``postcode`` column,
        holding ``x`` and ``y`` columns in metres, or else point geometry in EPSG:27700.

    Raises
    ------
    MapperError
        When the postcode is not postcode-shaped, is not in `postcodes`, or has no point.
    """
    key = normalise_postcode(postcode)
    if key is None:
        raise MapperError(f"postcode {postcode!r} is not in the workspace's postcode "
                          f"centroids: {_SHAPE}")
    rows = _postcode_rows(key, postcodes)
    if rows.empty:
        raise MapperError(f"postcode {key!r} is not in the workspace's postcode centroids")
    if {"x", "y"} <= set(rows.columns):
        x, y = rows["x"].iloc[0], rows["y"].iloc[0]
    elif isinstance(rows, gpd.GeoDataFrame):
        x, y = _point_of(rows)
    else:
        raise ValueError(
            "postcodes must have x and y columns or point geometry; got columns "
            + ", ".join(map(str, postcodes.columns))
        )
    if _is_missing(x) or _is_missing(y):
        raise MapperError(f"postcode {key!r} has no grid reference in the postcode centroids")
    return float(x), float(y)


def example_postcode(postcodes: pd.DataFrame | None) -> str | None:
    """A postcode of the workspace to show as an example: the one nearest the middle of
    all of them (median easting and northing). `postcodes` as :func:`postcode_table`
    gives them: indexed by postcode with ``x`` and ``y``."""
    if postcodes is None or not len(postcodes) or not {"x", "y"} <= set(postcodes.columns):
        return None
    x, y = postcodes["x"].to_numpy(float), postcodes["y"].to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    mx, my = np.median(x[ok]), np.median(y[ok])
    gap = np.where(ok, (x - mx) ** 2 + (y - my) ** 2, np.inf)
    return str(postcodes.index[int(np.argmin(gap))])


def _postcode_rows(key: str, postcodes: pd.DataFrame) -> pd.DataFrame:
    if key in postcodes.index:
        return postcodes.loc[[key]]
    if "postcode" in postcodes.columns:
        return postcodes[postcodes["postcode"] == key]
    return postcodes.iloc[:0]


def _point_of(rows: gpd.GeoDataFrame) -> tuple[float, float]:
    """x and y of the first row's point (NaN when it has none)."""
    crs = rows.crs
    if crs is None or crs.to_epsg() != 27700:
        raise ValueError("postcodes must be in EPSG:27700 (British National Grid metres); "
                         f"got {crs if crs is None else crs.to_string()!r}")
    geom = rows.geometry.iloc[0]
    if geom is None or geom.is_empty:
        return math.nan, math.nan
    if geom.geom_type != "Point":
        raise ValueError(f"postcodes must be points; got {geom.geom_type}")
    return float(geom.x), float(geom.y)


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
