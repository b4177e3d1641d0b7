"""The ward layer of the map pages, loaded for the view (:mod:`mapper.maps.inview`): the
size rule with the app's settings, each zoom band's shapes (made once per workspace
version, at warm-up), and the tile answers the pages' ``.../wards/<z>/<x>/<y>.json``
routes send.

Not a blueprint: the priority and overview blueprints use it.

A tile answer is a GeoJSON FeatureCollection of the wards whose shape meets the tile
(each whole, simplified for the tile's band) with the page's properties for them (the
tooltip's texts and the style number of the ward's class, classified over every ward of
the page, never over the view). It is gzipped, has an ETag naming the workspace version,
and is kept by browsers for a day when its URL names that version (``v``), so panning
back over a tile costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import pandas as pd
from flask import abort, current_app, request

from mapper import geojson
from mapper.maps import inview
from mapper.web import data
from mapper.web.responses import byte_response, gzip_joined, not_modified

#: the app settings changing the size rule (tests lower them to take the in-view path)
WARDS_SETTING, VERTICES_SETTING = "INVIEW_WARDS", "INVIEW_VERTICES"
#: tile answers kept per page kind (most recently used), besides the browsers' caches
TILES_KEPT = 512
#: the layer every ward tile's shapes come from
SHAPES_LAYER = "ward_summary"


def limits() -> tuple[int, int]:
    """The size rule's most wards and most vertices a page embeds (the app's
    ``INVIEW_WARDS`` and ``INVIEW_VERTICES``, else :mod:`mapper.maps.inview`'s)."""
    config = current_app.config
    return (int(config.get(WARDS_SETTING) or inview.INVIEW_WARDS),
            int(config.get(VERTICES_SETTING) or inview.INVIEW_VERTICES))


def in_view(wards: gpd.GeoDataFrame) -> bool:
    """Whether a map of `wards` loads them for the view (the size rule, with the app's
    limits)."""
    most_wards, most_vertices = limits()
    return inview.load_in_view(wards, max_wards=most_wards, max_vertices=most_vertices)


def band_shapes(band: int, layer: str = SHAPES_LAYER) -> inview.BandShapes:
    """The shapes of every ward of `layer` (``ward_summary``, or ``wards`` for a map
    of the boundaries alone) for band `band`, rows in the layer's order (every band's
    made at once, once per workspace version)."""
    bands = data.cached("wardtiles:shapes", lambda _w: inview.all_bands(data.layer(layer)),
                        variant=layer, keep=2)
    return bands[band]


def prepare(layer: str = SHAPES_LAYER) -> None:
    """Make every band's shapes of `layer` now (the warm-up), when a page would load its
    wards for the view."""
    wards = data.layer(layer, required=False)
    if wards is None or not in_view(wards):
        return
    band_shapes(0, layer)


def properties_by_row(shown: pd.DataFrame, table: pd.DataFrame,
                      layer: str = SHAPES_LAYER) -> list[bytes | None]:
    """Each row of `layer`'s properties (`table`, one row per ward of `shown`, in its
    order) as JSON, HTML-escaped as folium's tooltips need; None for wards the page does
    not show."""
    encoded = geojson.encode_properties(table, escape=True)
    by_code = dict(zip(shown["ward_code"].astype(str), encoded, strict=True))
    codes = data.layer(layer)["ward_code"].astype(str)
    return [by_code.get(code) for code in codes]


def tile_response(kind: str, z: int, x: int, y: int, variant: object,
                  properties: Callable[[], list[bytes | None]], layer: str = SHAPES_LAYER):
    """The answer for tile z/x/y of page `kind`, the page's view named by `variant`, its
    wards' properties from `properties()` (made once per variant and workspace version):
    404 for a tile the layer is not cut at."""
    problem = inview.check_tile(z, x, y)
    if problem:
        abort(404, description=problem)
    band = inview.band_of_tile_zoom(z)
    assert band is not None

    def props(_workspace):
        return properties()

    def body(_workspace):
        shown = data.cached(f"wardtiles:{kind}:properties", props, variant=variant)
        features = inview.tile_features(band_shapes(band, layer), shown, z, x, y)
        raw = geojson.collection(features)
        return raw, gzip_joined([raw])

    raw, gzipped = data.cached(f"wardtiles:{kind}:tiles", body,
                               variant=(variant, z, x, y), keep=TILES_KEPT)
    tag = data.version_tag()
    zipped = request.accept_encodings["gzip"] > 0
    etag = f"{tag}-gzip" if zipped else tag
    if not_modified(etag):
        response = current_app.response_class(status=304)
    else:
        response = byte_response(gzipped if zipped else raw, geojson.MEDIA_TYPE,
                                 gzipped=zipped)
    response.set_etag(etag)
    response.headers["Cache-Control"] = ("public, max-age=86400" if request.args.get("v") == tag
                                         else "no-cache")
    return response
