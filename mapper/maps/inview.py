"""Ward layers loaded for the view: the size rule that decides when a map stops embedding
its wards, the zoom bands of simplified ward shapes, and the tile-like boxes the browser
asks for (``static/inview.js`` draws them).

A map of a borough or of London embeds its wards in the page (one request, and the page
works as a document). Above :data:`INVIEW_WARDS` wards or :data:`INVIEW_VERTICES`
vertices (England: 7,000 wards) the page embeds none: the browser asks for the wards of
the tiles covering its view at its zoom band, each ward simplified for that band (under
a pixel at the band's closest zoom) with its coordinates rounded to what the band can
show, and draws them on the map's canvas. The choropleth's classes are still computed on
the server over every ward shown (the view never changes the classification), and sent
as each ward's style number.

No Flask here: :mod:`mapper.web.wardtiles` answers the requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from mapper import geojson
from mapper.can_history import id_order
from mapper.geo import to_display
from mapper.maps.base import simplified

#: the size rule: a map of more wards than this, or of more vertices, loads its wards for
#: the view instead of embedding them (the app's ``INVIEW_WARDS``/``INVIEW_VERTICES``
#: settings change it; the tests lower it)
INVIEW_WARDS = 2_000
INVIEW_VERTICES = 400_000


#: on such a map, the borough outlines' simplification in metres (England's 300 districts
#: stay under a megabyte), and the decimal places of theirs and of the CANs' outlines (4:
#: about 10 m)
INVIEW_BOROUGH_M = 100.0
INVIEW_DECIMALS = 4


def load_in_view(wards: gpd.GeoDataFrame, *, max_wards: int = INVIEW_WARDS,
                 max_vertices: int = INVIEW_VERTICES) -> bool:
    """Whether a map of `wards` loads them for the view (True) or embeds them: the one
    size rule of the map pages."""
    if len(wards) > max_wards:
        return True
    vertices = int(shapely.get_num_coordinates(np.asarray(wards.geometry.values)).sum())
    return vertices > max_vertices


@dataclass(frozen=True)
class Band:
    """Zooms from `min_zoom` (to the next band's) draw shapes simplified by
    `tolerance_m` metres (under a pixel at the band's closest zoom), coordinates rounded to
    `decimals` places, asked for by tiles of zoom `tile_zoom` (a view covers 1-6 of them)."""

    min_zoom: int
    tile_zoom: int
    tolerance_m: float
    decimals: int


#: a pixel is about 96 km / 2**zoom at England's latitudes: 750 m at zoom 7, 375 m at 8,
#: 94 m at 10, 23 m at 12; 3 decimals of a degree are about 70-110 m, 4 about 7-11 m, 5
#: about 1 m. All England (zoom 6) is 4 tiles of the first band; a
#: view of another band covers 3-6 tiles, about twice its area.
BANDS: tuple[Band, ...] = (
    Band(0, 5, 700.0, 3),
    Band(8, 7, 300.0, 3),
    Band(9, 8, 80.0, 4),
    Band(11, 10, 20.0, 4),
    Band(13, 12, 5.0, 5),
)
TILE_ZOOMS = {band.tile_zoom: i for i, band in enumerate(BANDS)}


def band_of_tile_zoom(z: int) -> int | None:
    """The index in :data:`BANDS` of the band asked for by tiles of zoom `z` (None: no
    band's)."""
    return TILE_ZOOMS.get(z)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """West, south, east, north (WGS84 degrees) of the web-mercator tile z/x/y."""
    n = 2 ** z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def check_tile(z: int, x: int, y: int) -> str | None:
    """Why z/x/y cannot be asked for ('' or None when it can)."""
    if band_of_tile_zoom(z) is None:
        return (f"tile zoom {z} is not one the ward layer is cut at (choose one of "
                f"{', '.join(str(b.tile_zoom) for b in BANDS)})")
    if not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
        return f"tile {z}/{x}/{y} is outside the map (x and y from 0 to {2 ** z - 1})"
    return None


class BandShapes:
    """The wards of one band: each as GeoJSON geometry text (simplified together, so
    neighbours keep their shared edges, in lon/lat, rounded), and a spatial index of their
    shapes. Make every band's at once with :func:`all_bands` (cheaper: each coarser band
    is simplified from the finer one's shapes)."""

    def __init__(self, wards: gpd.GeoDataFrame | None, band: Band, *,
                 simplified_already: bool = False, shapes: np.ndarray | None = None):
        if shapes is None:
            assert wards is not None
            geometry = (wards.geometry if simplified_already
                        else simplified(wards.geometry, band.tolerance_m))
            shapes = geojson.rounded(to_display(geometry).values, band.decimals)
        self.band = band
        #: the shapes in lon/lat, rounded (rows as given)
        self.shapes = np.asarray(shapes, dtype=object)
        self.geometry = geojson.encode_geometries(self.shapes, decimals=None)
        self.tree = shapely.STRtree(self.shapes)
        self.vertices = int(shapely.get_num_coordinates(self.shapes).sum())

    def rows_in(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """Rows (sorted) of the wards whose shape meets `box` (west, south, east, north)."""
        return np.sort(self.tree.query(shapely.box(*box), predicate="intersects"))


def all_bands(wards: gpd.GeoDataFrame) -> list[BandShapes]:
    """:class:`BandShapes` of every band of :data:`BANDS`, finest first simplified from
    `wards`, each coarser one from the finer one's shapes (rows in `wards`' order)."""
    out: list[BandShapes] = []
    geometry = wards.geometry
    for band in sorted(BANDS, key=lambda b: b.tolerance_m):
        geometry = simplified(geometry, band.tolerance_m)
        out.append(BandShapes(gpd.GeoDataFrame(geometry=geometry, crs=wards.crs), band,
                              simplified_already=True))
    order = sorted(range(len(BANDS)), key=lambda i: BANDS[i].tolerance_m)
    return [out[order.index(i)] for i in range(len(BANDS))]


def outline_bands(ward_bands: list[BandShapes], groups: np.ndarray
                  ) -> tuple[list[str], list[BandShapes], list[list[float]]]:
    """The outlines of groups of wards (the CANs) in every band: the names of the groups
    (`groups`: each ward's, None for none; sorted as :func:`mapper.can_history.id_order`
    does), each band's outlines (the boundary of the union of the band's shapes of the
    group's wards, as lines: they follow the wards' edges exactly, and a canvas does not
    hit-test a line's inside), and a label point ``[lat, lon]`` inside each group
    (from the finest band)."""
    ids = np.asarray([None if g is None or (isinstance(g, float) and math.isnan(g))
                      or str(g) == "" else str(g) for g in groups], dtype=object)
    present = sorted({g for g in ids.tolist() if g is not None}, key=id_order)
    rows = {g: np.flatnonzero(ids == g) for g in present}
    out: list[BandShapes] = []
    finest = min(range(len(ward_bands)), key=lambda i: ward_bands[i].band.tolerance_m)
    labels: list[list[float]] = []
    for i, shapes in enumerate(ward_bands):
        unions = np.asarray([shapely.union_all(shapes.shapes[rows[g]]) for g in present],
                            dtype=object)
        if i == finest:
            spots = shapely.get_coordinates(shapely.point_on_surface(unions))
            labels = [[round(y, 5), round(x, 5)] for x, y in spots.tolist()]
        lines = geojson.rounded(shapely.boundary(unions), shapes.band.decimals)
        out.append(BandShapes(None, shapes.band, shapes=lines))
    return present, out, labels


def tile_features(shapes: BandShapes, properties: list[bytes | None], z: int, x: int,
                  y: int) -> list[bytes]:
    """The features of the wards meeting tile z/x/y: each ward's whole shape (not cut at
    the tile's edge; the browser draws a ward once however many tiles hold it), with its
    `properties` (wards with None are not on this map)."""
    rows = shapes.rows_in(tile_bounds(z, x, y))
    return [b'{"type":"Feature","geometry":' + shapes.geometry[r] + b',"properties":'
            + properties[r] + b"}" for r in rows.tolist() if properties[r] is not None]


def band_options() -> list[list[int]]:
    """``[[min_zoom, tile_zoom], ...]`` of :data:`BANDS`, for ``static/inview.js``."""
    return [[band.min_zoom, band.tile_zoom] for band in BANDS]
