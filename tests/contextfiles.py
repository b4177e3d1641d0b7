"""Small context-layer files built in code (``mapper import-context`` tests): an OS-like
GeoPackage (Open Roads' ``road_link`` with ``function``; Zoomstack-like ``rail``,
``names``, ``local_buildings`` and ``surfacewater`` layers) and an OpenStreetMap XML file
(GDAL's OSM driver reads ``.osm`` as it reads ``.osm.pbf``).

Coordinates are in and around the tiny grid workspace (``tests/conftest.py``: British
National Grid 530-533 km east, 180-183 km north; with import's 2 km margin the clip box
is 528-535 km east, 178-185 km north), except the features meant to be clipped or dropped.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.geometry import LineString, Point, Polygon, box

#: the clip box of the tiny workspace (its wards' extent and import's margin)
CLIP = (528_000.0, 178_000.0, 535_000.0, 185_000.0)


def write_os_gpkg(path: Path) -> Path:
    """An OS-like GeoPackage: 3 road links (an A Road running 25 km east out of the
    area, a Local Road, a Local Access Road); a rail line and a tunnel (not drawn); a
    lake of 400 x 300 m (``type`` says nothing: its layer's name does); a building (no
    columns at all); three place names (a suburb, a town 70 km away, and a "Woodland",
    which is no settlement); and a layer of "fields" that says nothing."""
    roads = gpd.GeoDataFrame({
        "function": ["A Road", "Local Road", "Local Access Road"],
        "class": ["A Road", "Unclassified", "Not Classified"],
        "name1": ["High Street", "Church Lane", None],
    }, geometry=[LineString([(530_500, 181_500), (560_000, 181_500)]),
                 LineString([(531_500, 180_500), (531_500, 182_500)]),
                 LineString([(532_000, 180_200), (532_200, 180_200)])], crs="EPSG:27700")
    rail = gpd.GeoDataFrame({"type": ["Multi Track", "Tunnel"]},
                            geometry=[LineString([(530_200, 180_200), (532_800, 182_800)]),
                                      LineString([(530_100, 180_100), (530_100, 182_900)])],
                            crs="EPSG:27700")
    water = gpd.GeoDataFrame({"type": ["Local"]},
                             geometry=[box(531_000, 182_000, 531_400, 182_300)],
                             crs="EPSG:27700")
    buildings = gpd.GeoDataFrame(geometry=[box(531_600, 180_600, 531_620, 180_615)],
                                 crs="EPSG:27700")
    names = gpd.GeoDataFrame({"name1": ["Millbrook", "Farville", "Old Wood"],
                              "type": ["Suburban Area", "Town", "Woodland"]},
                             geometry=[Point(531_500, 181_500), Point(600_000, 181_500),
                                       Point(532_000, 182_000)], crs="EPSG:27700")
    fields = gpd.GeoDataFrame({"crop": ["wheat"]},
                              geometry=[Polygon([(530_300, 182_300), (530_800, 182_300),
                                                 (530_800, 182_700)])], crs="EPSG:27700")
    for layer, frame in (("road_link", roads), ("rail", rail), ("surfacewater", water),
                         ("local_buildings", buildings), ("names", names),
                         ("fields", fields)):
        frame.to_file(path, layer=layer, driver="GPKG")
    return path


#: (lon, lat) nodes of the OSM file, inside the demo area
_NODES = {
    1: (-0.125, 51.510), 2: (-0.090, 51.510),            # primary road, west-east
    3: (-0.110, 51.505), 4: (-0.110, 51.528),            # residential road
    5: (-0.127, 51.506), 6: (-0.086, 51.529),            # river
    7: (-0.120, 51.520), 8: (-0.095, 51.522),            # railway
    9: (-0.100, 51.515), 10: (-0.0998, 51.515),          # building corners
    11: (-0.0998, 51.5151), 12: (-0.100, 51.5151),
    13: (-0.105, 51.512), 14: (-0.104, 51.513),          # a footway (not drawn)
    15: (2.350, 48.850), 16: (2.360, 48.860),            # a road in Paris (far away)
}


def write_osm(path: Path) -> Path:
    """An OpenStreetMap XML extract: a primary road, a residential road, a river, a
    railway, a footway (not drawn), a primary road in Paris (outside the area), a
    building, a place (suburb "Eastholme") and a hamlet without a name (left out)."""
    nodes = "\n".join(f'  <node id="{i}" version="1" lat="{lat}" lon="{lon}"/>'
                      for i, (lon, lat) in _NODES.items())

    def way(way_id: int, refs: list[int], tags: dict[str, str]) -> str:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tag = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        return f'  <way id="{way_id}" version="1">{nds}{tag}</way>'

    ways = "\n".join([
        way(101, [1, 2], {"highway": "primary", "name": "Long Road"}),
        way(102, [3, 4], {"highway": "residential", "name": "Elm Street"}),
        way(103, [5, 6], {"waterway": "river", "name": "River Lea"}),
        way(104, [7, 8], {"railway": "rail"}),
        way(105, [13, 14], {"highway": "footway"}),
        way(107, [15, 16], {"highway": "primary", "name": "Rue de Rivoli"}),
        way(106, [9, 10, 11, 12, 9], {"building": "yes"}),
    ])
    places = ('  <node id="201" version="1" lat="51.52" lon="-0.1">'
              '<tag k="place" v="suburb"/><tag k="name" v="Eastholme"/></node>\n'
              '  <node id="202" version="1" lat="51.512" lon="-0.105">'
              '<tag k="place" v="hamlet"/></node>')
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<osm version="0.6" generator="mapper tests">\n'
                    f"{nodes}\n{places}\n{ways}\n</osm>\n", encoding="utf-8")
    return path
