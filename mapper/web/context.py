"""``/context/<kind>.geojson?bbox=W,S,E,N&zoom=Z``: the context layers (roads, water,
rail, buildings, places; ``mapper import-context``) that a map's view shows at a zoom.

Only features drawn at that zoom (their ``min_zoom``, :data:`mapper.context_kinds.MIN_ZOOM`)
meeting the box (longitude/latitude), cut to it, simplified to about a pixel of the zoom,
at most :data:`MAX_FEATURES` of them (the most important first; ``truncated`` says when
more were left out), gzipped, with an ETag of the imported file, the kind, the zoom and
the box. 404 when no context is imported. ``static/context.js`` asks here.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import threading
from collections import OrderedDict

import shapely
from flask import Blueprint, Response, abort, request
from pyproj import Transformer

from mapper import geojson
from mapper.context_kinds import MIN_ZOOM
from mapper.geo import CRS_ANALYSIS, CRS_DISPLAY, to_display
from mapper.sources.context_layers import SIMPLIFY_DEFAULT_M as IMPORT_SIMPLIFY_M
from mapper.web import basemap
from mapper.web.auth import require_role
from mapper.web.responses import accepts_gzip, byte_response, not_modified

bp = Blueprint("context", __name__)

#: at most this many features in one answer
MAX_FEATURES = 12_000
#: the largest box asked for, degrees each way (a little more than a region)
MAX_SPAN_DEG = 4.0
#: simplification: this share of a pixel's width at the zoom asked
PIXEL_SHARE = 0.75
#: answers kept (gzipped), most recently used last
CACHE_ENTRIES = 256
#: how long a browser may keep an answer asked with the current version
MAX_AGE = 24 * 3600

_TO_GRID = Transformer.from_crs(CRS_DISPLAY, CRS_ANALYSIS, always_xy=True)
_cache: OrderedDict[tuple, tuple[bytes, bytes]] = OrderedDict()
_lock = threading.Lock()


def metres_per_pixel(zoom: int, latitude: float) -> float:
    """The ground width of a web-map pixel at `zoom` and `latitude`."""
    return 156_543.034 * math.cos(math.radians(latitude)) / 2 ** zoom


def _arguments(kind: str) -> tuple[tuple[float, float, float, float], int]:
    if kind not in MIN_ZOOM:
        abort(404, description=f"No context kind {kind!r} (kinds: {', '.join(MIN_ZOOM)}).")
    try:
        west, south, east, north = (float(v) for v in request.args.get("bbox", "").split(","))
    except ValueError:
        abort(400, description="bbox must be four numbers: west,south,east,north "
              f"(longitude/latitude); got {request.args.get('bbox', '')!r}")
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        abort(400, description=f"bbox {west},{south},{east},{north} is not a box of "
              "longitude/latitude with west < east and south < north")
    if east - west > MAX_SPAN_DEG or north - south > MAX_SPAN_DEG:
        abort(400, description=f"bbox is wider than {MAX_SPAN_DEG} degrees: ask for a view")
    try:
        zoom = int(request.args.get("zoom", ""))
    except ValueError:
        abort(400, description="zoom must be a whole number (0-22); got "
              f"{request.args.get('zoom', '')!r}")
    if not 0 <= zoom <= 22:
        abort(400, description=f"zoom must be 0-22; got {zoom}")
    return (west, south, east, north), zoom


def answer(kind: str, box: tuple[float, float, float, float], zoom: int) -> bytes:
    """The FeatureCollection (bytes) of `kind` in `box` (lon/lat) at `zoom`."""
    store, overlay = basemap.context_store(), basemap.context_overlay()
    members: dict = {"kind": kind, "zoom": zoom}
    if overlay is not None:
        members["attribution"] = " | ".join(overlay.attribution)
    if zoom < min(MIN_ZOOM[kind].values()) or overlay is None or kind not in overlay.kinds:
        return geojson.collection([], members)
    grid = _TO_GRID.transform_bounds(*box)
    frame = store.read(kind, grid, zoom)
    if len(frame) > MAX_FEATURES:
        members["truncated"] = True
        members["numberMatched"] = len(frame)
        frame = frame.iloc[:MAX_FEATURES]
    if kind != "places" and len(frame):
        tolerance = metres_per_pixel(zoom, (box[1] + box[3]) / 2) * PIXEL_SHARE
        pad = tolerance * 4
        shapes = shapely.clip_by_rect(frame.geometry.values, grid[0] - pad, grid[1] - pad,
                                      grid[2] + pad, grid[3] + pad)
        if tolerance > IMPORT_SIMPLIFY_M:
            # Douglas-Peucker: several times quicker than keeping topology, and a shape
            # that collapses is under a pixel anyway
            shapes = shapely.simplify(shapes, tolerance, preserve_topology=False)
        frame = frame.set_geometry(shapes, crs=CRS_ANALYSIS)
        frame = frame[~(frame.geometry.is_empty | frame.geometry.isna())]
    shown = to_display(frame)
    decimals = 5 if zoom >= 14 else 4
    features = geojson.encode_features(shown, columns=["class", "name"], decimals=decimals,
                                       placeholders=True)
    return geojson.collection(features, members)


@bp.get("/context/<kind>.geojson")
@require_role("public")
def features(kind: str):
    """The context features of one kind for a view (see the module's docstring)."""
    overlay = basemap.context_overlay()
    if overlay is None:
        abort(404, description="No context layers are imported (mapper import-context).")
    box, zoom = _arguments(kind)
    key = (overlay.version, kind, zoom, box)
    etag = hashlib.sha256(repr(key).encode()).hexdigest()[:24]
    gzipped = accepts_gzip()
    tag = f"{etag}-gzip" if gzipped else etag
    if not_modified(tag):
        response = Response(status=304)
    else:
        with _lock:
            entry = _cache.get(key)
            if entry is not None:
                _cache.move_to_end(key)
        if entry is None:
            plain = answer(kind, box, zoom)
            entry = (plain, gzip.compress(plain, 6, mtime=0))
            with _lock:
                _cache[key] = entry
                while len(_cache) > CACHE_ENTRIES:
                    _cache.popitem(last=False)
        response = byte_response(entry[1] if gzipped else entry[0], geojson.MEDIA_TYPE,
                                 gzipped=gzipped)
    response.set_etag(tag)
    response.headers["Cache-Control"] = (f"public, max-age={MAX_AGE}"
                                         if request.args.get("v") == overlay.version
                                         else "no-cache")
    return response
