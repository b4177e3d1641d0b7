"""Apportioning LSOAs to wards: LSOAs do not nest in wards, so an LSOA that straddles a
ward boundary is shared between the wards it overlaps, by one of three methods.

``dasymetric`` (the default)
    where people live: the LSOA's population is spread evenly over its postcode
    centroids (Code-Point Open or ONSPD), and each ward gets the share of those points
    that lie in it. Postcodes follow housing, so a park or an industrial estate in the
    LSOA draws no population. An LSOA with no postcode falls back to ``areal``.
``areal``
    by area: each ward gets the share of the LSOA's area inside it.
``bestfit``
    the ONS best-fit lookup: the whole LSOA goes to one ward. LSOAs whose lookup ward is
    not among the ward boundaries (for example City of London LSOAs best-fitted to City
    wards when the City is one merged ward) fall back to ``areal``.

Every method returns weights ``(lsoa_code, ward_code, weight)`` summing to 1 for every
LSOA, so population summed over wards equals population summed over LSOAs. An LSOA
that overlaps no ward at all goes wholly to the nearest ward.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from mapper.areas import area_of_points
from mapper.geo import CRS_ANALYSIS

METHODS = ("dasymetric", "areal", "bestfit")
DEFAULT_METHOD = "dasymetric"
WEIGHT_COLUMNS = ["lsoa_code", "ward_code", "weight", "method"]


#: a best-fit lookup that sends fewer of the LSOAs than this to wards of the ward layer
#: is for another ward vintage: the analysis does not use it (see :func:`usable_lookup`)
LOOKUP_MIN_JOIN = 0.9
#: why an LSOA was shared by another method than the one asked for
FALLBACK_REASON = {
    ("dasymetric", "areal"): "no postcode centroid inside it",
    ("bestfit", "areal"): "its lookup ward is not among the ward boundaries",
}


def lookup_join(lookup: pd.DataFrame, wards: pd.DataFrame,
                lsoas: pd.DataFrame | None = None) -> tuple[int, int]:
    """(LSOAs whose lookup ward is in `wards`, LSOAs in the lookup), counting only the
    LSOAs of `lsoas` when given."""
    fit = lookup.drop_duplicates("lsoa_code")
    if lsoas is not None:
        fit = fit[fit["lsoa_code"].isin(set(lsoas["lsoa_code"]))]
    return int(fit["ward_code"].isin(set(wards["ward_code"])).sum()), len(fit)


def usable_lookup(lookup: pd.DataFrame | None, wards: pd.DataFrame,
                  lsoas: pd.DataFrame | None = None) -> tuple[bool, str]:
    """Whether a best-fit lookup fits the wards well enough to use, and the join rate
    in words ("1,366 of 1,388 LSOAs (98.4%) go to wards of the ward layer")."""
    if lookup is None or not len(lookup):
        return False, "no LSOA-to-ward lookup"
    hit, total = lookup_join(lookup, wards, lsoas)
    rate = hit / total if total else 0.0
    words = f"{hit:,} of {total:,} LSOAs ({rate:.1%}) go to wards of the ward layer"
    return rate >= LOOKUP_MIN_JOIN, words


def fallbacks(weights: pd.DataFrame, method: str) -> dict[str, int]:
    """How many LSOAs were shared by another method than `method`, by that method."""
    used = weights.groupby("lsoa_code")["method"].first()
    other = used[used != method]
    return {str(k): int(v) for k, v in other.value_counts().sort_index().items()}


def _check(frame: gpd.GeoDataFrame, name: str) -> None:
    if frame.crs is None or frame.crs.to_epsg() != 27700:
        raise ValueError(f"{name} must be in {CRS_ANALYSIS}, got {frame.crs!r}")


def _normalise(pairs: pd.DataFrame, method: str) -> pd.DataFrame:
    pairs = pairs[pairs["weight"] > 0].copy()
    pairs["weight"] = pairs["weight"] / pairs.groupby("lsoa_code")["weight"].transform("sum")
    pairs["method"] = method
    return pairs[WEIGHT_COLUMNS].sort_values(["lsoa_code", "ward_code"]).reset_index(drop=True)


def areal_weights(lsoas: gpd.GeoDataFrame, wards: gpd.GeoDataFrame) -> pd.DataFrame:
    """Share of each LSOA's area in each ward (of the part covered by wards)."""
    _check(lsoas, "lsoas")
    _check(wards, "wards")
    left, right = wards.sindex.query(lsoas.geometry.array, predicate="intersects")
    area = shapely.area(shapely.intersection(lsoas.geometry.array[left],
                                             wards.geometry.array[right]))
    pairs = pd.DataFrame({"lsoa_code": lsoas["lsoa_code"].to_numpy()[left],
                          "ward_code": wards["ward_code"].to_numpy()[right], "weight": area})
    pairs = pairs.groupby(["lsoa_code", "ward_code"], as_index=False)["weight"].sum()
    pairs = _normalise(pairs, "areal")
    return _complete(pairs, lsoas, wards)


def _complete(pairs: pd.DataFrame, lsoas: gpd.GeoDataFrame, wards: gpd.GeoDataFrame
              ) -> pd.DataFrame:
    """Give every LSOA without weights wholly to its nearest ward."""
    missing = lsoas[~lsoas["lsoa_code"].isin(set(pairs["lsoa_code"]))]
    if missing.empty or wards.empty:
        return pairs
    points = shapely.point_on_surface(missing.geometry.array)
    nearest = wards.sindex.nearest(points, return_all=False)[1]
    extra = pd.DataFrame({"lsoa_code": missing["lsoa_code"].to_numpy(),
                          "ward_code": wards["ward_code"].to_numpy()[nearest], "weight": 1.0,
                          "method": "nearest ward"})
    return pd.concat([pairs, extra], ignore_index=True).sort_values(
        ["lsoa_code", "ward_code"]).reset_index(drop=True)


