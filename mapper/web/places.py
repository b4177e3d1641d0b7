"""Place search for the map pages: a ward, borough, CAN (by name or id) or postcode.

Shared by the ``/api/search`` endpoint (:mod:`mapper.web.api`) and any page that wants
it; not a blueprint. Answers come from the workspace's layers (wards, ward_summary,
neighbourhoods) and postcodes through :mod:`mapper.postcodes` (the one postcode module),
with every place's bounds in WGS84 longitude/latitude so a map can fly there.

No personal data is searched or returned: only area names, codes and postcode centroids.
The query itself is never logged (it may be anything a person typed, a phone number
included).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from mapper.can_history import typed_number
from mapper.errors import MapperError
from mapper.geo import CRS_ANALYSIS, to_display
from mapper.personal_text import find
from mapper.postcodes import normalise_postcode, postcode_point, postcode_table
from mapper.web import data

#: the longest query looked at (longer text is cut, never an error)
Q_MAX_CHARS = 100
#: the most matches answered
MATCHES_MAX = 8
#: metres around a postcode's centroid the map shows (a street or two)
POSTCODE_MARGIN_M = 250.0
#: decimals of longitude/latitude in answers (about 1 m)
DECIMALS = 5

KIND_LABELS = {"ward": "Ward", "borough": "Borough", "neighbourhood": "CAN",
               "postcode": "Postcode"}


@dataclass(frozen=True)
class Place:
    """One place a search can find."""

    kind: str  # ward, borough, neighbourhood, postcode
    id: str
    name: str
    detail: str  # e.g. the ward's borough
    bbox: tuple[float, float, float, float]  # west, south, east, north (WGS84)

    @property
    def centre(self) -> tuple[float, float]:
        west, south, east, north = self.bbox
        return ((west + east) / 2, (south + north) / 2)

    def feature(self) -> dict:
        lon, lat = self.centre
        return {
            "type": "Feature",
            "geometry": {"type": "Point",
                         "coordinates": [round(lon, DECIMALS), round(lat, DECIMALS)]},
            "properties": {
                "kind": self.kind,
                "kind_label": KIND_LABELS[self.kind],
                "id": self.id,
                "name": self.name,
                "detail": self.detail,
                "label": self.label,
                "bbox": [round(v, DECIMALS) for v in self.bbox],
            },
        }

    @property
    def label(self) -> str:
        text = f"{KIND_LABELS[self.kind]}: {self.name}"
        if self.id and self.id != self.name:
            text += f" ({self.id})"
        return text + (f", {self.detail}" if self.detail else "")


def _bounds(geometry: gpd.GeoSeries) -> list[tuple[float, float, float, float]]:
    shown = to_display(geometry)
    return [tuple(float(v) for v in b) for b in shown.bounds.to_numpy()]  # type: ignore[misc]


@data.memoised("places:areas")
def _areas(workspace) -> list[Place]:
    """Every ward, borough and CAN of the workspace, with its bounds."""
    places: list[Place] = []
    wards = data.layer("ward_summary", required=False)
    if wards is None:
        wards = data.layer("wards", required=False)
    if wards is None or len(wards) == 0:
        return places
    wards = wards.to_crs(CRS_ANALYSIS) if wards.crs != CRS_ANALYSIS else wards
    borough_name = dict(zip(wards["borough_code"], wards["borough_name"], strict=False))
    for row, bbox in zip(wards.itertuples(), _bounds(wards.geometry), strict=True):
        places.append(Place("ward", str(row.ward_code), str(row.ward_name),
                            str(row.borough_name), bbox))
    boroughs = wards[["borough_code", wards.geometry.name]].dissolve("borough_code")
    for code, bbox in zip(boroughs.index, _bounds(boroughs.geometry), strict=True):
        places.append(Place("borough", str(code), str(borough_name.get(code, code)), "", bbox))
    if "can_id" in wards.columns:
        names = {}
        cans = data.layer("neighbourhoods", required=False)
        if cans is not None and "name" in cans.columns:
            names = dict(zip(cans["can_id"].astype(str), cans["name"].astype(str), strict=False))
        in_can = wards.dropna(subset=["can_id"])
        if len(in_can):
            dissolved = in_can[["can_id", in_can.geometry.name]].dissolve("can_id")
            for can_id, bbox in zip(dissolved.index, _bounds(dissolved.geometry), strict=True):
                places.append(Place("neighbourhood", str(can_id),
                                    names.get(str(can_id), str(can_id)), "", bbox))
    return places


@data.memoised("places:postcodes")
def _postcodes(workspace) -> pd.DataFrame | None:
    """Postcode centroids (EPSG:27700 x, y) indexed by normalised postcode, or None."""
    layer = data.layer("postcodes", required=False)
    if layer is None or len(layer) == 0:
        return None
    return postcode_table(layer)


def _postcode_place(postcode: str) -> Place | None:
    table = _postcodes()
    if table is None:
        return None
    try:
        x, y = postcode_point(postcode, table)
    except MapperError:
        return None
    m = POSTCODE_MARGIN_M
    box = gpd.GeoSeries(gpd.points_from_xy([x - m, x + m], [y - m, y + m]), crs=CRS_ANALYSIS)
    shown = to_display(box)
    return Place("postcode", postcode, postcode, "",
                 (float(shown.x.iloc[0]), float(shown.y.iloc[0]),
                  float(shown.x.iloc[1]), float(shown.y.iloc[1])))


def _key(text: str) -> str:
    return " ".join(text.lower().replace("&", "and").split())


def search(q: str) -> list[Place]:
    """The places matching `q`, best first: an exact code or postcode, then names that
    are the query, start with it, or hold every word of it (at most :data:`MATCHES_MAX`)."""
    query = _key(q[:Q_MAX_CHARS])
    if not query:
        return []
    found: list[tuple[int, int, str, Place]] = []
    postcode = normalise_postcode(q[:Q_MAX_CHARS])
    if postcode is not None:
        place = _postcode_place(postcode)
        if place is not None:
            found.append((0, 0, place.name, place))
    words = query.split()
    order = {"borough": 0, "neighbourhood": 1, "ward": 2}
    can_number = typed_number(q[:Q_MAX_CHARS])  # "can-7", "CAN-007": CAN-07 exactly
    for place in _areas():
        name, code = _key(place.name), place.id.lower()
        if query == code or (can_number is not None and place.kind == "neighbourhood"
                             and typed_number(place.id) == can_number):
            rank = 0
        elif query == name:
            rank = 1
        elif name.startswith(query):
            rank = 2
        elif all(w in f"{name} {code}" for w in words):
            rank = 3
        else:
            continue
        found.append((rank, order[place.kind], place.name, place))
    found.sort(key=lambda item: item[:3])
    return [item[3] for item in found[:MATCHES_MAX]]


def shown_query(q: str) -> str | None:
    """`q` as an answer may repeat it: cut to :data:`Q_MAX_CHARS`, spaces tidied, or None
    when it holds a contact detail (a phone number or e-mail typed by mistake is never
    repeated, nor logged)."""
    text = " ".join(q[:Q_MAX_CHARS].split())
    return None if find(text) else text


def no_match_message(q: str) -> str:
    """What to say when nothing matches (naming the query when it may be repeated)."""
    shown = shown_query(q)
    quoted = "what you typed" if shown is None else f"'{shown}'"
    return f"No ward, borough, neighbourhood or postcode matches {quoted}."


def area_bounds() -> list[float] | None:
    """[west, south, east, north] (WGS84) of the study area grown by the distance searches
    may start beyond it (:data:`mapper.analysis.nearest.MAX_OUTSIDE_M`), or None without
    boundaries: pages check a browser's position against it before searching from it."""
    from mapper.analysis.nearest import MAX_OUTSIDE_M

    def build(_workspace) -> list[float] | None:
        area = data.study_area()
        if area is None:
            return None
        grown = gpd.GeoSeries([area.shape], crs=CRS_ANALYSIS).buffer(MAX_OUTSIDE_M, 8)
        return [round(float(v), DECIMALS) for v in to_display(grown).total_bounds]

    return data.cached("places:area_bounds", build)


def prepare() -> None:
    """Make what searches and the pages' bounds read now (for the app's warm-up; needs a
    request context)."""
    _areas()
    _postcodes()
    area_bounds()
