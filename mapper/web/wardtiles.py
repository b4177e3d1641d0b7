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


#: the outline layers drawn over the wards, loaded for the view like them: the borough
#: outlines (the ``boroughs`` layer, each band simplified from it) and the CAN outlines
#: (each band's the union of that band's ward shapes, so they follow the wards' edges)
OUTLINES = ("boroughs", "cans")


def outline_bands(kind: str) -> tuple[list[str], list[inview.BandShapes], list[list[float]]]:
    """The outlines of `kind` (one of :data:`OUTLINES`) in every band: each outline's
    code (``borough_code`` or ``can_id``), its shapes per band, and (CANs) a label point
    each; made once per workspace version."""
    def make(_workspace):
        if kind == "boroughs":
            boroughs = data.layer("boroughs")
            return (boroughs["borough_code"].astype(str).tolist(), inview.all_bands(boroughs),
                    [])
        wards = data.layer(SHAPES_LAYER)
        bands = [band_shapes(i) for i in range(len(inview.BANDS))]
        return inview.outline_bands(bands, wards["can_id"].to_numpy(dtype=object))

    if kind not in OUTLINES:
        abort(404, description=f"no outline layer {kind!r} (choose one of "
                               f"{', '.join(OUTLINES)})")
    return data.cached(f"wardtiles:outlines:{kind}", make, keep=2)


def prepare_outlines(kinds: tuple[str, ...] = OUTLINES, layer: str = SHAPES_LAYER) -> None:
    """Make the outlines of `kinds` in every band now (the warm-up), when the page of
    `layer`'s wards loads them for the view."""
    wards = data.layer(layer, required=False)
    if wards is None or not in_view(wards):
        return
    for kind in kinds:
        if kind == "boroughs" and data.layer("boroughs", required=False) is None:
            continue
        if kind == "cans" and "can_id" not in wards:
            continue
        outline_bands(kind)


def outline_properties(kind: str, shown: pd.DataFrame | None = None) -> list[bytes | None]:
    """Each outline of `kind`'s properties as JSON, in :func:`outline_bands`' order:
    a borough's ``borough_code`` and ``borough_name`` (HTML-escaped, as folium's layers
    insert them); a CAN's ``can_id``, ``name`` (from ``neighbourhoods``) and ``label_at``
    (text as it is: the CAN layer writes text nodes). With `shown` (the page's wards),
    only the CANs of its wards (None for the others)."""
    codes, _bands, labels = outline_bands(kind)
    if kind == "boroughs":
        boroughs = data.layer("boroughs")
        return list(geojson.encode_properties(
            boroughs[["borough_code", "borough_name"]].reset_index(drop=True), escape=True))
    names: dict[str, str] = {}
    cans = data.layer("neighbourhoods", required=False)
    if cans is not None and len(cans) and "name" in cans:
        names = dict(zip(cans["can_id"].astype(str), cans["name"].astype(str), strict=True))
    table = pd.DataFrame({"can_id": codes, "name": [names.get(c, "") for c in codes],
                          "label_at": labels})
    encoded = geojson.encode_properties(table)
    if shown is None:
        return list(encoded)
    wanted = set(shown["can_id"].dropna().astype(str))
    return [text if code in wanted else None for code, text in zip(codes, encoded, strict=True)]


def outline_response(page: str, kind: str, z: int, x: int, y: int, variant: object,
                     shown: Callable[[], pd.DataFrame | None]):
    """The answer for tile z/x/y of the outline layer `kind` on page `page` (as
    :func:`tile_response`); `shown()` gives the page's wards (CANs: only theirs)."""
    def shapes(band: int) -> inview.BandShapes:
        return outline_bands(kind)[1][band]

    return tile_response(f"{page}:{kind}", z, x, y, variant,
                         lambda: outline_properties(kind, shown()), shapes=shapes)


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
                  properties: Callable[[], list[bytes | None]], layer: str = SHAPES_LAYER,
                  shapes: Callable[[int], inview.BandShapes] | None = None):
    """The answer for tile z/x/y of page `kind`, the page's view named by `variant`, its
    wards' properties from `properties()` (made once per variant and workspace version):
    404 for a tile the layer is not cut at. `shapes(band)` gives the shapes (default: the
    wards of `layer`; an outline layer's, see :func:`outline_bands`), rows in the order
    of `properties()`."""
    problem = inview.check_tile(z, x, y)
    if problem:
        abort(404, description=problem)
    band = inview.band_of_tile_zoom(z)
    assert band is not None

    def props(_workspace):
        return properties()

    def body(_workspace):
        shown = data.cached(f"wardtiles:{kind}:properties", props, variant=variant)
        cut = shapes(band) if shapes is not None else band_shapes(band, layer)
        features = inview.tile_features(cut, shown, z, x, y)
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
