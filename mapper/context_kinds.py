"""Context layers (roads, water, rail, buildings, places drawn under the data): the one
table of their kinds and classes, the zoom each class is drawn from, and how it looks.

``mapper import-context`` (:mod:`mapper.sources.context`) sorts features into these
classes and stores each feature's ``min_zoom``; the ``/context/<kind>.geojson`` endpoint
sends only the features whose ``min_zoom`` the view has reached; ``static/context.js``
draws them with :data:`STYLES`. Quiet greys and pale blues, thin lines: the choropleth
above them must stay readable.
"""

from __future__ import annotations

#: the kinds, in drawing order (lowest first)
KINDS = ("water", "buildings", "roads", "rail", "places")

#: kind -> class -> the zoom from which it is drawn (major roads from 11, minor roads and
#: small water from 13, buildings from 15, place names by rank)
MIN_ZOOM: dict[str, dict[str, int]] = {
    "roads": {"motorway": 11, "trunk": 11, "primary": 11, "secondary": 12,
              "tertiary": 13, "minor": 13, "service": 15},
    "rail": {"rail": 11, "light_rail": 13, "tram": 14},
    # a water area of WATER_LARGE_M2 or more is drawn from LARGE_WATER_ZOOM
    "water": {"river": 12, "canal": 12, "stream": 14, "drain": 15, "water": 13},
    "buildings": {"building": 15},
    "places": {"city": 9, "town": 11, "suburb": 12, "village": 12, "neighbourhood": 14,
               "hamlet": 14, "locality": 15},
}
WATER_LARGE_M2 = 500_000.0
LARGE_WATER_ZOOM = 11

#: kind -> class -> Leaflet path options (``"*"``: the kind's default); places are text
STYLES: dict[str, dict[str, dict]] = {
    "water": {"*": {"color": "#9fc3dd", "weight": 1, "fillColor": "#c7dced",
                    "fillOpacity": 0.9, "opacity": 0.9},
              "river": {"color": "#8fb8d8", "weight": 2.5},
              "canal": {"color": "#8fb8d8", "weight": 2},
              "stream": {"color": "#a9c9e2", "weight": 1}},
    "buildings": {"*": {"color": "#c9c9c9", "weight": 0.5, "fillColor": "#e3e3e3",
                        "fillOpacity": 0.8, "opacity": 0.8}},
    "roads": {"*": {"color": "#bdbdbd", "weight": 1, "opacity": 0.9},
              "motorway": {"color": "#9a9a9a", "weight": 3.5},
              "trunk": {"color": "#a3a3a3", "weight": 3},
              "primary": {"color": "#aaaaaa", "weight": 2.5},
              "secondary": {"color": "#b3b3b3", "weight": 2},
              "tertiary": {"color": "#bcbcbc", "weight": 1.5},
              "service": {"color": "#cfcfcf", "weight": 0.75}},
    "rail": {"*": {"color": "#8c8c8c", "weight": 1.5, "dashArray": "4 3", "opacity": 0.9},
             "tram": {"weight": 1}},
    "places": {"*": {"color": "#555555", "size": 11},
               "city": {"size": 15}, "town": {"size": 13}, "suburb": {"size": 12}},
}

#: the fill of lines is off; polygons keep their fill
LINE_STYLE = {"fill": False}


def check_kind(kind: str) -> str:
    """`kind` when it is one of :data:`KINDS`, else ValueError listing them."""
    if kind not in MIN_ZOOM:
        raise ValueError(f"unknown context kind {kind!r}: one of {', '.join(KINDS)}")
    return kind


__all__ = ["KINDS", "LARGE_WATER_ZOOM", "LINE_STYLE", "MIN_ZOOM", "STYLES", "WATER_LARGE_M2",
           "check_kind"]
