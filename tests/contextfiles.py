"""Small context-layer files built in code (``mapper import-context`` tests): an OS-like
GeoPackage (Open Roads' ``road_link`` with ``function``; Zoomstack-like ``rail``,
``names``, ``local_buildings`` and ``surfacewater`` layers) and an OpenStreetMap XML file
(GDAL's OSM driver reads ``.osm`` as it reads ``.osm.pbf``).

Coordinates are inside the demo's study area (British National Grid about 531-539 km
east, 177-184 km north), except the features meant to be clipped or dropped.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from shapely.geometry import LineString, Point, Polygon, box

#: the demo's wards span about these (EPSG:27700)
DEMO_EXTENT = (530_935.0, 177_401.0, 538_725.0, 183_559.0)


def write_os_gpkg(path: Path) -> Path:
    """An OS-like GeoPackage: 3 road links (A Road, Local Road, Local Access Road) of
    which the A road runs 20 km east out of the area; one rail line; a lake (polygon);
    a building (no columns at all: only its layer's name says so); two place names (a
    suburb and a "Woodland", which is no settlement); and a layer of "fields" that says
    nothing."""
    roads = gpd.GeoDataFrame({
        "function": ["A Road", "Local Road", "Local Access Road"],
        "class": ["A Road", "Unclassified", "Not Classified"],
        "name1": ["High Street", "Church Lane", None],
    }, geometry=[LineString([(532_000, 180_000), (558_000, 180_000)]),
                 LineString([(533_000, 179_000), (533_000, 181_000)]),
                 LineString([(534_000, 179_500), (534_200, 179_500)])], crs="EPSG:27700")
    rail = gpd.GeoDataFrame({"type": ["Multi Track", "Tunnel"]},
                            geometry=[LineString([(531_500, 178_000), (537_500, 183_000)]),
                                      LineString([(532_000, 178_000), (532_000, 183_000)])],
                            crs="EPSG:27700")
    water = gpd.GeoDataFrame({"type": ["Local"]},
                             geometry=[box(535_000, 181_000, 535_400, 181_300)],
                             crs="EPSG:27700")
    buildings = gpd.GeoDataFrame(geometry=[box(533_100, 179_100, 533_120, 179_115)],
                                 crs="EPSG:27700")
    names = gpd.GeoDataFrame({"name1": ["Millbrook", "Old Wood"],
                              "type": ["Suburban Area", "Woodland"]},
                             geometry=[Point(534_000, 180_500), Point(536_000, 181_000)],
                             crs="EPSG:27700")
    fields = gpd.GeoDataFrame({"crop": ["wheat"]},
                              geometry=[Polygon([(531_000, 178_000), (531_500, 178_000),
                                                 (531_500, 178_400)])], crs="EPSG:27700")
    for layer, frame in (("road_link", roads), ("rail", rail), ("surfacewater", water),
                         ("local_buildings", buildings), ("names", names),
                         ("fields", fields)):
        frame.to_file(path, layer=layer, driver="GPKG")
    return path


#: (lon, lat) nodes of the OSM file, inside the demo area
_NODES = {
    1: (-0.100, 51.500), 2: (-0.020, 51.500),            # primary road, west-east
    3: (-0.060, 51.490), 4: (-0.060, 51.520),            # residential road
    5: (-0.090, 51.485), 6: (-0.010, 51.530),            # river
    7: (-0.080, 51.510), 8: (-0.050, 51.512),            # railway
    9: (-0.070, 51.505), 10: (-0.0698, 51.505),          # building corners
    11: (-0.0698, 51.5051), 12: (-0.070, 51.5051),
    13: (-0.065, 51.495), 14: (-0.064, 51.496),          # a footway (not drawn)
}


def write_osm(path: Path) -> Path:
    """An OpenStreetMap XML extract: a primary road, a residential road, a river, a
    railway, a footway (left out), a building, and a place (suburb "Eastholme") and a
    node without a name (left out)."""
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
        way(106, [9, 10, 11, 12, 9], {"building": "yes"}),
    ])
    places = ('  <node id="201" version="1" lat="51.51" lon="-0.03">'
              '<tag k="place" v="suburb"/><tag k="name" v="Eastholme"/></node>\n'
              '  <node id="202" version="1" lat="51.52" lon="-0.04">'
              '<tag k="place" v="hamlet"/></node>')
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<osm version="0.6" generator="mapper tests">\n'
                    f"{nodes}\n{places}\n{ways}\n</osm>\n", encoding="utf-8")
    return path