def bestfit_weights(lookup: pd.DataFrame, lsoas: gpd.GeoDataFrame,
                    wards: gpd.GeoDataFrame) -> pd.DataFrame:
    """Each LSOA wholly to its best-fit ward; LSOAs the lookup cannot place: areal."""
    known = set(wards["ward_code"])
    fit = lookup[["lsoa_code", "ward_code"]].drop_duplicates("lsoa_code")
    fit = fit[fit["ward_code"].isin(known) & fit["lsoa_code"].isin(set(lsoas["lsoa_code"]))]
    pairs = _normalise(fit.assign(weight=1.0), "bestfit")
    rest = lsoas[~lsoas["lsoa_code"].isin(set(pairs["lsoa_code"]))]
    if rest.empty:
        return pairs
    return pd.concat([pairs, areal_weights(rest, wards)], ignore_index=True).sort_values(
        ["lsoa_code", "ward_code"]).reset_index(drop=True)


def population_points(lsoas: gpd.GeoDataFrame, population: pd.Series,
                      postcodes: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Points standing for where each LSOA's residents live, carrying their share.

    Each postcode centroid in an LSOA carries population / (postcodes in the LSOA); an
    LSOA with no postcode is one point (inside it) carrying all its population. Columns:
    ``lsoa_code``, ``population``, ``point_source`` ("postcode" or "interior point"),
    geometry. Population summed over points equals
    `population` summed over the LSOAs.
    """
    _check(lsoas, "lsoas")
    pop = population.reindex(lsoas["lsoa_code"]).fillna(0.0).astype(float)
    pop.index = lsoas["lsoa_code"].to_numpy()
    frames = []
    if postcodes is not None and len(postcodes):
        _check(postcodes, "postcodes")
        code = area_of_points(postcodes.geometry, lsoas, "lsoa_code")
        placed = postcodes.loc[code.notna(), ["geometry"]].assign(lsoa_code=code.dropna(),
                                                                  point_source="postcode")
        per_lsoa = placed.groupby("lsoa_code").size()
        placed["population"] = (pop.reindex(placed["lsoa_code"]).to_numpy()
                                / per_lsoa.reindex(placed["lsoa_code"]).to_numpy())
        frames.append(placed)
    have = set(frames[0]["lsoa_code"]) if frames else set()
    rest = lsoas[~lsoas["lsoa_code"].isin(have)]
    frames.append(gpd.GeoDataFrame(
        {"lsoa_code": rest["lsoa_code"].to_numpy(),
         "population": pop.reindex(rest["lsoa_code"]).to_numpy(),
         "point_source": "interior point"},
        geometry=shapely.point_on_surface(rest.geometry.array), crs=CRS_ANALYSIS))
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out[["lsoa_code", "population", "point_source", "geometry"]],
                            geometry="geometry", crs=CRS_ANALYSIS)


def dasymetric_weights(lsoas: gpd.GeoDataFrame, wards: gpd.GeoDataFrame,
                       points: gpd.GeoDataFrame) -> pd.DataFrame:
    """Share of each LSOA's population points in each ward (see module docstring)."""
    _check(wards, "wards")
    if "point_source" in points:
        points = points[points["point_source"] == "postcode"]
    ward = area_of_points(points.geometry, wards, "ward_code")
    placed = pd.DataFrame({"lsoa_code": points["lsoa_code"].to_numpy(),
                           "ward_code": ward.to_numpy(), "weight": 1.0}).dropna()
    # an LSOA whose points all carry no population (population 0) still apportions by count
    pairs = placed.groupby(["lsoa_code", "ward_code"], as_index=False)["weight"].sum()
    pairs = _normalise(pairs, "dasymetric")
    rest = lsoas[~lsoas["lsoa_code"].isin(set(pairs["lsoa_code"]))]
    if rest.empty:
        return pairs
    return pd.concat([pairs, areal_weights(rest, wards)], ignore_index=True).sort_values(
        ["lsoa_code", "ward_code"]).reset_index(drop=True)


def lsoa_ward_weights(method: str, *, lsoas: gpd.GeoDataFrame, wards: gpd.GeoDataFrame,
                      lookup: pd.DataFrame | None = None,
                      points: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Weights by the named method (see module docstring); checks what the method needs."""
    if method not in METHODS:
        raise ValueError(f"unknown apportionment method {method!r}; choose one of "
                         f"{', '.join(METHODS)}")
    if method == "bestfit":
        if lookup is None:
            raise ValueError("the bestfit method needs an LSOA-to-ward lookup")
        return bestfit_weights(lookup, lsoas, wards)
    if method == "dasymetric":
        if points is None:
            raise ValueError("the dasymetric method needs population points")
        return dasymetric_weights(lsoas, wards, points)
    return areal_weights(lsoas, wards)


def apportion(values: pd.DataFrame, weights: pd.DataFrame, *, by: str = "ward_code"
              ) -> pd.DataFrame:
    """Sum LSOA values (indexed by lsoa_code) into wards by the weights."""
    joined = weights.join(values, on="lsoa_code", how="inner")
    cols = list(values.columns)
    joined[cols] = joined[cols].mul(joined["weight"], axis=0)
    return joined.groupby(by)[cols].sum()


__all__ = ["METHODS", "DEFAULT_METHOD", "LOOKUP_MIN_JOIN", "lookup_join", "usable_lookup",
           "fallbacks", "areal_weights", "bestfit_weights", "dasymetric_weights",
           "population_points", "lsoa_ward_weights", "apportion", "np"]
